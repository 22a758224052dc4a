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
from pathlib import Path

from ..errors import VisionpathError
from ..i18n import tr
from .images import is_image_file


SPLIT_FOLDERS = {"train": ("train",), "validation": ("validation", "val", "valid"), "test": ("test",)}


JUNK = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini", "$RECYCLE.BIN", "System Volume Information"})


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
