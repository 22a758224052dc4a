"""The built-in datasets: where each comes from, how to check it, and how to read it.

Each is found in this order: the folder given with `data_dir` (or $VISIONPATH_DATA_DIR), the cache
($VISIONPATH_HOME/datasets/<name>), a system copy (Debian's dataset packages), and only then the internet.
A local copy is accepted when its bytes match the published file's checksum, or, for gzip files, when its
uncompressed content matches (copies recompressed by a packager differ in their .gz bytes only).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import io
import pickle
import struct
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..console import say
from ..errors import VisionpathError
from ..files import replacing
from ..i18n import tr
from .download import DownloadError, cache_home, download, md5sum


@dataclass(frozen=True)
class SourceFile:
    name: str                        # as published, e.g. "train-images-idx3-ubyte.gz"
    md5: str                         # of the published file
    content_md5: str | None = None   # of its uncompressed content


# A loader turns the verified files (by published name) into uint8 arrays:
# (train images N×H×W×C, train labels N, test images, test labels, class names).
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    description: str
    mirrors: tuple[str, ...]          # base URLs, tried in order
    files: tuple[SourceFile, ...]
    read: Callable[[dict[str, Path]], Arrays]
    mean: tuple[float, ...]           # per channel, of the images scaled to 0-1 (training set)
    std: tuple[float, ...]
    system_dirs: tuple[str, ...] = ()
    mirror_safe: bool = True          # False where a left-right flip changes the class (digits: a mirrored 3 is no 3)
    # A local-only alternative: a zip of JPEG class folders (train/<class>/*.jpg, test/<class>/*.jpg) that has
    # no published checksum; it is checked by its layout instead, decoded once and cached as uint8 arrays.
    jpeg_zip: str | None = None
    classes: tuple[str, ...] = ()       # canonical order (label indices), where the jpeg zip needs it
    split_sizes: tuple[int, int] = (0, 0)  # train, test


# ---------------------------------------------------------------------------------------------------- parsers

def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or raw: magic, dimensions, then unsigned bytes."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise VisionpathError(tr("{path} is not an IDX file of unsigned bytes (bad magic number).", path=path))
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4: 4 + 4 * ndim])
    data = np.frombuffer(bytearray(raw), np.uint8, offset=4 + 4 * ndim)  # bytearray: writable, as torch wants
    if data.size != int(np.prod(shape)):
        raise VisionpathError(tr("{path} is truncated: the header promises {shape} values, the file has {size}.",
                                 path=path, shape=shape, size=data.size))
    return data.reshape(shape)


def _read_mnist_style(classes: list[str]) -> Callable[[dict[str, Path]], Arrays]:
    def read(files: dict[str, Path]) -> Arrays:
        xtr, ytr = read_idx(files["train-images-idx3-ubyte.gz"]), read_idx(files["train-labels-idx1-ubyte.gz"])
        xte, yte = read_idx(files["t10k-images-idx3-ubyte.gz"]), read_idx(files["t10k-labels-idx1-ubyte.gz"])
        return xtr[..., None], ytr, xte[..., None], yte, classes
    return read


def read_cifar_archive(path: Path, train_members: list[str], test_member: str, label_key: bytes,
                       names_member: str, names_key: bytes) -> Arrays:
    """Read CIFAR's "python version": a tar.gz (or its extracted folder) of pickled dicts of 3072-byte rows."""
    path = Path(path)

    def load(member: str) -> dict:
        if path.is_dir():
            blob = (path / member).read_bytes()
        else:
            with tarfile.open(path) as tar:
                # Members sit in a top folder (cifar-10-batches-py/); match them by their own name.
                found = [m for m in tar.getmembers() if m.isfile() and Path(m.name).name == member]
                if not found:
                    raise VisionpathError(tr("{path} has no member named {member}: is it the CIFAR python archive?",
                                             path=path, member=member))
                blob = tar.extractfile(found[0]).read()
        return pickle.loads(blob, encoding="bytes")  # safe here: the archive's checksum was verified first

    def images(batch: dict) -> np.ndarray:
        return np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)

    train = [load(m) for m in train_members]
    test = load(test_member)
    names = [n.decode() for n in load(names_member)[names_key]]
    xtr = np.concatenate([images(b) for b in train])
    ytr = np.concatenate([np.asarray(b[label_key], np.uint8) for b in train])
    return xtr, ytr, images(test), np.asarray(test[label_key], np.uint8), names


MAX_MEMBER_BYTES = 1 << 20  # the largest picture a CIFAR JPEG zip may hold (they are 1-3 KB)


