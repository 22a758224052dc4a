"""Data: a name or a folder in, uint8 tensors out (`load_dataset`).

Every dataset becomes a `Dataset` of three `ImageSet`s (train, validation, test; sets.py), each a uint8 tensor of
shape N×C×H×W with int64 labels, kept in memory: small datasets fit, and slicing one tensor is the fastest way to
make batches. Scaling to 0-1 and normalising happen later, on the training device, batch by batch. Built-in
datasets come from builtin.py; folders of pictures from folder.py (their layout: layout.py).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..console import say
from ..errors import VisionpathError
from ..files import atomic_write
from ..i18n import tr
from .builtin import DATASETS, load_builtin
from .folder import Listing, load_folder
from .images import load_image
from .sets import (UNBALANCED, Dataset, FolderLoad, ImageSet, channel_stats, check_validation_split, imbalance,
                   stratified_split)


def sample_folder(dataset: Dataset, destination: str | Path, per_class: int) -> Path:
    """A small copy of `dataset` as a folder of PNG files, for experiments that should take minutes: the first
    `per_class` training pictures of each class, a fifth as many for validation and two fifths for test, in
    destination/{train,validation,test}/<class>/. Asked again for the same copy, it returns the folder as it is."""
    destination = Path(destination)
    made = {"dataset": dataset.name, "per_class": per_class, "classes": list(dataset.classes)}
    marker = destination / ".visionpath-sample.json"
    if marker.is_file() and json.loads(marker.read_text()) == made:
        return destination
    if destination.exists() and any(destination.iterdir()):
        raise VisionpathError(tr("{destination} already exists and is not empty; choose a new folder, so nothing in "
                                 "it is overwritten.", destination=destination))
    counts = {"train": per_class, "validation": max(1, per_class // 5), "test": max(1, per_class * 2 // 5)}
    for split, images in dataset.splits():
        for label, name in enumerate(dataset.classes):
            folder = destination / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in (images.labels == label).nonzero()[:counts[split], 0].tolist():
                picture = images.images[i].permute(1, 2, 0).numpy()
                buffer = io.BytesIO()
                Image.fromarray(picture[..., 0] if picture.shape[2] == 1 else picture).save(buffer, format="PNG")
                atomic_write(folder / f"{i}.png", buffer.getvalue())
    atomic_write(marker, json.dumps(made))  # last: a copy cut short is not taken for a finished one
    return destination


def _from_builtin(name: str, data_dir: str | Path | None) -> tuple[list[str], ImageSet, None, ImageSet, tuple, tuple]:
    xtr, ytr, xte, yte, classes = load_builtin(name, data_dir)

    def to_set(x: np.ndarray, y: np.ndarray) -> ImageSet:
        return ImageSet(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
                        torch.from_numpy(y.astype(np.int64)))
    spec = DATASETS[name]
    return classes, to_set(xtr, ytr), None, to_set(xte, yte), spec.mean, spec.std


def load_dataset(data: str | Path, data_dir: str | Path | None = None, validation_split: float = 0.1,
                 seed: int = 0, image_size: int | None = None, strict: bool = False,
                 labels: str | Path | None = None, enlarge: bool = True, listing: Listing | None = None) -> Dataset:
    """Load a built-in dataset by name ("mnist", ...) or a folder of class subfolders.

    When there is no validation split, `validation_split` of train is held out, stratified and seeded.
    The test split is never used to choose anything: only to report at the end.
    Folders: unreadable files are skipped and listed (`Dataset.unreadable`), or stop the load with `strict`;
    `labels` is a CSV of filename,label[,split] naming the pictures under the folder instead of class folders.
    `enlarge` False keeps pictures smaller than image_size at their size (for models that resize on the fly).
    `listing`: the exact files to load, as a run recorded them (`data` is then the folder they are in now).
    """
    data = str(data)
    if data in DATASETS:
        if image_size:
            raise VisionpathError(tr("--image-size applies to folder datasets; {data} images are used at their size.",
                                     data=data))
        name = data
        if labels:
            raise VisionpathError(tr("--labels applies to folders of pictures; {data} comes with its labels.",
                                     data=data))
        classes, train, validation, test, mean, std = _from_builtin(data, data_dir)
        folder = None
        carved = True
        check_validation_split(validation_split, name)
        keep, held = stratified_split(train.labels, validation_split, seed)
        train, validation = train.subset(keep), train.subset(held)
    elif Path(data).exists():
        name = Path(data).resolve().name
        folder = load_folder(Path(data), image_size, strict, labels, enlarge, validation_split, seed, listing)
        classes, train, validation, test = (folder.classes, folder.splits["train"], folder.splits["validation"],
                                            folder.splits.get("test"))
        mean, std, carved = *channel_stats(train.images), folder.carved
    else:
        raise VisionpathError(tr("'{data}' is neither a built-in dataset ({DATASETS}) nor an existing folder.",
                                 data=data, DATASETS=', '.join(DATASETS)))
    mirror_safe = DATASETS[name].mirror_safe if data in DATASETS else True
    dataset = Dataset(name, classes, train, validation, test, mean, std, validation_from_train=carved,
                      mirror_safe=mirror_safe, folder=folder)
    for split, images in (("train", train), ("validation", validation), ("test", test)):
        if images is not None:
            present = len(torch.unique(images.labels))
            extra = tr(" (held out from train, {validation_split:.0%}, stratified)",
                       validation_split=validation_split) if split == "validation" and carved else ""
            say(tr("{split}: found {n_images:,} images in {present} classes{extra}",
                   split=split, n_images=len(images), present=present, extra=extra))
    counts = torch.bincount(train.labels, minlength=len(classes))
    if (ratio := imbalance(counts.tolist())) > UNBALANCED:
        rare = min((i for i, n in enumerate(counts.tolist()) if n), key=lambda i: counts[i])
        common = int(counts.argmax())
        say(tr("warning: unbalanced classes: {classes} has {counts:,} training images, {classes2} {counts2:,} "
               "({ratio:.1f}:1); accuracy flatters the common classes, so watch balanced accuracy and macro-F1 "
               "(training weights the classes by default, --balance auto; --balance sampler draws the rare ones more "
               "often instead)",
               classes=classes[common], counts=int(counts[common]), classes2=classes[rare],
               counts2=int(counts[rare]), ratio=ratio))
    if test is None:
        say(tr("test: none (add a test/ folder for an honest final score; validation is used to choose the best "
               "epoch)"))
    return dataset


__all__ = ["Dataset", "FolderLoad", "ImageSet", "Listing", "UNBALANCED", "imbalance", "load_dataset", "load_image",
           "sample_folder", "stratified_split", "DATASETS"]
