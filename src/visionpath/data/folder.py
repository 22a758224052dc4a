"""The folder loader: a folder of pictures (its layout: layout.py) read into uint8 tensors, each picture's header
read first to choose one size, then decoded once into the picture cache and mapped from it afterwards; and a quick
survey of a folder's pictures, for the photo defaults."""
from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..console import progress_bar, say
from ..errors import VisionpathError
from ..i18n import tr
from .cache import (Found, ImageStore, SegmentWriter, cache_write_failed, file_key, image_key, read_file_cache,
                    write_file_cache)
from .images import NeedsExtra, load_images, peek_image
from .layout import scan_folder, scan_labels
from .sets import FolderLoad, ImageSet, check_validation_split, stratified_split

STREAM_BYTES = 256 << 20  # pixels decoded between two appends to the picture cache: a first pass's memory
DEFAULT_FOLDER_SIZE = 64  # side used when a folder's pictures differ in size and no --image-size is given


def read_headers(paths: list[Path]) -> tuple[dict[Path, tuple[tuple[int, int], bool]], list[tuple[str, str]]]:
    """({path: ((height, width), is_grey)}, [(path, why unreadable)]) from the file headers, not the pixels (and
    from the header cache for files unchanged since they were last read)."""
    def peek(path: Path):
        try:
            return peek_image(path)
        except NeedsExtra:  # the run's error, not one more unreadable file
            raise
        except VisionpathError as e:
            return str(e)
    known = read_file_cache("headers")
    keys = {path: file_key(path) for path in paths}
    headers = {}
    for path in paths:
        cached = known.get(keys[path])
        if isinstance(cached, list) and len(cached) == 3:
            height, width, grey = cached
            headers[path] = ((height, width), grey)
    todo = [path for path in paths if path not in headers]
    unreadable, learnt = [], {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for path, header in zip(todo, pool.map(peek, todo)):
            if isinstance(header, str):
                unreadable.append((str(path), header))
            else:
                headers[path] = header
                (height, width), grey = header
                learnt[keys[path]] = [height, width, grey]
    write_file_cache("headers", learnt)
    return headers, unreadable


def choose_size(headers: list[tuple[tuple[int, int], bool]], image_size: int | None, enlarge: bool = True
                ) -> tuple[tuple[int, int], int, str]:
    """((height, width), channels, why) for a folder, from its pictures' headers. enlarge False: pictures all of one
    size smaller than image_size are kept at their size (the model enlarges them as it reads them)."""
    sizes = Counter(size for size, _ in headers)
    channels = 1 if headers and all(grey for _, grey in headers) else 3
    if image_size and not enlarge and len(sizes) == 1 and max(next(iter(sizes))) <= image_size:
        (size,) = sizes
        return size, channels, (tr("all pictures are {size}×{size2}: kept at that size, and the model enlarges them "
                                   "to {image_size}×{image_size} as it reads them (no memory spent on enlarged "
                                   "copies)",
                                   size=size[0], size2=size[1], image_size=image_size))
    if image_size:
        return (image_size, image_size), channels, tr("resizing to {image_size}×{image_size}", image_size=image_size)
    if len(sizes) == 1:
        (size,) = sizes
        return size, channels, tr("all pictures are {size}×{size2}", size=size[0], size2=size[1])
    side = DEFAULT_FOLDER_SIZE
    return (side, side), channels, (tr("pictures differ in size ({n_sizes} sizes); cropping to square and resizing "
                                       "to {side}×{side} (change with --image-size)",
                                       n_sizes=len(sizes), side=side))


@dataclass
class Decoded:
    images: torch.Tensor               # uint8 N×C×H×W of the pictures that decoded
    kept: list[int]                    # their positions in the list of paths given
    unreadable: list[tuple[str, str]]  # (path, why) of the others
    from_cache: int                    # how many came from the on-disk cache


def decode_all(paths: list[Path], size: tuple[int, int], channels: int, description: str,
               store: ImageStore | None = None) -> Decoded:
    """Decode many pictures into one uint8 tensor N×C×H×W. Unreadable files are skipped and returned, never fatal.

    With a store the pictures stream through the on-disk cache: a chunk at a time (STREAM_BYTES of pixels) they are
    decoded in threads (or copied from rows cached before), appended to a new segment, and let go; the tensor
    returned is that segment memory-mapped. So memory holds one chunk however large the folder is: pages of the
    map are read from disk as batches use them, and the system drops them again when memory is short. Pictures
    already stored one after another in this order (the same folder, cached before) are mapped straight away.
    Without a store, or if it cannot be written, the pictures are kept in memory instead."""
    keys = [image_key(p, size, channels) for p in paths] if store else []
    found = store.find(keys) if store else Found([None] * len(paths))
    if store and paths and store.consecutive(found):
        name, first = found.located[0]
        return Decoded(torch.from_numpy(found.maps[name][first: first + len(paths)]), list(range(len(paths))), [],
                       len(paths))
    writer = _segment_writer(store) if store else None
    chunk_size = max(1, STREAM_BYTES // (channels * size[0] * size[1]))
    kept: list[int] = []
    unreadable: list[tuple[str, str]] = []
    held: list[np.ndarray] = []  # pictures kept in memory: when there is no store to stream through

    misses = sum(spot is None for spot in found.located)
    with ThreadPoolExecutor(max_workers=4) as pool, progress_bar(enabled=misses > 0) as bar:
        task = bar.add_task(description, total=misses, status="")
        for start in range(0, len(paths), chunk_size):
            span = range(start, min(start + chunk_size, len(paths)))
            todo = [i for i in span if found.located[i] is None]
            pictures = {i: found.maps[spot[0]][spot[1]] for i in span if (spot := found.located[i]) is not None}
            decoded = load_images([paths[i] for i in todo], size, channels, pool, lambda n: bar.advance(task, n))
            for i, image in zip(todo, decoded):
                if isinstance(image, str):
                    unreadable.append((str(paths[i]), image))
                else:
                    pictures[i] = image.numpy()
            order = sorted(pictures)
            chunk = np.stack([pictures[i] for i in order]) if order else np.empty((0, channels, *size), np.uint8)
            if writer is not None:
                try:
                    writer.append(chunk)
                except OSError as e:  # what this pass had already stored comes back into memory
                    held.append(writer.read_back())
                    writer = None
                    cache_write_failed(e, store.dir)
            if writer is None:
                held.append(chunk)
            kept += order
    if writer is not None and kept:
        return Decoded(torch.from_numpy(_publish(store, writer, [keys[i] for i in kept])), kept, unreadable,
                       len(paths) - misses)
    if writer is not None:
        writer.discard()
    images = np.concatenate(held) if held else np.empty((0, channels, *size), np.uint8)
    return Decoded(torch.from_numpy(images), kept, unreadable, len(paths) - misses)


def _segment_writer(store: ImageStore) -> SegmentWriter | None:
    try:
        return store.new_segment()
    except OSError as e:
        cache_write_failed(e, store.dir)
        return None


def _publish(store: ImageStore, writer: SegmentWriter, keys: list[str]) -> np.ndarray:
    """The writer's rows, flushed, mapped and named in the index; a full disk is one sentence."""
    try:
        rows = writer.finish()
    except OSError as e:
        rows = writer.read_back()
        cache_write_failed(e, store.dir)
        return rows
    try:
        store.publish(writer, keys)
    except OSError as e:  # the rows stay mapped and usable; only the next run decodes them again
        writer.discard()
        cache_write_failed(e, store.dir)
    return rows


@dataclass(frozen=True)
class Survey:
    """What the photo defaults need to know of a folder, read from its listing and a sample of picture headers:
    enough to choose before anything is decoded."""
    classes: int
    train: int
    validation: int        # 0: none; the run holds out part of train
    test: int
    median_side: int       # the median shorter side of up to 100 training pictures, in pixels
    held_out: float = 0.1  # the share of train a run holds out for validation where there is no validation split
                           # (--validation-split: survey takes it from the run's settings)

    @property
    def per_class(self) -> float:
        """Training pictures a class, on average."""
        return self.train / self.classes


def survey(root: Path, labels: str | Path | None, held_out: float, sample: int = 100) -> Survey:
    """The folder's counts per split and its pictures' median shorter side; `held_out`: --validation-split."""
    classes, samples = scan_labels(root, labels) if labels else scan_folder(root)
    train = [p for p, _ in samples["train"]]
    headers, _ = read_headers(train[:: max(1, len(train) // sample)])
    sides = sorted(min(size) for size, _ in headers.values()) or [0]
    return Survey(len(classes), len(train), len(samples.get("validation", [])), len(samples.get("test", [])),
                  sides[len(sides) // 2], held_out)


@dataclass
class Listing:
    """The exact pictures of a folder dataset, as a run recorded them: its root, classes, each split's (path,
    label), the decoded shape, and whether validation was held out of train. Loading a listing decodes exactly
    those files: nothing is scanned, nothing split again."""
    root: Path
    classes: list[str]
    samples: dict[str, list[tuple[Path, int]]]
    shape: tuple[int, int, int]   # channels, height, width
    carved: bool


def load_folder(root: Path, image_size: int | None, strict: bool, labels: str | Path | None, enlarge: bool,
                 validation_split: float, seed: int, listing: Listing | None = None) -> FolderLoad:
    t0 = time.perf_counter()
    if listing is not None:
        classes, samples, carved = listing.classes, dict(listing.samples), listing.carved
    else:
        classes, samples = scan_labels(root, labels) if labels else scan_folder(root)
    headers, unreadable = read_headers([p for split in samples.values() for p, _ in split])
    samples = {split: [(p, label) for p, label in items if p in headers] for split, items in samples.items()}
    if listing is None:
        carved = "validation" not in samples
    if listing is None and carved:  # held out before decoding: each split is cached, and mapped, in one piece
        check_validation_split(validation_split, Path(root).name)
        train = samples["train"]
        keep, held = stratified_split(torch.tensor([label for _, label in train]), validation_split, seed)
        samples["train"], samples["validation"] = [train[i] for i in keep], [train[i] for i in held]
    if listing is not None:
        channels, size, why = listing.shape[0], tuple(listing.shape[1:]), tr("as the run was trained")
    else:
        size, channels, why = choose_size(list(headers.values()), image_size, enlarge)
    say(tr("image size: {size}×{size2}, {value} ({why})",
           size=size[0], size2=size[1], value=tr('grey') if channels == 1 else tr('colour'), why=why))
    store = ImageStore(size, channels)
    sets, from_cache = {}, 0
    for split, items in samples.items():
        decoded = decode_all([p for p, _ in items], size, channels, f"decoding {split}", store)
        unreadable += decoded.unreadable
        from_cache += decoded.from_cache
        items = [items[i] for i in decoded.kept]
        sets[split] = ImageSet(decoded.images, torch.tensor([label for _, label in items], dtype=torch.int64),
                               [str(p) for p, _ in items])
    seconds = time.perf_counter() - t0
    total = sum(len(s) for s in sets.values())
    say(tr("read {total:,} pictures in {seconds:.1f}s ({from_cache:,} from the picture cache, {value:,} decoded)",
           total=total, seconds=seconds, from_cache=from_cache, value=total - from_cache))
    if unreadable:
        listed = "\n  ".join(f"{why}" for _, why in unreadable[:10]) + (
            tr("\n  ... and {value} more", value=len(unreadable) - 10) if len(unreadable) > 10 else "")
        if strict:
            raise VisionpathError(tr("{n_unreadable} file(s) cannot be read as pictures (--strict stops at them); "
                                     "remove or replace them, or leave out --strict to skip them:\n  {listed}",
                                     n_unreadable=len(unreadable), listed=listed))
        say(tr("skipped {n_unreadable} unreadable file(s) (listed in the run folder's unreadable.txt; --strict "
               "stops instead):\n  {listed}",
               n_unreadable=len(unreadable), listed=listed))
    for split, images in sets.items():  # before any training: an empty split would fail only when it is scored
        if len(images) == 0:
            raise VisionpathError(tr("the {split} split of {root} has no readable pictures{value}; add pictures to "
                                     "it{value2}.",
                                     split=split, root=root,
                                     value=tr(' left after skipping the unreadable ones') if unreadable else '',
                                     value2=tr(' or remove it') if split == 'test' else ''))
    empty = [c for k, c in enumerate(classes) if not (sets["train"].labels == k).any()]
    if empty:
        raise VisionpathError(tr("class(es) {empty} have no readable training pictures; add pictures or remove the "
                                 "class.",
                                 empty=', '.join(empty)))
    return FolderLoad(str(root), classes, sets, unreadable, seconds, from_cache, carved)
