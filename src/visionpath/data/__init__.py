"""Data: a name or a folder in, uint8 tensors out.

Every dataset becomes a `Dataset` of three `ImageSet`s (train, validation, test), each a uint8 tensor of shape
N×C×H×W with int64 labels, kept in memory: small datasets fit, and slicing one tensor is the fastest way to
make batches. Scaling to 0-1 and normalising happen later, on the training device, batch by batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..console import say
from ..errors import VisionpathError
from .builtin import DATASETS, load_builtin
from .folder import choose_size, decode_all, scan_folder
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

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])


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


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images[:5000].float().div_(255)  # a sample is plenty for mean and std
    return tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())


def _from_builtin(name: str, data_dir: str | Path | None) -> tuple[list[str], ImageSet, None, ImageSet, tuple, tuple]:
    xtr, ytr, xte, yte, classes = load_builtin(name, data_dir)

    def to_set(x: np.ndarray, y: np.ndarray) -> ImageSet:
        return ImageSet(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
                        torch.from_numpy(y.astype(np.int64)))
    spec = DATASETS[name]
    return classes, to_set(xtr, ytr), None, to_set(xte, yte), spec.mean, spec.std


def _from_folder(root: Path, image_size: int | None) -> tuple[list[str], ImageSet, ImageSet | None, ImageSet | None,
                                                              tuple, tuple]:
    classes, samples = scan_folder(root)
    size, channels, why = choose_size([p for split in samples.values() for p, _ in split], image_size)
    say(f"image size: {size[0]}×{size[1]}, {'grey' if channels == 1 else 'colour'} ({why})")
    sets = {}
    for split, items in samples.items():
        paths = [p for p, _ in items]
        images = decode_all(paths, size, channels, f"decoding {split}")
        sets[split] = ImageSet(images, torch.tensor([label for _, label in items], dtype=torch.int64),
                               [str(p) for p in paths])
    mean, std = channel_stats(sets["train"].images)
    return classes, sets["train"], sets.get("validation"), sets.get("test"), mean, std


def load_dataset(data: str | Path, data_dir: str | Path | None = None, validation_split: float = 0.1,
                 seed: int = 0, image_size: int | None = None) -> Dataset:
    """Load a built-in dataset by name ("mnist", ...) or a folder of class subfolders.

    When there is no validation split, `validation_split` of train is held out, stratified and seeded.
    The test split is never used to choose anything: only to report at the end.
    """
    data = str(data)
    if data in DATASETS:
        if image_size:
            raise VisionpathError(f"--image-size applies to folder datasets; {data} images are used at their size.")
        name = data
        classes, train, validation, test, mean, std = _from_builtin(data, data_dir)
    elif Path(data).exists():
        name = Path(data).resolve().name
        classes, train, validation, test, mean, std = _from_folder(Path(data), image_size)
    else:
        raise VisionpathError(f"'{data}' is neither a built-in dataset ({', '.join(DATASETS)}) nor an existing folder.")
    carved = validation is None
    if carved:
        if not 0 < validation_split < 1:
            raise VisionpathError(f"--validation-split must be between 0 and 1 (got {validation_split}); "
                                  f"{name} has no validation split of its own to use instead.")
        keep, held = stratified_split(train.labels, validation_split, seed)
        train, validation = train.subset(keep), train.subset(held)
    mirror_safe = DATASETS[name].mirror_safe if data in DATASETS else True
    dataset = Dataset(name, classes, train, validation, test, mean, std, validation_from_train=carved,
                      mirror_safe=mirror_safe)
    for split, images in (("train", train), ("validation", validation), ("test", test)):
        if images is not None:
            present = len(torch.unique(images.labels))
            extra = f" (held out from train, {validation_split:.0%}, stratified)" if split == "validation" and carved else ""
            say(f"{split}: found {len(images):,} images in {present} classes{extra}")
    if test is None:
        say("test: none (add a test/ folder for an honest final score; validation is used to choose the best epoch)")
    return dataset


__all__ = ["Dataset", "ImageSet", "load_dataset", "load_image", "stratified_split", "DATASETS"]
