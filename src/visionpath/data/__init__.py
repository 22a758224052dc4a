"""Data: a name or a folder in, uint8 tensors out.

Every dataset becomes a `Dataset` of three `ImageSet`s (train, validation, test), each a uint8 tensor of shape
N×C×H×W with int64 labels, kept in memory: small datasets fit, and slicing one tensor is the fastest way to
make batches. Scaling to 0-1 and normalising happen later, on the training device, batch by batch.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..console import say
from ..errors import VisionpathError
from ..files import atomic_write
from ..i18n import tr
from .builtin import DATASETS, load_builtin
from .cache import ImageStore
from .folder import choose_size, decode_all, read_headers, scan_folder, scan_labels
from .images import load_image


@dataclass
class ImageSet:
    """One split: `images` uint8 N×C×H×W, `labels` int64 N, and for folder datasets the file of each image."""
    images: torch.Tensor
    labels: torch.Tensor
    paths: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "ImageSet":
        paths = [self.paths[i] for i in index.tolist()] if self.paths is not None else None
        return ImageSet(self.images[index], self.labels[index], paths)


@dataclass
class Dataset:
    name: str
    classes: list[str]
    train: ImageSet
    validation: ImageSet
    test: ImageSet | None
    mean: tuple[float, ...]              # per channel, of the training images scaled to 0-1
    std: tuple[float, ...]
    validation_from_train: bool = False  # True when validation was carved out of train
    mirror_safe: bool = True             # whether a left-right flip keeps the class (not for digits)
    folder: "FolderLoad | None" = None   # for folders: files skipped, load time

    def splits(self) -> list[tuple[str, ImageSet]]:
        """("train", ...), ("validation", ...) and ("test", ...) when there is one."""
        return [(name, images) for name, images in (("train", self.train), ("validation", self.validation),
                                                     ("test", self.test)) if images is not None]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])


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


def stratified_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(keep, held_out) indices: `fraction` of every class held out, chosen by a seeded shuffle."""
    generator = torch.Generator().manual_seed(seed)
    keep, held = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_held = int(round(fraction * len(members)))
        if len(members) > 1:
            n_held = min(max(n_held, 1), len(members) - 1)  # each class keeps at least one image on each side
        else:
            n_held = 0
        held.append(members[:n_held])
        keep.append(members[n_held:])
    return torch.sort(torch.cat(keep)).values, torch.sort(torch.cat(held)).values


def _check_validation_split(fraction: float, name: str) -> None:
    if not 0 < fraction < 1:
        raise VisionpathError(tr("--validation-split must be between 0 and 1 (got {fraction}); {name} has no "
                                 "validation split of its own to use instead.",
                                 fraction=fraction, name=name))


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the pixels scaled to 0-1, from 5,000 pictures (plenty) spread over the set (a
    folder's come sorted by class), summed 64 at a time: 5,000 photos at 224 px would be 3 GB as floats."""
    sample = images[:: max(1, len(images) // 5000)][:5000]
    total = torch.zeros(sample.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for chunk in sample.split(64):
        x = chunk.float().div_(255)
        total += x.sum(dim=(0, 2, 3), dtype=torch.float64)
        squares += x.square_().sum(dim=(0, 2, 3), dtype=torch.float64)
    count = max(1, sample.numel() // sample.shape[1])
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def _from_builtin(name: str, data_dir: str | Path | None) -> tuple[list[str], ImageSet, None, ImageSet, tuple, tuple]:
    xtr, ytr, xte, yte, classes = load_builtin(name, data_dir)

    def to_set(x: np.ndarray, y: np.ndarray) -> ImageSet:
        return ImageSet(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
                        torch.from_numpy(y.astype(np.int64)))
    spec = DATASETS[name]
    return classes, to_set(xtr, ytr), None, to_set(xte, yte), spec.mean, spec.std


@dataclass
class FolderLoad:
    """What reading a folder found: the splits, the files skipped, and where the time went."""
    root: str
    classes: list[str]
    splits: dict[str, ImageSet]
    unreadable: list[tuple[str, str]]   # (path, why) of every file skipped
    seconds: float                      # reading headers + decoding (or reading the cache)
    from_cache: int                     # pictures read from the on-disk cache rather than decoded
    carved: bool = False                # validation was held out of train (there was no validation split)


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


def _from_folder(root: Path, image_size: int | None, strict: bool, labels: str | Path | None, enlarge: bool,
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
        _check_validation_split(validation_split, Path(root).name)
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
        _check_validation_split(validation_split, name)
        keep, held = stratified_split(train.labels, validation_split, seed)
        train, validation = train.subset(keep), train.subset(held)
    elif Path(data).exists():
        name = Path(data).resolve().name
        folder = _from_folder(Path(data), image_size, strict, labels, enlarge, validation_split, seed, listing)
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
    if counts.min() * 3 < counts.max():
        rare, common = int(counts.argmin()), int(counts.argmax())
        say(tr("warning: unbalanced classes: {classes} has {counts:,} training images, {classes2} {counts2:,} (more "
               "than 3:1); accuracy flatters the common classes, so watch balanced accuracy and macro-F1 (training "
               "weights the classes by default, --balance auto; --balance sampler draws the rare ones more often "
               "instead)",
               classes=classes[common], counts=int(counts[common]), classes2=classes[rare],
               counts2=int(counts[rare])))
    if test is None:
        say(tr("test: none (add a test/ folder for an honest final score; validation is used to choose the best "
               "epoch)"))
    return dataset


__all__ = ["Dataset", "ImageSet", "Listing", "load_dataset", "load_image", "stratified_split", "DATASETS"]