def read_jpeg_zip(path: Path, classes: list[str], counts: tuple[int, int]) -> Arrays:
    """Read a zip of train/<class>/*.jpg and test/<class>/*.jpg into uint8 arrays, labels in `classes` order.

    The layout is the checksum: exactly `classes` in both splits and `counts` images per split, all the same size.
    """
    from PIL import Image

    def decode(member: tuple[str, bytes]) -> np.ndarray:
        name, blob = member
        try:
            with Image.open(io.BytesIO(blob)) as image:
                return np.asarray(image.convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise VisionpathError(tr("{path}: {name} is not a readable picture ({e}); the zip is damaged or not the "
                                     "CIFAR JPEG zip. Replace it.",
                                     path=path, name=name, e=e)) from None

    out = {}
    with zipfile.ZipFile(path) as archive:
        members = sorted(n for n in archive.namelist() if not n.endswith("/") and n.count("/") == 2
                         and not any(part.startswith((".", "__MACOSX")) for part in n.split("/")))
        for split, expected in zip(("train", "test"), counts):
            names = [n for n in members if n.startswith(split + "/")]
            found = sorted({n.split("/")[1] for n in names})
            if found != sorted(classes) or len(names) != expected:
                raise VisionpathError(
                    tr("{path} does not hold the expected {split} split ({expected:,} images in the classes "
                       "{classes}; found {n_names:,} in {value}).",
                       path=path, split=split, expected=expected, classes=', '.join(classes), n_names=len(names),
                       value=', '.join(found) or tr('no classes')))
            oversized = [n for n in names if archive.getinfo(n).file_size > MAX_MEMBER_BYTES]
            if oversized:  # a CIFAR picture is a few kilobytes: never unpack what could fill the memory
                raise VisionpathError(tr("{path}: {oversized} unpacks to {file_size:,} bytes, far more than a "
                                         "{expected:,}-picture dataset's pictures; the zip is not the CIFAR JPEG "
                                         "zip. Replace it.",
                                         path=path, oversized=oversized[0],
                                         file_size=archive.getinfo(oversized[0]).file_size, expected=expected))
            blobs = [(n, archive.read(n)) for n in names]
            with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
                images = list(pool.map(decode, blobs, chunksize=512))
            if len({im.shape for im in images}) != 1:
                raise VisionpathError(tr("{path}: the {split} images are not all the same size.",
                                         path=path, split=split))
            labels = np.array([classes.index(n.split("/")[1]) for n in names], np.uint8)
            out[split] = (np.stack(images), labels)
    return out["train"][0], out["train"][1], out["test"][0], out["test"][1], list(classes)


def _read_cifar10(files: dict[str, Path]) -> Arrays:
    return read_cifar_archive(files["cifar-10-python.tar.gz"], [f"data_batch_{i}" for i in range(1, 6)],
                              "test_batch", b"labels", "batches.meta", b"label_names")


def _read_cifar100(files: dict[str, Path]) -> Arrays:
    return read_cifar_archive(files["cifar-100-python.tar.gz"], ["train"], "test", b"fine_labels",
                              "meta", b"fine_label_names")


# ---------------------------------------------------------------------------------------------------- registry

DIGITS = [str(d) for d in range(10)]
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

DATASETS: dict[str, BuiltinDataset] = {d.name: d for d in [
    BuiltinDataset(
        "mnist", "handwritten digits, 28×28 grey, 60,000 train + 10,000 test, 10 classes",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        (SourceFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
         SourceFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
         SourceFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
         SourceFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637")),
        _read_mnist_style(DIGITS), mean=(0.1307,), std=(0.3081,), mirror_safe=False),
    BuiltinDataset(
        "fashion-mnist", "clothing (Zalando), 28×28 grey, 60,000 train + 10,000 test, 10 classes",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        (SourceFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
         SourceFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
         SourceFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
         SourceFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965")),
        _read_mnist_style(FASHION), mean=(0.2860,), std=(0.3530,),
        system_dirs=("/usr/share/datasets/fashion-mnist",)),
    BuiltinDataset(
        "cifar10", "small colour photos, 32×32, 50,000 train + 10,000 test, 10 classes",
        ("https://www.cs.toronto.edu/~kriz/",),
        (SourceFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        _read_cifar10, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616), jpeg_zip="cifar10-jpg.zip",
        classes=CIFAR10_CLASSES, split_sizes=(50_000, 10_000)),
    BuiltinDataset(
        "cifar100", "small colour photos, 32×32, 50,000 train + 10,000 test, 100 classes",
        ("https://www.cs.toronto.edu/~kriz/",),
        (SourceFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
        _read_cifar100, mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762)),
]}


def dataset_cache_dir(name: str) -> Path:
    return cache_home() / "datasets" / name


def _content_md5(path: Path) -> str:
    digest = hashlib.md5()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verifies(path: Path, spec: SourceFile) -> bool:
    if md5sum(path) == spec.md5:
        return True
    if spec.content_md5 is None:
        return False
    try:
        return (_content_md5(path) if path.suffix == ".gz" else md5sum(path)) == spec.content_md5
    except (OSError, EOFError):  # a truncated or non-gzip file
        return False


def search_dirs(dataset: BuiltinDataset, data_dir: str | Path | None) -> list[Path]:
    """The folders searched for local copies, in order."""
    roots = [Path(d).expanduser() for d in (data_dir, os.environ.get("VISIONPATH_DATA_DIR")) if d]
    found = []
    for root in roots:
        found += [root / dataset.name, root / dataset.name.replace("-", "_"), root]
    return found + [dataset_cache_dir(dataset.name)] + [Path(d) for d in dataset.system_dirs]


def locate_files(dataset: BuiltinDataset, data_dir: str | Path | None = None) -> dict[str, Path]:
    """Find or download every file of `dataset`; each is verified before use."""
    dirs = search_dirs(dataset, data_dir)
    located, rejected = {}, []
    for spec in dataset.files:
        names = [spec.name] + ([spec.name[:-3]] if spec.name.endswith(".gz") else [])  # raw IDX accepted too
        for candidate in (d / n for d in dirs for n in names):
            if candidate.is_file():
                if _verifies(candidate, spec):
                    located[spec.name] = candidate
                    break
                rejected.append(str(candidate))
    missing = [s for s in dataset.files if s.name not in located]
    if not missing:
        return located
    cache = dataset_cache_dir(dataset.name)
    try:
        for spec in missing:
            located[spec.name] = download([m + spec.name for m in dataset.mirrors], cache / spec.name, spec.md5)
    except DownloadError as e:
        bad = f" These local files did not match their checksums: {', '.join(rejected)}." if rejected else ""
        raise VisionpathError(
            tr("{name} is not on this machine and could not be downloaded ({e}). Put {missing} in {cache} or in a "
               "folder you pass with --data-dir (or $VISIONPATH_DATA_DIR).{bad}",
               name=dataset.name, e=e, missing=', '.join(s.name for s in missing), cache=cache, bad=bad)) from None
    return located


def load_builtin(name: str, data_dir: str | Path | None = None) -> Arrays:
    if name not in DATASETS:
        raise VisionpathError(tr("unknown dataset '{name}'. Built in: {DATASETS}; or give the path of a folder of "
                                 "class subfolders.",
                                 name=name, DATASETS=', '.join(DATASETS)))
    dataset = DATASETS[name]
    if dataset.jpeg_zip and not _has_local_files(dataset, data_dir):
        for folder in search_dirs(dataset, data_dir):
            if (folder / dataset.jpeg_zip).is_file():
                return _cached_jpeg_zip(dataset, folder / dataset.jpeg_zip)
    return dataset.read(locate_files(dataset, data_dir))


def _has_local_files(dataset: BuiltinDataset, data_dir: str | Path | None) -> bool:
    return all(any((d / s.name).is_file() for d in search_dirs(dataset, data_dir)) for s in dataset.files)



def _cached_jpeg_zip(dataset: BuiltinDataset, path: Path) -> Arrays:
    """Decode the JPEG zip once; later runs read the arrays from the cache (keyed by the zip's size and mtime)."""
    stat = path.stat()
    cache = dataset_cache_dir(dataset.name) / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as saved:
                return saved["xtr"], saved["ytr"], saved["xte"], saved["yte"], list(saved["classes"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a damaged cache is rebuilt below
    say(tr("decoding {path} once (cached in {parent})", path=path, parent=cache.parent))
    xtr, ytr, xte, yte, classes = read_jpeg_zip(path, list(dataset.classes), dataset.split_sizes)
    cache.parent.mkdir(parents=True, exist_ok=True)
    try:  # under this process's own temporary name: two runs decoding at once never write one file
        with replacing(cache) as f:
            np.savez(f, xtr=xtr, ytr=ytr, xte=xte, yte=yte, classes=np.array(classes))
    except OSError as e:  # the arrays are in memory: only the next run has to decode again
        say(tr("warning: could not cache the decoded pictures in {parent} ({strerror}); they will be decoded again "
               "next time",
               parent=cache.parent, strerror=e.strerror))
    return xtr, ytr, xte, yte, classes
