"""Folder datasets: the layout of Keras' image_dataset_from_directory and torchvision's ImageFolder.

    my_photos/                       or simply     my_photos/
        train/       cat/ dog/ ...                     cat/ dog/ ...
        validation/  cat/ dog/ ...   (or val/, valid/; optional)
        test/        cat/ dog/ ...   (optional)

Classes are the sorted folder names of train/. The other splits are matched to them *by name*: a split that
lacks a class keeps every other label where it belongs.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..console import progress_bar
from ..errors import VisionpathError
from .images import is_image_file, load_image, peek_image

SPLIT_FOLDERS = {"train": ("train",), "validation": ("validation", "val", "valid"), "test": ("test",)}
JUNK = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini", "$RECYCLE.BIN", "System Volume Information"})
DEFAULT_FOLDER_SIZE = 64  # side used when a folder's pictures differ in size and no --image-size is given

LAYOUT_HELP = ("Expected a folder of class subfolders, e.g. my_photos/cat/*.jpg and my_photos/dog/*.jpg, or "
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
        raise VisionpathError(f"{root} is not a folder. {LAYOUT_HELP}")
    splits = {}
    for split, names in SPLIT_FOLDERS.items():
        present = [root / n for n in names if (root / n).is_dir()]
        if len(present) > 1:
            raise VisionpathError(f"{root} has both {present[0].name}/ and {present[1].name}/; keep one of them.")
        if present:
            splits[split] = present[0]
    if "train" not in splits:
        if splits:
            raise VisionpathError(f"{root} has {', '.join(p.name + '/' for p in splits.values())} but no train/. "
                                  f"{LAYOUT_HELP}")
        splits["train"] = root
    return splits


def scan_folder(root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """(classes, {split: [(image path, label), ...]}), with every layout problem reported in one sentence."""
    splits = find_splits(root)
    train_dir = splits["train"]
    classes = [p.name for p in class_folders(train_dir)]
    if not classes:
        raise VisionpathError(f"{train_dir} has no class subfolders. {LAYOUT_HELP}")
    if len(classes) < 2:
        raise VisionpathError(f"{train_dir} has one class only ({classes[0]}); a classifier needs at least two "
                              "class folders.")
    index = {name: i for i, name in enumerate(classes)}
    samples: dict[str, list[tuple[Path, int]]] = {}
    for split, split_dir in splits.items():
        found = class_folders(split_dir)
        unknown = [p.name for p in found if p.name not in index]
        if unknown:
            raise VisionpathError(f"{split_dir.name}/ has class folder(s) {', '.join(unknown)} that train/ does not "
                                  f"have; the classes are {', '.join(classes)}. Rename or remove them, or add them to "
                                  "train/.")
        samples[split] = []
        for class_dir in found:
            files = images_in(class_dir)
            if not files and split == "train":
                raise VisionpathError(f"class folder {class_dir} has no images (accepted: .jpg .jpeg .png .bmp .webp "
                                      ".gif .tif .tiff); add images or remove the folder.")
            samples[split] += [(f, index[class_dir.name]) for f in files]
        if not samples[split]:
            raise VisionpathError(f"{split_dir} has class folders but no images in them.")
    return classes, samples


def choose_size(paths: list[Path], image_size: int | None) -> tuple[tuple[int, int], int, str]:
    """((height, width), channels, why) for a folder: read from the file headers, not the pixels."""
    headers = [peek_image(p) for p in paths]
    sizes = Counter(size for size, _ in headers)
    channels = 1 if all(grey for _, grey in headers) else 3
    if image_size:
        return (image_size, image_size), channels, f"resizing to {image_size}×{image_size} as asked"
    if len(sizes) == 1:
        (size,) = sizes
        return size, channels, f"all pictures are {size[0]}×{size[1]}"
    side = DEFAULT_FOLDER_SIZE
    return (side, side), channels, (f"pictures differ in size ({len(sizes)} sizes); cropping to square and resizing "
                                    f"to {side}×{side} (change with --image-size)")


def decode_all(paths: list[Path], size: tuple[int, int], channels: int, description: str) -> torch.Tensor:
    """Decode many pictures into one uint8 tensor N×C×H×W, a few at a time (Pillow releases the GIL)."""
    out = torch.empty((len(paths), channels, *size), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=4) as pool, progress_bar() as bar:
        task = bar.add_task(description, total=len(paths), status="")
        for i, image in enumerate(pool.map(lambda p: load_image(p, size, channels), paths)):
            out[i] = image
            bar.advance(task)
    return out
