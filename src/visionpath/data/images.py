"""The one image-decoding function. Training, evaluation and prediction all read pictures through `load_image`,
so a given file becomes the same tensor on every path.

Pillow decodes: it reads every format we accept (torchvision.io has no BMP or TIFF decoder), it applies EXIF
orientation, and its JPEG draft mode decodes a large photo directly at a reduced scale, which is much faster
when the picture is going to be shrunk anyway. `load_images`, the form for many files, hands JPEGs that are
already at the wanted size (CIFAR-like folders) to torchvision's batched `decode_jpeg` instead: the same
libjpeg-turbo gives the same pixels (tested), and a batch costs 0.03 ms a picture against Pillow's 0.28 ms,
which is what predicting small pictures was bound by.

A file's bytes already in memory (a picture uploaded to `visionpath serve`) come as `InMemory` and take exactly
the same path as the file on disk would, so a web answer equals `predict`'s for the same file.
"""
from __future__ import annotations

import functools
import io
import os
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_jpeg

from ..errors import VisionpathError
from ..extras import missing
from ..i18n import tr

HEIF_EXTENSIONS = frozenset({".heic", ".heif"})  # an iPhone's photos: read through pillow-heif (the heif extra)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".avif",
                              *HEIF_EXTENSIONS})
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


@dataclass(frozen=True)
class InMemory:
    """A picture file's bytes, already read (an upload), named for the sentences that speak of it."""
    name: str
    data: bytes

    def __str__(self) -> str:
        return self.name


Source = Path | InMemory


def _opened(source: Source):
    return io.BytesIO(source.data) if isinstance(source, InMemory) else source


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _to_8bit(img: Image.Image) -> Image.Image:
    """Bring any Pillow mode to L, LA, RGB or RGBA, keeping the look of the picture."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        return Image.fromarray(np.clip(array * (255.0 / _white(img.mode, array)) + 0.5, 0, 255).astype(np.uint8),
                               "L")
    if img.mode == "1":
        return img.convert("L")
    if img.mode == "P":  # palette: may carry transparency
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("L", "LA", "RGB", "RGBA"):
        return img
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV...


def _white(mode: str, array: np.ndarray) -> float:
    """The value that is white in a grey picture of 16-bit, 32-bit integer or floating-point pixels: its format's
    full scale (a 16-bit file is scaled by 65,535 even when dark), else the smallest usual scale that holds its
    brightest pixel: 1 (floats of 0-1, as image libraries write them), 255, 65,535, or 2³¹ - 1."""
    if mode.startswith("I;16"):
        return 65535.0
    brightest = float(array.max(initial=0.0))
    scales = ((1.0,) if mode == "F" else ()) + (255.0, 65535.0, 2.0 ** 31 - 1)
    return next((s for s in scales if brightest <= s), brightest)


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite transparent pictures on white, as a viewer shows them (black would be the raw pixel values)."""
    if img.mode not in ("LA", "RGBA"):
        return img
    # through RGBA: Pillow composites LA pictures only from version 12; grey stays grey (equal channels -> L exactly)
    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, img.convert("RGBA")).convert(img.mode[:-1])


class TooLarge(VisionpathError):
    """A picture whose header claims more pixels than Pillow decodes safely (a decompression bomb, or a huge scan):
    a server answers it as too large (413), not as unreadable."""


class NeedsExtra(VisionpathError):
    """A picture visionpath could read with an optional package that is not installed: said once, as the run's
    error, rather than as one more unreadable file."""


