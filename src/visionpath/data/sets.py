"""What a dataset is once loaded: three ImageSets (train, validation, test) of uint8 pictures with their labels,
a held-out split drawn by class, the channel statistics pictures are scaled by, and when classes count as
unbalanced."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import VisionpathError
from ..i18n import tr


# Classes are unbalanced when the largest has more than this many times the pictures of the smallest: training then
# weighs each class by the inverse of its share (--balance auto) and shows balanced accuracy beside accuracy, and the
# loader and the data check say so. Measured on hymenoptera with bees cut to 4:1 (balance_hymenoptera.md): balanced
# validation accuracy 92.7% unweighted, 95.6% weighted, 96.3% with the sampler; weighting is the default because it
# keeps "an epoch is every picture once", and on balanced classes it changes nothing.
UNBALANCED = 1.5


def imbalance(counts: list[int]) -> float:
    """The largest class's pictures over the smallest's (classes with none left out); 1.0 for fewer than two."""
    present = [n for n in counts if n]
    return max(present) / min(present) if len(present) > 1 else 1.0


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


def check_validation_split(fraction: float, name: str) -> None:
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
