"""The training pictures on the training device: loaded and checked, the batch they train in, each epoch's order, and
the class balance."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..augment import Augmentation, PRESETS, make_augmentation
from ..config import TrainConfig
from ..console import say
from ..data import Dataset
from ..data.sets import UNBALANCED, imbalance
from ..data.leaks import quick_check
from ..distributed import Processes, everywhere, gather_objects
from ..errors import VisionpathError
from ..i18n import tr
from ..run_files import load_run_data


@dataclass
class TrainingData:
    """What the loop trains on: the data, with the training pictures on the training device, and how batches are
    drawn and weighed."""
    dataset: Dataset
    device: torch.device
    processes: Processes                   # the processes training together (one, without torchrun)
    images: torch.Tensor                   # the training pictures, uint8 N×C×H×W, on the device (or, when they do
    labels: torch.Tensor                   # not fit a GPU, in main memory: see batch_of)
    augmentation: Augmentation
    class_weights: torch.Tensor | None     # --balance weights: each picture's loss weighed by its class
    sample_weights: torch.Tensor | None    # --balance sampler: how likely each picture is drawn
    unbalanced: bool                       # largest class over UNBALANCED × the smallest: show balanced accuracy
    iterations: int                        # batches per epoch
    batch_size: int                        # the batch they are for (smaller than the recipe's for a small folder)


def prepare_everywhere(config: TrainConfig, processes: Processes, device: torch.device, resumed: Path | None,
                       batch_given: bool = True) -> TrainingData:
    """The data, on every process. The first process of each machine reads first, decoding into the picture
    cache; the others then map what it stored instead of decoding it again. An error on any process (a folder it
    cannot read, --strict meeting a bad picture) stops every process with its sentence."""
    first = processes.local_rank == 0
    prepared = everywhere(processes, lambda: prepare_data(config, processes, device, resumed, batch_given)
                          if first else None)
    later = everywhere(processes, lambda: None if first else prepare_data(config, processes, device, resumed,
                                                                          batch_given))
    prepared = prepared or later
    check_same_pictures(processes, prepared.dataset)
    return prepared


def check_same_pictures(processes: Processes, dataset: Dataset) -> None:
    """Each process must train on the same pictures in the same order: a picture one of them could not read (a
    file damaged on one machine, a folder changed while they started) would shift every index after it."""
    def fingerprint(images) -> str:
        return hashlib.sha256("\n".join(images.paths or []).encode("utf-8", "surrogateescape") +
                              images.labels.numpy().tobytes()).hexdigest()
    mine = {"splits": {name: (len(images), fingerprint(images)) for name, images in dataset.splits()},
            "unreadable": sorted(str(path) for path, _ in (dataset.folder.unreadable if dataset.folder else []))}
    every = gather_objects(processes, mine)
    for rank, theirs in enumerate(every):
        if theirs != every[0]:
            differ = sorted(set(theirs["unreadable"]) ^ set(every[0]["unreadable"]))
            raise VisionpathError(
                tr("the processes of this run read different pictures: process {rank} and process 0 disagree on "
                   "{value}; every process must read the same files (a file damaged on one machine, or the folder "
                   "changed while they started). Fix or remove the file, or use --strict to stop at unreadable "
                   "ones, and start again.",
                   rank=rank, value=', '.join(differ[:3]) if differ else tr('the files in the folder')))


def prepare_data(config: TrainConfig, processes: Processes, device: torch.device, resumed: Path | None,
                 batch_given: bool = True) -> TrainingData:
    """The run's data loaded (a resumed run's: exactly the files it recorded), with a quick check of a folder, the
    training pictures moved to the device, the augmentation and the class balance settled. A batch the run decided
    (not `batch_given`) that is larger than the training pictures is made smaller, and TrainingData.batch_size
    says so."""
    dataset = load_run_data(config, run_dir=resumed, purpose=tr("the resumed training"))
    if dataset.folder is not None:
        say(quick_check(dataset))
    n_train = len(dataset.train)
    config = replace(config, batch_size=batch_for(config.batch_size, n_train, batch_given))
    check_share(config.batch_size, processes.world)
    augmentation = make_augmentation(config.augment, config.rotation, config.shift, config.zoom, config.flip,
                                     dataset.mirror_safe)
    if PRESETS[config.augment].flip and not augmentation.flip and config.flip is None:
        say(tr("augmentation: no flips for {name} (a mirrored digit is not the same digit; --flip forces them)",
               name=dataset.name))
    say(tr("augmentation: {describe}", describe=augmentation.describe()))
    class_weights, sample_weights, unbalanced = balance_classes(dataset.train.labels, len(dataset.classes),
                                                                config.balance)
    iterations = math.ceil(n_train / config.batch_size)
    if 0 < n_train % config.batch_size < 2 * processes.world and iterations > 1:
        iterations -= 1  # a last batch of one picture a process breaks batch norm; it is seen in other epochs
    home = device if fits_on(device, dataset.train.images) else torch.device("cpu")
    return TrainingData(dataset, device, processes, dataset.train.images.to(home), dataset.train.labels.to(home),
                        augmentation, None if class_weights is None else class_weights.to(device), sample_weights,
                        unbalanced, iterations, config.batch_size)


def batch_for(batch_size: int, n_train: int, given: bool) -> int:
    """The batch a run trains with on `n_train` pictures: as given, unless larger than they are (one sentence); a
    batch the run decided (a recipe's, made for larger data) made the largest power of two that gives an epoch two
    steps or more."""
    if batch_size <= n_train:
        return batch_size
    if given:
        raise VisionpathError(tr("--batch-size {batch_size} is larger than the {n_train:,} training images; use at "
                                 "most {n_train:,}.",
                                 batch_size=batch_size, n_train=n_train))
    return 2 ** int(math.log2(max(1, n_train // 2)))


def check_share(batch_size: int, world: int) -> None:
    """Every process needs 2 pictures of each batch (batch norm's statistics of one picture are not defined)."""
    if batch_size < 2 * world:
        raise VisionpathError(tr("--batch-size {batch_size} is the whole batch, shared by {world} processes; use at "
                                 "least {value}, 2 pictures for each.",
                                 batch_size=batch_size, world=world, value=2 * world))


def fits_on(device: torch.device, images: torch.Tensor) -> bool:
    """Whether the training pictures go to the device whole. On a GPU, only if they take at most half its free
    memory (the rest is for the model and its activations); otherwise each batch streams from the memory-mapped
    picture cache through pinned memory (uint8: a quarter of the traffic of floats), said once."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    if images.nbytes <= free / 2:
        return True
    say(tr("training pictures: {value:.1f} GB, more than half of the GPU's {value2:.1f} GB free: each batch streams "
           "from the picture cache in main memory",
           value=images.nbytes / 1e9, value2=free / 1e9))
    return False


def batch_of(data: "TrainingData", index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pictures (uint8) and labels of one batch, on the training device. Pictures kept in main memory for a
    GPU are gathered there, pinned and copied without waiting, so the copy overlaps the GPU's work on the last
    batch."""
    if data.images.device.type == data.device.type:
        return data.images[index], data.labels[index]
    rows, labels = data.images[index], data.labels[index]
    if data.device.type == "cuda":
        rows, labels = rows.pin_memory(), labels.pin_memory()
    return rows.to(data.device, non_blocking=True), labels.to(data.device, non_blocking=True)


def balance_classes(labels: torch.Tensor, num_classes: int, balance: str
                    ) -> tuple[torch.Tensor | None, torch.Tensor | None, bool]:
    """(class weights for the loss, or None; each picture's chance to be drawn, or None; whether the classes are
    unbalanced). weights: n / (K × count), so every class weighs the same in total. sampler: each picture drawn
    in inverse proportion to its class's size, so every class is seen equally often."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    ratio = imbalance(counts.tolist())
    unbalanced = ratio > UNBALANCED
    if balance == "auto":  # weights keeps "an epoch is every picture once" (measured: see UNBALANCED)
        balance = "weights" if unbalanced else "none"
        if unbalanced:
            say(tr("classes unbalanced ({value:.1f}:1): the loss weighs each class by the inverse of its share "
                   "(change with --balance none|weights|sampler)",
                   value=ratio))
    if balance == "weights":
        return len(labels) / (num_classes * counts.clamp_min(1)), None, unbalanced
    if balance == "sampler":
        return None, (1 / counts.clamp_min(1))[labels], unbalanced
    return None, None, unbalanced


def draw_order(n: int, sample_weights: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    """An epoch's order of pictures: a shuffle of all n, or n draws by weight (rare pictures more than once)."""
    if sample_weights is None:
        return torch.randperm(n, generator=generator)
    return torch.multinomial(sample_weights, n, replacement=True, generator=generator)