@functools.cache
def _heif_plugin() -> bool:
    """Teach Pillow HEIC/HEIF through pillow-heif, the first time such a file is opened (registering a plugin
    changes Pillow for the whole process: done only when the data asks for it). Whether it is installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()  # it applies the rotation the file stores, and sets its EXIF orientation to 1
    return True


@contextmanager
def _readable(path: Source) -> Iterator[None]:
    """Turn Pillow's many ways of failing on a file into one sentence that names it."""
    if Path(str(path)).suffix.lower() in HEIF_EXTENSIONS and not _heif_plugin():
        raise NeedsExtra(missing(tr("{path} is a HEIC/HEIF photo (an iPhone's); reading it", path=path),
                                 "pillow-heif", "heif"))
    try:
        yield
    except Image.DecompressionBombError:
        raise TooLarge(tr("{path} is too large to decode safely (more than {MAX_IMAGE_PIXELS:,} pixels); "
                                 "shrink it or remove it.",
                                 path=path, MAX_IMAGE_PIXELS=Image.MAX_IMAGE_PIXELS)) from None
    except FileNotFoundError:
        raise VisionpathError(tr("{path} does not exist.", path=path)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise VisionpathError(tr("{path} is not a readable image ({e}); remove or replace it.", path=path,
                                 e=e)) from None


def open_whole(path: str | Source, side: int) -> Image.Image:
    """The whole picture, decoded fully (truncated files fail here) as load_image decodes it, as a Pillow RGB or
    grey picture at least 2 × `side` on its shorter side where it is that large (a JPEG decodes at that size)."""
    path = path if isinstance(path, InMemory) else Path(path)
    with _readable(path), Image.open(_opened(path)) as img:
        if img.format == "JPEG":
            img.draft("RGB", (side * 2, side * 2))
        img.seek(0)
        img.load()
        img = ImageOps.exif_transpose(img)
        return _flatten_alpha(_to_8bit(img))


def load_image(path: str | Source, size: tuple[int, int] | None = None, channels: int | None = None) -> torch.Tensor:
    """Decode one picture to a uint8 tensor of shape (channels, height, width).

    EXIF orientation is applied; grey, palette, RGBA (on white), CMYK and 16-bit pictures are converted;
    a multi-frame GIF or TIFF gives its first frame. `channels` is 1 (grey) or 3 (RGB), or None to keep the
    picture's own (1 if grey, else 3). With `size` = (height, width), the picture is cropped to that aspect
    ratio around its centre and resized, so nothing is stretched.
    """
    path = path if isinstance(path, InMemory) else Path(path)
    with _readable(path), Image.open(_opened(path)) as img:
        if size is not None and img.format == "JPEG":
            img.draft("RGB" if channels != 1 else "L", (size[1] * 2, size[0] * 2))  # decode at ≥ 2× the target
        img.seek(0)
        img.load()
        img = ImageOps.exif_transpose(img)
        img = _flatten_alpha(_to_8bit(img))
    wanted = channels or (1 if img.mode == "L" else 3)
    img = img.convert("L" if wanted == 1 else "RGB")
    if size is not None and (img.height, img.width) != tuple(size):
        img = ImageOps.fit(img, (size[1], size[0]), method=Image.Resampling.BILINEAR)
    array = np.asarray(img, dtype=np.uint8)
    tensor = torch.from_numpy(array.copy())
    return tensor.unsqueeze(0) if wanted == 1 else tensor.permute(2, 0, 1).contiguous()


def peek_image(path: Source) -> tuple[tuple[int, int], bool]:
    """((height, width), is_grey) from the file header alone, without decoding the pixels (EXIF rotation applied)."""
    with _readable(path), Image.open(_opened(path)) as img:
        width, height = img.size
        orientation = img.getexif().get(0x0112, 1)
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return (height, width), img.mode in GREY_MODES


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): the segment giving size and components
_START_OF_FRAME = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """(height, width, components) from a JPEG's start-of-frame segment, or None if `data` is not a JPEG we can
    read that far. Needed before decoding, so that only pictures as small as the target reach torchvision
    (Pillow's decompression-bomb check never sees them)."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 10 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _START_OF_FRAME:
            return int.from_bytes(data[i + 5: i + 7], "big"), int.from_bytes(data[i + 7: i + 9], "big"), data[i + 9]
        i += 2 + int.from_bytes(data[i + 2: i + 4], "big")
    return None


HEADER_BYTES = 1 << 16  # where a JPEG's start-of-frame is, past EXIF and colour profiles; beyond: Pillow's path


def _small_jpeg(source: Source, size: tuple[int, int], channels: int | None) -> torch.Tensor | None:
    """The whole file as a uint8 tensor if it is a JPEG already at the wanted size and channel count, else None.
    Only a header's worth of any other file is read."""
    def fits(head: bytes) -> bool:
        frame = _jpeg_frame(head)
        return bool(frame) and frame[:2] == tuple(size) and frame[2] == (channels or frame[2]) and frame[2] in (1, 3)
    if isinstance(source, InMemory):
        return torch.frombuffer(bytearray(source.data), dtype=torch.uint8) if fits(source.data[:HEADER_BYTES]) \
            else None
    fd = os.open(source, os.O_RDONLY)  # os.open/os.read: half the cost of open() for a 1 KB CIFAR picture
    try:
        data = os.read(fd, HEADER_BYTES)
        if not fits(data):
            return None
        whole = bytearray(data)
        if len(data) == HEADER_BYTES:  # a short read of a regular file is its end; else read on
            while more := os.read(fd, 1 << 20):
                whole += more
        return torch.frombuffer(whole, dtype=torch.uint8)
    finally:
        os.close(fd)


