"""Folder datasets: the layout of Keras' image_dataset_from_directory and torchvision's ImageFolder.

    my_photos/                       or simply     my_photos/
        train/       cat/ dog/ ...                     cat/ dog/ ...
        validation/  cat/ dog/ ...   (or val/, valid/; optional)
        test/        cat/ dog/ ...   (optional)

Classes are the sorted folder names of train/. The other splits are matched to them *by name*: a split that
lacks a class keeps every other label where it belongs.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..console import progress_bar
from ..errors import VisionpathError
from ..i18n import tr
from .cache import (Found, ImageStore, SegmentWriter, cache_write_failed, file_hashes, file_key, image_key,
                    read_file_cache, write_file_cache)
from .images import NeedsExtra, is_image_file, load_images, open_whole, peek_image
from .near import SIDE, joined, near_among_files, thumbnails

SPLIT_FOLDERS = {"train": ("train",), "validation": ("validation", "val", "valid"), "test": ("test",)}
JUNK = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini", "$RECYCLE.BIN", "System Volume Information"})
STREAM_BYTES = 256 << 20  # pixels decoded between two appends to the picture cache: a first pass's memory
DEFAULT_FOLDER_SIZE = 64  # side used when a folder's pictures differ in size and no --image-size is given

def layout_help() -> str:
    """The sentence that says how a folder of photos is laid out, for the errors about one that is not."""
    return tr("Expected a folder of class subfolders, e.g. my_photos/cat/*.jpg and my_photos/dog/*.jpg, or "
              "my_photos/train/<class>/ with optional my_photos/validation/<class>/ and my_photos/test/<class>/.")


def is_junk(path: Path) -> bool:
    """Hidden entries and operating-system litter are never classes or images."""
    return path.name.startswith(".") or path.name in JUNK


def class_folders(split_dir: Path) -> list[Path]:
    return sorted((p for p in split_dir.iterdir() if p.is_dir() and not is_junk(p)), key=lambda p: p.name)


def images_in(folder: Path) -> list[Path]:
    """Image files under a folder (its subfolders included, hidden and OS entries skipped), in a stable order."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and is_image_file(p) and not any(is_junk(Path(part)) for part in p.relative_to(folder).parts))


def find_splits(root: Path) -> dict[str, Path]:
    """Map split name -> folder. A root without train/ is itself the training split."""
    root = Path(root)
    if not root.is_dir():
        raise VisionpathError(tr("{root} is not a folder. {layout_help}", root=root, layout_help=layout_help()))
    splits = {}
    for split, names in SPLIT_FOLDERS.items():
        present = [root / n for n in names if (root / n).is_dir()]
        if len(present) > 1:
            raise VisionpathError(tr("{root} has both {name}/ and {name2}/; keep one of them.",
                                     root=root, name=present[0].name, name2=present[1].name))
        if present:
            splits[split] = present[0]
    if "train" not in splits:
        if splits:
            raise VisionpathError(tr("{root} has {values} but no train/. {layout_help}",
                                     root=root, values=', '.join(p.name + '/' for p in splits.values()),
                                     layout_help=layout_help()))
        splits["train"] = root
    return splits


