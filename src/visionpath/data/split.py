"""`visionpath data split`: a folder of class folders copied into train/, validation/ and test/, stratified and
seeded, with exact and near duplicates kept together in one split so that the test split shares no photo with
train. The original is never touched."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import numpy as np

from ..errors import VisionpathError
from ..i18n import tr
from ..options import Option, checked
from .cache import file_hashes
from .images import open_whole
from .layout import class_folders, find_splits, images_in, layout_help
from .near import SIDE, joined, near_among_files, thumbnails


@checked
def split_folder(source: Annotated[str | Path, Option("a folder of class subfolders", positional=True)],
                 destination: Annotated[str | Path, Option("a new folder for train/ validation/ test/",
                                                           positional=True)],
                 validation: Annotated[float, Option("share of each class for validation", valid="[0, 1)")] = 0.15,
                 test: Annotated[float, Option("share of each class for test", valid="[0, 1)")] = 0.15,
                 seed: Annotated[int, Option("the same seed gives the same split")] = 0) -> dict[str, int]:
    """Copy a folder of class subfolders into destination/{train,validation,test}/<class>/, stratified (each class
    split in the same proportions) and seeded (the same seed gives the same split); the copies of a picture (the
    same file, or a near duplicate) in one split. Returns pictures per split."""
    import random
    import shutil

    source, destination = Path(source), Path(destination)
    if validation + test >= 1:
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