def _decode_small_jpegs(paths: list[Source], size: tuple[int, int], channels: int | None
                        ) -> tuple[list[torch.Tensor | str | None], list[int]]:
    """(results with the JPEGs already at the wanted size and channel count decoded, in one batched torchvision
    call; the positions of the rest). Only a header's worth of the other files is read."""
    results: list[torch.Tensor | str | None] = [None] * len(paths)
    fast, blobs = [], []
    for i, path in enumerate(paths):
        try:
            blob = _small_jpeg(path, size, channels)
        except OSError:
            continue  # load_image says why
        if blob is not None:
            fast.append(i)
            blobs.append(blob)

    def decode(batch: list[torch.Tensor]) -> list[torch.Tensor]:
        return decode_jpeg(batch, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=True)
    try:
        decoded = decode(blobs) if blobs else []
    except RuntimeError:  # one bad file fails the whole call: decode one by one, and the bad ones go to Pillow
        decoded = []
        for blob in blobs:
            try:
                decoded += decode([blob])
            except RuntimeError:
                decoded.append(None)
    for i, image in zip(fast, decoded):
        if image is not None and image.shape[1:] == tuple(size):
            results[i] = image
    return results, [i for i, image in enumerate(results) if image is None]


def _load_or_why(path: Source, size: tuple[int, int], channels: int | None) -> torch.Tensor | str:
    try:
        return load_image(path, size, channels)
    except NeedsExtra:
        raise
    except VisionpathError as e:
        return str(e)


def load_images(paths: list[Source], size: tuple[int, int], channels: int | None = None, pool: Executor | None = None,
                progress: Callable[[int], None] | None = None) -> list[torch.Tensor | str]:
    """`load_image` for many files at once: for each path the tensor, or the sentence saying why it is unreadable.

    JPEGs with the wanted size and channel count are decoded in one batched torchvision call, in this thread; the
    others (or anything torchvision refuses: truncated, CMYK, rotated off the wanted shape) go through `load_image`,
    in `pool`'s threads when given (Pillow lets go of the GIL while it decodes). `progress(n)` hears of n more done.
    It returns when all are done: predict decodes a batch and then classifies it, rather than decoding the next one
    beside the model, because on a CPU the two measured within a few points of each other, either one ahead from
    run to run (benchmarks/results/predict_throughput.md), and this one is simpler."""
    results, rest = _decode_small_jpegs(paths, size, channels)
    if progress is not None:
        progress(len(paths) - len(rest))
    work = (lambda i: _load_or_why(paths[i], size, channels))
    for i, image in zip(rest, pool.map(work, rest) if pool is not None else map(work, rest)):
        results[i] = image
        if progress is not None:
            progress(1)
    return results