def scan_folder(root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """(classes, {split: [(image path, label), ...]}), with every layout problem reported in one sentence."""
    splits = find_splits(root)
    train_dir = splits["train"]
    classes = [p.name for p in class_folders(train_dir)]
    if not classes:
        raise VisionpathError(tr("{train_dir} has no class subfolders. {layout_help}",
                                 train_dir=train_dir, layout_help=layout_help()))
    if len(classes) < 2:
        raise VisionpathError(tr("{train_dir} has one class only ({classes}); a classifier needs at least two class "
                                 "folders.",
                                 train_dir=train_dir, classes=classes[0]))
    index = {name: i for i, name in enumerate(classes)}
    samples: dict[str, list[tuple[Path, int]]] = {}
    for split, split_dir in splits.items():
        found = class_folders(split_dir)
        unknown = [p.name for p in found if p.name not in index]
        if unknown:
            raise VisionpathError(tr("{name}/ has class folder(s) {unknown} that train/ does not have; the classes "
                                     "are {classes}. Rename or remove them, or add them to train/.",
                                     name=split_dir.name, unknown=', '.join(unknown), classes=', '.join(classes)))
        samples[split] = []
        for class_dir in found:
            files = images_in(class_dir)
            if not files and split == "train":
                raise VisionpathError(tr("class folder {class_dir} has no images (accepted: .jpg .jpeg .png .bmp "
                                         ".webp .gif .tif .tiff); add images or remove the folder.",
                                         class_dir=class_dir))
            samples[split] += [(f, index[class_dir.name]) for f in files]
        if not samples[split]:
            raise VisionpathError(tr("{split_dir} has class folders but no images in them.", split_dir=split_dir))
    return classes, samples


LABEL_COLUMNS = {"filename": ("filename", "file", "path", "image", "name"), "label": ("label", "class", "category")}


def scan_labels(root: Path, labels: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """Classes and samples from a CSV of `filename,label` (with an optional `split` column: train, validation,
    test), the shape labelling tools export; file names are relative to `root`. Without a split column every
    row is training data (validation is then held out of it)."""
    root, labels = Path(root), Path(labels)
    if not labels.is_file():
        raise VisionpathError(tr("--labels {labels} does not exist; give a CSV file of filename,label rows.",
                                 labels=labels))
    with open(labels, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise VisionpathError(tr("{labels} is empty; it needs filename,label rows.", labels=labels))
    header = [cell.strip().lower() for cell in rows[0]]
    columns = {want: next((header.index(n) for n in names if n in header), None) for want, names in LABEL_COLUMNS.items()}
    if columns["filename"] is None or columns["label"] is None:  # no header: filename, label[, split]
        columns, body, first_line = {"filename": 0, "label": 1}, rows, 1
        if len(rows[0]) > 2:
            columns["split"] = 2
    else:
        body, first_line = rows[1:], 2
        if "split" in header:
            columns["split"] = header.index("split")
    entries, missing, bad, seen = [], [], [], {}
    for line, row in enumerate(body, first_line):
        cells = [row[c].strip() if c < len(row) else "" for c in columns.values()]
        name, label, split = cells[0], cells[1], (cells[2] if len(cells) > 2 else "train").lower() or "train"
        split = next((s for s, names in SPLIT_FOLDERS.items() if split in names), split)
        if not name or not label or split not in SPLIT_FOLDERS:
            bad.append(f"line {line}")
            continue
        inside(root, name, labels, line)
        if not (root / name).is_file():
            missing.append(name)
            continue
        key = (root / name).resolve()
        if key in seen and seen[key][1:] != (label, split):
            raise VisionpathError(tr("{labels} lists {name} twice, on line {first} as {label} ({split}) and on line "
                                     "{line} as {label2} ({split2}); keep the row with the right label.",
                                     labels=labels, name=name, first=seen[key][0], label=seen[key][1],
                                     split=seen[key][2], line=line, label2=label, split2=split))
        if key not in seen:  # a row repeated word for word counts once
            seen[key] = (line, label, split)
            entries.append((root / name, label, split))
    if bad:
        raise VisionpathError(tr("{labels}: {n_bad} row(s) lack a file name or a label, or name an unknown split "
                                 "({bad}); each row needs filename,label[,train|validation|test].",
                                 labels=labels, n_bad=len(bad), bad=', '.join(bad[:5])))
    if missing:
        raise VisionpathError(tr("{labels} names {n_missing} file(s) that are not in {root} (e.g. {missing}); fix "
                                 "the names (relative to {root}) or drop those rows.",
                                 labels=labels, n_missing=len(missing), root=root, missing=', '.join(missing[:3])))
    classes = sorted({label for _, label, split in entries if split == "train"})
    if len(classes) < 2:
        raise VisionpathError(tr("{labels} gives {n_classes} class(es) to the training rows; a classifier needs at "
                                 "least two.",
                                 labels=labels, n_classes=len(classes)))
    unknown = sorted({label for _, label, split in entries if label not in classes})
    if unknown:
        raise VisionpathError(tr("{labels} has validation/test rows labelled {unknown}, a class no training row "
                                 "has; label some training images with it, or drop those rows.",
                                 labels=labels, unknown=', '.join(unknown)))
    index = {name: i for i, name in enumerate(classes)}
    samples: dict[str, list[tuple[Path, int]]] = {}
    for path, label, split in entries:
        samples.setdefault(split, []).append((path, index[label]))
    return classes, samples


def inside(root: Path, name: str, labels: Path, line: int) -> None:
    """A labels CSV names files inside its data folder only: an absolute path, a `..` that climbs out, or a link
    leading out of it is one sentence (a run would otherwise read, and a report show, any file on the machine)."""
    if Path(name).is_absolute() or Path(name).drive:
        raise VisionpathError(tr("{labels} line {line} names {name}, an absolute path; name files relative to the "
                                 "data folder {root}.", labels=labels, line=line, name=name, root=root))
    if not (root / name).resolve().is_relative_to(root.resolve()):
        if not Path(os.path.normpath(root / name)).is_relative_to(os.path.normpath(root)):
            raise VisionpathError(tr("{labels} line {line} names {name}, which leads out of the data folder {root} "
                                     "with '..'; name files inside it.", labels=labels, line=line, name=name,
                                     root=root))
        raise VisionpathError(tr("{labels} line {line} names {name}, a link to a file outside the data folder "
                                 "{root}; copy the file into the folder instead.", labels=labels, line=line,
                                 name=name, root=root))


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

    @property
    def per_class(self) -> float:
        """Training pictures a class, on average."""
        return self.train / self.classes


def survey(root: Path, labels: str | Path | None = None, sample: int = 100) -> Survey:
    """The folder's counts per split and its pictures' median shorter side."""
    classes, samples = scan_labels(root, labels) if labels else scan_folder(root)
    train = [p for p, _ in samples["train"]]
    headers, _ = read_headers(train[:: max(1, len(train) // sample)])
    sides = sorted(min(size) for size, _ in headers.values()) or [0]
    return Survey(len(classes), len(train), len(samples.get("validation", [])), len(samples.get("test", [])),
                  sides[len(sides) // 2])


def split_folder(source: str | Path, destination: str | Path, validation: float = 0.15, test: float = 0.15,
                 seed: int = 0) -> dict[str, int]:
    """Copy a folder of class subfolders into destination/{train,validation,test}/<class>/, stratified (each class
    split in the same proportions) and seeded (the same seed gives the same split); the copies of a picture (the
    same file, or a near duplicate) in one split. Returns pictures per split."""
    import random
    import shutil

    source, destination = Path(source), Path(destination)
    if not 0 <= validation < 1 or not 0 <= test < 1 or validation + test >= 1:
        raise VisionpathError(tr("--validation {validation} and --test {test} must be shares between 0 and 1 that "
                                 "leave some pictures for training.",
                                 validation=validation, test=test))
    splits = find_splits(source)
    if len(splits) > 1 or splits["train"] != source:
        raise VisionpathError(tr("{source} is already split ({values}); give a folder of class subfolders.",
                                 source=source, values=', '.join(p.name + '/' for p in splits.values())))
    if destination.exists() and any(destination.iterdir()):
        raise VisionpathError(tr("{destination} already exists and is not empty; choose a new folder, so nothing in "
                                 "it is overwritten.",
                                 destination=destination))
    classes = class_folders(source)
    if len(classes) < 2:
        raise VisionpathError(tr("{source} needs at least two class subfolders. {layout_help}",
                                 source=source, layout_help=layout_help()))
    counts = {"train": 0, "validation": 0, "test": 0}
    for folder in classes:
        files = images_in(folder)
        if not files:
            raise VisionpathError(tr("class folder {folder} has no images; add images or remove the folder.",
                                     folder=folder))
        # copies (a photo saved twice, or resized, re-encoded, slightly cropped or recoloured) stay together: one
        # in train and its copy in test would score the model on a picture it was trained on
        groups = same_picture_groups(files)
        random.Random(f"{seed}:{folder.name}").shuffle(groups)
        n_val, n_test = round(validation * len(files)), round(test * len(files))
        parts: dict[str, list[Path]] = {"validation": [], "test": [], "train": []}
        for group in groups:
            split = ("validation" if len(parts["validation"]) < n_val else
                     "test" if len(parts["test"]) < n_test else "train")
            parts[split] += group
        for split, members in parts.items():
            for path in members:
                target = destination / split / folder.name / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            counts[split] += len(members)
    return counts


def same_picture_groups(files: list[Path]) -> list[list[Path]]:
    """The files in groups of the same picture: the same bytes, or near duplicates (near.py); each file in one
    group, in the files' order. A file that cannot be decoded is a group of its own."""
    digests, first = file_hashes(files), {}
    same_bytes = [(i, first.setdefault(digest, i)) for i, digest in enumerate(digests)]
    thumbs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, thumb in enumerate(pool.map(_thumbnails_or_none, files)):
            if thumb is not None:
                thumbs[i] = thumb
    near = [(i, j) for i, j, _ in near_among_files(thumbs, digests)]
    return [[files[i] for i in sorted(group)] for group in joined(same_bytes + near)]


def _thumbnails_or_none(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        return thumbnails(open_whole(path, SIDE))
    except VisionpathError:
        return None
