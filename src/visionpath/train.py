"""Training: one readable loop, in labelled phases.

    train()
      1. settle the settings   decided and explained (defaults.resolve); a resumed run reads its own
      2. prepare the data      uint8 tensors on the training device, augmentation, class balance
      3. build the model       pretrained weights, device, precision
      4. fit                   for each epoch: train_one_epoch, validate, record, checkpoint, maybe stop early
      5. finish                restore the best epoch, score the test split, draw, report

A pretrained backbone trains in two stages: `epochs` epochs of the new head on the frozen backbone (its features
computed once and cached; with early stopping, fewer once its validation loss stops falling), then
`fine_tune_epochs` epochs of fine-tuning, numbered on from the last epoch of stage 1. Loss and accuracy are summed
on the device and read once per progress-bar refresh, not after every step. Ctrl-C stops at once (waiting only for an
epoch's files to be written whole); the run keeps every finished epoch and continues with `--resume`.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Iterator

import torch

from .augment import PRESETS, Augmentation, augment_batch, make_augmentation
from .checkpoint import (FORMAT, load_tensors, optimizer_from_tensors, optimizer_to_tensors, read_metadata,
                         save_checkpoint)
from .checks import check_project
from .config import TrainConfig
from .console import progress_bar, say
from .data import Dataset
from .data.check import quick_check, seen_in_training
from .data.folder import scan_folder, scan_labels
from .data.suspects import SUSPECTS_FILE, TRUSTED, disputed_labels, write_suspects
from .defaults import REPORT_SECONDS, after_head, announce, resolve, rest_after_head
from .devices import mixed_precision, pick_precision
from .distributed import (ONE, Processes, everywhere, gather_objects, in_shares, join, launch, leave,
                          lost_peer, on_main, parallel, parse_devices, sum_over, under_torchrun)
from .errors import AlreadySaid, VisionpathError
from .evaluate import Evaluation, evaluate_images, evaluate_logits
from .files import atomic_write, remove_leftovers
from .i18n import language, plural, tr
from .models import (OFFLINE_WEIGHTS, border_brightness, count_parameters, create_model, features_in_batches,
                     is_convolutional, load_pretrained, logits_in_batches, model_entry, prepare_for_device, scaling_for)
from .optim import make_optimizer, penalised_loss, refitted_rate, set_learning_rate, warm_up_epochs
from .report import plot_curves, training_summary
from .run_folder import load_run_data, new_run_dir, read_file_record, write_data_record, write_history
from .runs import Run, write_run_report
from .tensorboard_log import check_installed, log_epoch, log_finish
from .version import __version__


def train(data: str | Path | None = None, *, config: TrainConfig | None = None, resume: str | Path | None = None,
          devices: str | int | None = None, stop_if: Callable[[dict], bool] | None = None, **settings) -> Run:
    """Train a model on `data` (a built-in dataset name or a folder of class subfolders); returns the Run.

    Every setting of `TrainConfig` is a keyword (listed below; `help(visionpath.TrainConfig)`), or pass a whole
    `config=`, whose values the keywords override. Settings left out are decided for the model and the data, and
    the run says how. resume: a run folder to continue from its last completed epoch, with its own settings.
    devices: train in several processes (data-parallel): a number (one per GPU, or CPU processes), or the GPUs to
    use ("0,2"); they are started through torchrun. Inside torchrun, the processes it started train together.
    stop_if: called with each epoch's row (as in results.csv) once the epoch is saved; True ends the run there, as
    early stopping does (the best epoch is kept and scored). A search's pruner stops unpromising trials with it.
    """
    if devices is not None and not under_torchrun():
        if stop_if is not None:  # the epochs happen in other processes, which cannot call back into this one
            raise VisionpathError(tr("stop_if works in one process; leave out devices, or stop_if."))
        return launched(devices, data, config, resume, settings)
    processes, device = join(device_named(resume, config, settings))  # a device this machine lacks: one sentence
    try:
        if resume is None and (earlier := restarted_run(processes, config, settings)) is not None:
            data, config, resume, settings = None, None, earlier, {}
        return train_processes(processes, device, data, config, resume, settings, stop_if)
    finally:
        leave(processes)


def given_config(data, config: TrainConfig | None, settings: dict) -> TrainConfig:
    """The settings train() was given: a whole config, the keywords over it, and the data."""
    keywords = {**(config.to_dict() if config is not None else {}), **settings}
    if data is not None:
        keywords["data"] = data
    return TrainConfig.from_keywords(**keywords)


def device_named(resume, config: TrainConfig | None, settings: dict) -> str:
    """The --device a run asks for: a resumed run's own, else the one given."""
    saved = Path(resume, "config.json") if resume is not None else None
    if saved is not None and saved.is_file():
        return json.loads(saved.read_text())["settings"].get("device", "auto")
    return settings.get("device", config.device if config is not None else "auto")


def train_processes(processes: Processes, device: torch.device, data, config: TrainConfig | None, resume,
                    settings: dict, stop_if: Callable[[dict], bool] | None = None) -> Run:
    """`train` in this process, one of `processes` (all of them train the same run)."""
    entered = time.perf_counter()  # a --budget counts from here: settling, reading and building take of it too
    # ---- 1. settle the settings ---------------------------------------------------------------------------
    if resume is not None:
        run, saved = open_for_resume(resume, data, config, settings)
        config, chosen = resolve(run.config)  # decided already; a run of an older version may leave one to derive
    else:
        given = given_config(data, config, settings)  # a misspelt setting or a bad value: said here
        # the photo defaults measure this machine: rank 0's choices are every process's
        config, chosen = on_main(processes, lambda: resolve(given, processes.sharing(device)))
        announce(chosen)
        reasons = {name: choice.why for name, choice in chosen.items() if choice.why}
        run, saved = None, None
    check_project(config.project)
    if config.tensorboard:
        check_installed()  # before any work
    torch.manual_seed(config.seed)
    # ---- 2. prepare the data -----------------------------------------------------------------------------
    batch_given = saved is not None or chosen.get("batch_size") is None  # a resumed run's batch was fitted already
    prepared = prepare_everywhere(config, processes, device, run.path if saved is not None else None, batch_given)
    if prepared.batch_size != config.batch_size:  # said and recorded as the other settings the run decided
        reasons["batch_size"] = tr(
            "batch size {fitted}: the recipe's {batch_size} is larger than the {n_train:,} training images, and a "
            "batch of at most half of them gives each epoch two steps or more (change with --batch-size)",
            fitted=prepared.batch_size, batch_size=config.batch_size, n_train=len(prepared.labels))
        say(reasons["batch_size"])
        config = replace(config, batch_size=prepared.batch_size)
    # ---- 3. build the model --------------------------------------------------------------------------------
    model = build_model(config, prepared, saved)
    if run is None:
        run = Run(on_main(processes, lambda: start_run_folder(config, prepared.dataset, model, reasons)))
        record_launch(run.path, processes)
    state, generators = TrainingState.start(config, saved, prepared.device, entered)
    introduce(run.path, config, prepared, model, state)
    # ---- 4. fit --------------------------------------------------------------------------------------------
    try:
        run.stopped, config = fit(run.path, config, prepared, model, state, generators, saved, stop_if)
        run.config = config  # as config.json now holds it: fine-tuning may be chosen again after stage 1
    except KeyboardInterrupt as stop:  # Ctrl-C: the run folder holds every finished epoch, whole
        return interrupted(run, processes, isinstance(stop, Stopped))
    except Diverged as stop:
        if state.best["epoch"] == 0:
            discard_if_empty(run, processes)
            raise VisionpathError(stop.advice(tr("no epoch finished with finite numbers"))) from None
        say(stop.advice(tr("the run keeps its best epoch, {epoch}, whose weights are scored below",
                                   epoch=state.best['epoch'])))
        run.diverged = True
    except RuntimeError as e:  # another process stopped (killed, out of memory): its collectives fail here
        if not processes.several or not lost_peer(e):
            raise
        discard_if_empty(run, processes)
        how = tr("it stopped answering") if "timed out" in str(e).lower() else tr("the connection to it broke")
        raise VisionpathError(tr("another process of this run stopped ({how}); {saved_through}",
                                 how=how, saved_through=saved_through(run.path, processes))
                              ) from None
    except BaseException:
        discard_if_empty(run, processes)
        raise
    # ---- 5. finish (rank 0 alone: it scores the test split and writes what is left) ---------------------------
    if processes.main:
        finish(run.path, config, prepared, model, state)
    return run


def launched(devices: str | int, data, config: TrainConfig | None, resume, settings: dict) -> Run:
    """`train` in the processes `devices` asks for: `visionpath train` with the same settings, started through
    torchrun's launcher. The run is the folder their rank 0 made."""
    if resume is not None:
        open_for_resume(resume, data, config, settings)  # a run that cannot be resumed: said here, once
        argv = ["train", "--resume", str(resume)]
    else:
        given = given_config(data, config, settings)  # a bad setting: said here, once
        if given.batch_size is not None:
            check_share(given.batch_size, parse_devices(devices)[0])
        argv = ["train", *given.arguments()]
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "run"
        ended = launch(argv, devices, {RUN_RECORD: str(record), "VISIONPATH_LANG": language()})
        path = Path(resume) if resume is not None else Path(record.read_text()) if record.is_file() else None
    if ended.killed:
        world = Processes(world=parse_devices(devices)[0])
        raise VisionpathError(tr("{killed}; {saved}", killed=ended.killed,
                                 saved=saved_through(path, world) if path else tr("no run folder was made.")))
    if ended.status not in (0, 1, 130) or path is None:
        raise AlreadySaid(tr("the training processes stopped with exit status {status}", status=ended.status))
    run = Run(path)
    run.diverged, run.interrupted = ended.status == 1, ended.status == 130
    return run


def check_share(batch_size: int, world: int) -> None:
    """Every process needs 2 pictures of each batch (batch norm's statistics of one picture are not defined)."""
    if batch_size < 2 * world:
        raise VisionpathError(tr("--batch-size {batch_size} is the whole batch, shared by {world} processes; use at "
                                 "least {value}, 2 pictures for each.",
                                 batch_size=batch_size, world=world, value=2 * world))


# the file where the launched processes' rank 0 writes its run folder's path, for the launching process
RUN_RECORD = "VISIONPATH_RUN_RECORD"


def record_launch(run_dir: Path, processes: Processes) -> None:
    """Rank 0, under torchrun: the run folder's path for a launching `train(devices=...)`, and launch.json, by which
    a restart of the same launch finds the run again (restarted_run)."""
    if not processes.main or not under_torchrun():
        return
    if RUN_RECORD in os.environ:
        atomic_write(Path(os.environ[RUN_RECORD]), str(run_dir))
    atomic_write(run_dir / "launch.json", json.dumps({"torchrun": launch_key()}))


def launch_key() -> str:
    """Which torchrun launch this process belongs to, the same across torchrun's restarts of it: the rendezvous id,
    this machine, and torchrun's own process (the parent of the processes it starts)."""
    return f"{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}@{socket.gethostname()}:{os.getppid()}"


def restarted_run(processes: Processes, config: TrainConfig | None, settings: dict) -> Path | None:
    """After torchrun restarted the processes (--max-restarts), the run their first start made, to resume from its
    last finished epoch; None on a first start, or when no epoch of that run had finished."""
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if not under_torchrun() or restart == 0:
        return None
    project = Path(settings.get("project", config.project if config is not None else TrainConfig.project))

    def find() -> Path | None:
        ours = [record.parent for record in project.glob("*/launch.json")
                if json.loads(record.read_text()).get("torchrun") == launch_key()
                and (record.parent / "last.safetensors").is_file()]
        return max(ours, key=lambda run: run.stat().st_mtime) if ours else None
    earlier = on_main(processes, find)
    if earlier is not None:
        say(tr("torchrun restarted the processes (restart {restart}): resuming {earlier} from its last finished "
               "epoch",
               restart=restart, earlier=earlier))
    return earlier


# ============================================================================= 1. settings, and the run folder

@dataclass
class Saved:
    """The last checkpoint of a run being resumed."""
    path: Path
    metadata: dict   # the checkpoint's: model, classes, input shape, pixel scaling
    resume: dict     # what resuming needs: epoch, history, best, the optimiser's settings, precision


def open_for_resume(resume: str | Path, data, config, settings: dict) -> tuple[Run, Saved]:
    """The run to continue and its last checkpoint."""
    if data is not None or config is not None or settings:
        raise VisionpathError(tr("--resume continues a run with its own settings; leave out the others (to change "
                                 "them, start a new run)."))
    run_dir = Path(resume)
    last = run_dir / "last.safetensors"
    if not (run_dir / "config.json").is_file() or not last.is_file():
        raise VisionpathError(tr("{run_dir} is not a run folder that can be resumed (it needs config.json and "
                                 "last.safetensors, written after the first epoch).",
                                 run_dir=run_dir))
    if leftovers := remove_leftovers(run_dir):
        say(tr("removed {leftovers} half-written file(s) in {run_dir} left when the run was stopped while saving; "
               "the files they would have replaced are whole",
               leftovers=leftovers, run_dir=run_dir))
    run = Run(run_dir)
    record = read_file_record(run_dir)
    if record is not None:  # the same classes, or the saved weights would answer with the wrong names
        try:
            classes, _ = scan_labels(record.root, run.config.labels) if run.config.labels else scan_folder(record.root)
        except VisionpathError as e:
            raise VisionpathError(tr("cannot resume {run_dir}: {e}", run_dir=run_dir, e=e)) from None
        if classes != record.classes:
            raise VisionpathError(tr("the classes in {root} are now {classes}, but {run_dir} was trained on "
                                     "{classes2}; resuming needs the same classes. Restore the folder, or start a "
                                     "new run on it.",
                                     root=record.root, classes=', '.join(classes), run_dir=run_dir,
                                     classes2=', '.join(record.classes)))
    metadata = read_metadata(last)
    return run, Saved(last, metadata, metadata["resume"])


def discard_if_empty(run: Run, processes: Processes = ONE) -> None:
    """A run folder that never got a finished epoch holds nothing to keep: removed (by rank 0), so a failed start
    leaves no half-made run behind."""
    if processes.main and not (run.path / "last.safetensors").exists():
        shutil.rmtree(run.path, ignore_errors=True)


def start_run_folder(config: TrainConfig, dataset: Dataset, model: "TrainingModel", reasons: dict[str, str]
                     ) -> Path:
    """A new run folder with the run's data record and config.json (with why each setting left out was decided as
    it was: the precision this machine trains fastest in, the photo defaults)."""
    run_dir = new_run_dir(config.project, config.name or f"{dataset.name}-{config.model}")
    write_data_record(run_dir, dataset)
    config.write(run_dir / "config.json", model_args=model.metadata["model_args"], classes=dataset.classes,
                 input_shape=list(dataset.input_shape), decided=reasons)
    return run_dir


# ================================================================================================ 2. data

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
    unbalanced: bool                       # largest class over 1.5× the smallest: show balanced accuracy too
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
    unbalanced = bool(counts.max() > 1.5 * counts.min())
    if balance == "auto":
        # measured on hymenoptera with bees cut to 4:1 (balance_hymenoptera.md): balanced validation accuracy
        # 92.7% with none, 95.6% with weights, 96.3% with the sampler; weights keeps "an epoch is every picture
        # once", and on balanced data it changes nothing
        balance = "weights" if unbalanced else "none"
        if unbalanced:
            say(tr("classes unbalanced ({value:.1f}:1): the loss weighs each class by the inverse of its share "
                   "(change with --balance none|weights|sampler)",
                   value=counts.max() / counts.min().clamp_min(1)))
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


# =============================================================================================== 3. model

@dataclass
class TrainingModel:
    """The network being trained and how it runs."""
    net: torch.nn.Module
    forward: Callable             # net, or net compiled by torch.compile (checkpoints keep saving the plain one)
    mean: list[float]             # pixel scaling, as the model's registry entry asks
    std: list[float]
    precision: str                # fp32, or bf16 or fp16 autocast
    two_stages: bool              # a pretrained backbone: the head on the frozen backbone first, then fine-tuning
    metadata: dict                # what every checkpoint carries: model, arguments, classes, input shape, scaling
    layout: torch.memory_format   # channels_last for convolutional models: the layout fast conv kernels want
    autocast: torch.autocast      # bf16 or fp16 mixed precision, or off; made once and entered every step
    scaler: torch.amp.GradScaler  # fp16's loss scaling (off otherwise: then it passes the loss and step through)


def build_model(config: TrainConfig, data: TrainingData, saved: Saved | None) -> TrainingModel:
    """The network (with ImageNet weights for a new pretrained run; a resumed run loads its own), on the device."""
    dataset, entry = data.dataset, model_entry(config.model)
    model_args = {k: getattr(config, k) for k in ("width", "depth", "dropout") if getattr(config, k) is not None}
    if entry.pretrained and config.image_size:
        model_args["resolution"] = config.image_size
    net = create_model(config.model, len(dataset.classes), dataset.input_shape, **model_args)
    two_stages = entry.pretrained and bool(config.pretrained or config.weights)
    if two_stages and saved is None:
        load_pretrained(net, config.weights)
        offline = OFFLINE_WEIGHTS.get(entry.timm_name)
        source = config.weights or (tr("the {package} package (offline)", package=offline[2]) if offline
                                    else tr("the hub (cached by timm)"))
        say(tr("pretrained ImageNet weights from {source}", source=source))
    if saved is not None:  # continue exactly where the last completed epoch left off
        net.load_state_dict(load_tensors(saved.path, "model."))
    if synchronise_batch_norm(config, data.processes, data.device, net):
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)  # the same parameters, in new modules
    net = prepare_for_device(net, data.device)
    mean, std = scaling_for(entry, dataset.mean, dataset.std)
    if saved is not None:  # the scaling the weights were trained with, even if some pictures are gone since
        mean, std = saved.metadata["mean"], saved.metadata["std"]
    metadata = {"format": FORMAT, "visionpath_version": __version__, "model": config.model,
                "model_args": {**entry.arguments, **model_args}, "classes": dataset.classes,
                "input_shape": list(dataset.input_shape), "mean": mean, "std": std, "dataset": dataset.name,
                # whether a mirrored picture is the same class: predict's --tta averages with mirrors only then
                "mirror_safe": dataset.mirror_safe or data.augmentation.flip}
    if dataset.input_shape[0] == 1:  # lets prediction warn about grey pictures drawn the other way round (dark
        # digits on white paper); colour photos have every kind of background
        sample = dataset.train.images[:: max(1, len(dataset.train) // 2000)][:2000]
        metadata["border_brightness"] = border_brightness(sample).median().item()
    # auto was decided when the settings were (defaults.resolve: once per machine, the first process's for all)
    precision = saved.resume["precision"] if saved is not None and "precision" in saved.resume else \
        pick_precision(config.precision, data.device)[0]
    forward = torch.compile(net) if config.compile else net
    layout = torch.channels_last if is_convolutional(net) else torch.contiguous_format
    autocast = mixed_precision(data.device, precision)
    # fp16's narrow range loses small gradients unless the loss is scaled up first (bf16 has fp32's range)
    scaler = torch.amp.GradScaler(data.device.type, enabled=precision == "fp16")
    return TrainingModel(net, forward, mean, std, precision, two_stages, metadata, layout, autocast, scaler)


def synchronise_batch_norm(config: TrainConfig, processes: Processes, device: torch.device, net: torch.nn.Module
                           ) -> bool:
    """Whether batch norm gathers its statistics over all processes (--sync-bn), and why, said. Its statistics from
    a few pictures are noisy; synchronising costs a collective in every batch-norm layer, so it is worth it only
    when each process gets a small share. PyTorch synchronises over NCCL only: on GPUs."""
    if not processes.several or not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        return False
    share = config.batch_size // processes.world
    if device.type != "cuda":
        if config.sync_bn:
            raise VisionpathError(tr("--sync-bn works between GPUs only (PyTorch synchronises batch norm over "
                                     "NCCL); leave it out for CPU processes."))
        say(tr("batch norm: each process normalises its own {share} pictures (synchronised only between GPUs)",
               share=share))
        return False
    chosen = config.sync_bn if config.sync_bn is not None else share < 32
    why = tr("as asked") if config.sync_bn is not None else \
        tr("each GPU gets {share} pictures a step; the default synchronises under 32", share=share)
    say(tr("batch norm: synchronised over the {world} GPUs ({why}; --sync-bn/--no-sync-bn)", world=processes.world,
           why=why) if chosen else
        tr("batch norm: not synchronised between the {world} GPUs ({why}; --sync-bn/--no-sync-bn)",
           world=processes.world, why=why))
    return chosen


# ================================================================================================= 4. fit

@dataclass
class Generators:
    """The run's own random streams, saved with every checkpoint so that a resumed run draws what the whole run
    would have (the global stream, for initial weights, dropout and TrivialAugment, is saved beside them)."""
    shuffle: torch.Generator    # each epoch's order of pictures
    augment: torch.Generator    # augmentation's random settings, on the training device


@dataclass
class TrainingState:
    """Where training stands: what has been recorded, and the best epoch so far."""
    history: list[dict]     # one row per finished epoch, as in results.csv
    best: dict              # epoch, val_accuracy, val_loss of the best epoch so far
    epoch: int              # the last finished epoch (0 before the first)
    elapsed: float          # training seconds so far
    started: float          # when this process took the run up (time.perf_counter())
    elapsed_before: float = 0.0  # the training seconds of earlier processes (a resumed run)

    @staticmethod
    def start(config: TrainConfig, saved: Saved | None, device: torch.device, started: float
              ) -> tuple["TrainingState", Generators]:
        """A new run's state, or a resumed run's as its last checkpoint left it (random streams included); this
        process took the run up at `started` (time.perf_counter())."""
        generators = Generators(torch.Generator().manual_seed(config.seed),
                                torch.Generator(device=device).manual_seed(config.seed + 1))
        if saved is None:
            return TrainingState([], {"epoch": 0, "val_accuracy": -1.0, "val_loss": math.inf}, 0, 0.0,
                                 started), generators
        rng = load_tensors(saved.path, "rng.")
        torch.set_rng_state(rng["torch"])
        generators.shuffle.set_state(rng["shuffle"])
        if "augment" in rng:
            generators.augment.set_state(rng["augment"])
        history = saved.resume["history"]
        elapsed = history[-1]["time"] if history else 0.0
        return TrainingState(history, saved.resume["best"], saved.resume["epoch"], elapsed, started,
                             elapsed), generators

    def counted_rows(self, stage: int, warm: int = 0) -> list[dict]:
        """The stage's epochs after its first `warm` (those inside its learning rate's warm-up)."""
        return [row for row in self.history if row.get("stage", 1) == stage][warm:]

    def patience_used(self, stage: int, warm: int = 0) -> int:
        """Early stopping's count: epochs of this stage since the stage's own best epoch. Each stage counts on its
        own: fine-tuning's first epochs, which dip below the head while the backbone starts to move, are weighed
        against fine-tuning's best, not the head's (the run still keeps the best epoch of either stage); the
        stage's first `warm` epochs (its learning rate still warming up) are not counted at all."""
        rows = self.counted_rows(stage, warm)
        if not rows:
            return 0
        best = max(range(len(rows)), key=lambda i: (rows[i]["val_accuracy"], -rows[i]["val_loss"], -i))
        return len(rows) - 1 - best

    def accuracy_rose(self, stage: int, warm: int = 0) -> bool:
        """Whether the stage's last epoch beat the stage's earlier validation accuracy (or is inside its warm-up):
        what lets a plan grow. A lower loss at the same accuracy is kept as the best epoch, but does not pay for
        more epochs (at 100% on validation the loss falls for ever, by millionths)."""
        rows = self.counted_rows(stage, warm)
        return len(rows) < 2 or rows[-1]["val_accuracy"] > max(row["val_accuracy"] for row in rows[:-1])

    def spent(self) -> float:
        """Seconds the run has taken so far: its earlier processes' epochs, and all of this process's time."""
        return self.elapsed_before + time.perf_counter() - self.started


def head_epochs(config: TrainConfig, history: list[dict]) -> int:
    """Stage 1's length: --epochs, or fewer where early stopping ended it: the head has converged when its
    validation loss has not fallen for `early_stopping` epochs. (Loss, not accuracy: on a few hundred validation
    pictures accuracy jumps by whole pictures while the head is still improving.) Read from the history, so that
    a resumed run finds the same end."""
    if not config.early_stopping:
        return config.epochs
    lowest, since = math.inf, 0
    for row in history:
        if row.get("stage", 1) != 1:
            break
        lowest, since = (row["val_loss"], 0) if row["val_loss"] < lowest else (lowest, since + 1)
        if since >= config.early_stopping:
            return row["epoch"]
    return config.epochs


def total_epochs(config: TrainConfig, model: TrainingModel, history: list[dict]) -> int:
    """The run's epochs as far as they are known: stage 1's may end sooner, and fine-tuning follows it, as long as
    planned (filling a budget, as last re-planned)."""
    if not model.two_stages:
        return config.epochs
    head = head_epochs(config, history)
    return head + fine_tune_plans(config, history, head)[-1]


def fine_tune_plans(config: TrainConfig, history: list[dict], head: int) -> list[int]:
    """Stage 2's length in epochs while each of its epochs trained: --fine-tune-epochs, then (filling a budget)
    the length re-planned after each epoch, as results.csv records it, so that a resumed run repeats every
    decision."""
    replanned = [row["planned_epochs"] - head for row in history
                 if row.get("stage", 1) == 2 and "planned_epochs" in row] if config.fill_budget else []
    return [config.fine_tune_epochs] + replanned


def replan(config: TrainConfig, data: TrainingData, state: TrainingState, stage: Stage, validating: float
           ) -> tuple[int, int]:
    """After an epoch of fine-tuning that fills the budget: the run's length from now on. As many more epochs as
    the time left holds, each as long as the last one measured, while validation accuracy still rises (this epoch
    beat the stage's earlier ones, or fine-tuning is still warming up); otherwise no longer than planned, and
    shorter when the plan no longer fits. What is left after the epochs is scoring the test split (about a
    validation pass per validation-sized share of it) and the report. Returns (the new length, the epochs that
    the time left holds)."""
    validation = len(data.dataset.validation)
    scored = len(data.dataset.test) if scores_test(config, data.dataset) else validation
    finish = REPORT_SECONDS + validating * scored / max(1, validation)
    left = 60 * config.budget - state.spent() - finish
    fits = max(0, int(left / state.history[-1]["epoch_time"] + 0.5))  # to the nearest epoch: within half of one
    planned = stage.epochs.start - 1 + stage.plans[-1]
    improving = state.accuracy_rose(2, stage.warm)
    return max(state.epoch, state.epoch + fits if improving else min(planned, state.epoch + fits)), fits


def say_replanned(state: TrainingState, before: int, fits: int) -> None:
    """What filling the budget decided after an epoch of fine-tuning, when it changed the plan or ended it."""
    after, seconds = state.history[-1]["planned_epochs"], state.history[-1]["epoch_time"]
    if after == state.epoch and fits == 0:
        say(tr("fine-tuning ends after epoch {epoch}: another epoch ({seconds:.0f}s) would run over the budget by "
               "more than half of it", epoch=state.epoch, seconds=seconds))
    elif after != before:
        say(tr("fine-tuning re-planned to end after epoch {after} instead of {before}: that is what the budget holds "
               "at {seconds:.0f}s an epoch{improving}; the learning rate is re-fitted to the epochs left",
               after=after, before=before, seconds=seconds,
               improving=tr(", while validation accuracy improves") if after > before else ""))


def introduce(run_dir: Path, config: TrainConfig, data: TrainingData, model: TrainingModel,
              state: TrainingState) -> None:
    """Say what the run will do: the model, the arithmetic of epochs, iterations and images, and the stages."""
    total = total_epochs(config, model, state.history)
    if state.epoch:
        say(tr("resuming {run_dir} after epoch {epoch}/{total}", run_dir=run_dir, epoch=state.epoch, total=total))
    say(tr("model {model}: {count_parameters:,} parameters; {optimizer} at lr {lr:g} ({schedule} schedule), on "
           "{type} in {precision}",
           model=config.model, count_parameters=count_parameters(model.net), optimizer=config.optimizer,
           lr=config.lr, schedule=config.schedule, type=data.device.type, precision=model.precision))
    if data.processes.several:
        say(data.processes.describe(config.batch_size))
    say(tr("{total} epochs × {iterations:,} iterations × {batch_size} images = {value:,} steps (an iteration is one "
           "batch; an epoch is every one of the {n_labels:,} training images once); results in {run_dir}",
           total=total, iterations=data.iterations, batch_size=config.batch_size, value=total * data.iterations,
           n_labels=len(data.labels), run_dir=run_dir))
    if model.two_stages:
        say(tr("stage 1: {value}{epochs} epochs training the new head, backbone frozen{value2}; stage 2: "
               "{value}{fine_tune_epochs} epochs fine-tuning {value3} at lr {fine_tune_lr:g}",
               value=tr("up to ") if config.early_stopping else "", epochs=config.epochs,
               value2=tr(" (on cached features)") if config.feature_cache else "",
               fine_tune_epochs=config.fine_tune_epochs,
               value3=tr("the top {unfreeze} blocks", unfreeze=config.unfreeze) if config.unfreeze
               else tr("the whole network"),
               fine_tune_lr=config.fine_tune_lr))


def fit(run_dir: Path, config: TrainConfig, data: TrainingData, model: TrainingModel, state: TrainingState,
        generators: Generators, saved: Saved | None, stop_if: Callable[[dict], bool] | None = None
        ) -> tuple[bool, TrainConfig]:
    """The epochs after state.epoch, each: train, validate, record, checkpoint. Early stopping ends stage 1 of a
    pretrained backbone when the head has converged (head_epochs), and the last stage when validation accuracy
    has not improved for `early_stopping` epochs; `stop_if` (given each epoch's row) ends the run when it says so.
    Returns whether stop_if ended it, and the settings it ended with (a folder of photos chooses fine-tuning again
    once stage 1 is done: settings_after_head). Ctrl-C raises KeyboardInterrupt."""
    stage = None
    with progress_bar() as bar, CtrlC() as ctrl_c:
        while state.epoch < (total := total_epochs(config, model, state.history)):
            epoch, t0 = state.epoch + 1, time.perf_counter()
            head = head_epochs(config, state.history)
            number = 2 if model.two_stages and epoch > head else 1
            if stage is None or stage.number != number:
                stage = None  # the last stage's DistributedDataParallel goes, with its hooks on the parameters
                if number == 2:  # decided on rank 0, from the history every process shares
                    resumed = saved is not None and saved.resume["epoch"] > head
                    config = on_main(data.processes, lambda: settings_after_head(run_dir, config, data, state,
                                                                                 head, resumed))
                    if state.epoch >= total_epochs(config, model, state.history):  # fine-tuning skipped
                        break
                stage = start_stage(number, head, config, data, model, bar, state.history)
                if stage.features is not None and data.dataset.folder is not None:
                    on_main(data.processes, lambda: note_disputed_labels(run_dir, data, stage.features))
                if saved is not None and saved.resume["epoch"] in stage.epochs:  # resumed inside this stage
                    stage.load_optimizer_state(saved)
                elif number == 2 and head < config.epochs:
                    say(tr("stage 1 converged: its validation loss has not fallen for {epochs}; fine-tuning starts "
                           "after epoch {head} of {epochs2}",
                           epochs=plural(config.early_stopping, 'epoch'), head=head, epochs2=config.epochs))
            trained = train_one_epoch(epoch, total, stage, config, data, model, generators, bar)
            validating = time.perf_counter()
            validation = validate(stage, data, model)
            validating = time.perf_counter() - validating
            if not (math.isfinite(trained[0]) and math.isfinite(validation.loss)):  # nothing of it is saved
                raise Diverged(epoch, stage, trained[0] if not math.isfinite(trained[0]) else validation.loss)
            improved = record_epoch(state, epoch, stage, trained, validation, time.perf_counter() - t0)
            row = state.history[-1]
            if config.fill_budget and stage.number == 2:  # decided now, recorded in the row: --resume repeats it
                row["planned_epochs"], fits = on_main(data.processes,  # timed here, the same for every process
                                                      lambda: replan(config, data, state, stage, validating))
                stage.plans = fine_tune_plans(config, state.history, head)  # the lr's from now on
                say_replanned(state, total, fits)
            total = row["planned_epochs"] = total_epochs(config, model, state.history)  # stage 1 may have converged
            say(tr("epoch {epoch}/{total} · {iterations:,} iterations × {batch_size} images · {epoch_time:.1f}s · "
                   "loss {train_loss:.4f} acc {train_accuracy:.2%} · val loss {val_loss:.4f} acc "
                   "{val_accuracy:.2%}{value}{value2}",
                   epoch=epoch, total=total, iterations=data.iterations, batch_size=config.batch_size,
                   epoch_time=row['epoch_time'], train_loss=row['train_loss'], train_accuracy=row['train_accuracy'],
                   val_loss=row['val_loss'], val_accuracy=row['val_accuracy'],
                   value=tr(" (balanced {accuracy:.2%})", accuracy=validation.balanced_accuracy)
                   if data.unbalanced else "", value2=tr(" · best") if improved else ""))
            with ctrl_c.deferred():  # the epoch's files are written whole, or not at all
                if data.processes.main:
                    save_epoch(run_dir, model, stage, state, generators, improved)
                if data.processes.main and config.tensorboard:  # after the checkpoint: what it shows was saved
                    log_epoch(run_dir, row, data.dataset.train.images[:16] if epoch == 1 else None)
            if stop_if is not None and on_main(data.processes, lambda: stop_if(row)) and epoch < total:
                say(tr("stopped after epoch {epoch}, as asked (stop_if); restoring epoch {best}",
                       epoch=epoch, best=state.best['epoch']))
                return True, config
            last_stage = stage.number == (2 if model.two_stages else 1)  # stage 1 ends by head_epochs
            if config.early_stopping and last_stage and \
                    state.patience_used(stage.number, stage.warm) >= config.early_stopping:
                say(tr("early stopping: no better validation accuracy for {epochs}; restoring epoch {epoch}",
                       epochs=plural(config.early_stopping, 'epoch'), epoch=state.best['epoch']))
                break
    return False, config


def settings_after_head(run_dir: Path, config: TrainConfig, data: TrainingData, state: TrainingState, head: int,
                        resumed: bool) -> TrainConfig:
    """Fine-tuning chosen again from the head's best validation accuracy (defaults.after_head), for the settings
    the photo defaults chose: written to config.json (with why) before stage 2 starts, and derived again from the
    same history when the run is resumed, so that it decides the same; the rest of the run forecast again at the
    speed of what it chose. Other runs keep their settings."""
    history = state.history
    record = json.loads((run_dir / "config.json").read_text())
    decided = set(record.get("decided", {}))
    if "model" not in decided:  # not the photo defaults' run: a --model, or a run of an older version
        return config
    dataset = data.dataset
    photos = len(dataset.train) + (len(dataset.validation) if dataset.validation_from_train else 0)
    accuracy = max(row["val_accuracy"] for row in history if row["epoch"] <= head)
    values, why = after_head(accuracy, len(dataset.validation), photos / len(dataset.classes), config, decided)
    config = replace(config, **values)
    if not resumed:
        say(why)
        scored = len(dataset.test if scores_test(config, dataset) else dataset.validation)
        say(rest_after_head(config, (len(dataset.train), len(dataset.validation), scored), data.device,
                            data.processes.sharing(data.device), state.spent()))
    if record["settings"] != config.to_dict():
        record["settings"] = config.to_dict()
        record["decided"].update(dict.fromkeys(values, why))
        atomic_write(run_dir / "config.json", json.dumps(record, indent=2, ensure_ascii=False))
    return config


class Diverged(Exception):
    """The loss of an epoch was not a finite number: the weights are ruined, and training stops."""

    def __init__(self, epoch: int, stage: Stage, loss: float):
        super().__init__(tr("diverged in epoch {epoch}", epoch=epoch))
        self.epoch, self.stage, self.loss, self.rate = epoch, stage.number, loss, stage.peak_lr

    def advice(self, outcome: str) -> str:
        rate, value = ("--fine-tune-lr" if self.stage == 2 else "--lr"), self.rate
        return (tr("training diverged in epoch {epoch}: the loss became {loss} with {rate} {value:g}; {outcome}. "
                   "Try a lower {rate}, e.g. {value2:g}.",
                   epoch=self.epoch, loss=self.loss, rate=rate, value=value, outcome=outcome, value2=value / 10))


class Stopped(KeyboardInterrupt):
    """SIGTERM from torchrun: another process of the run ended, or torchrun itself was stopped."""


class CtrlC:
    """Ctrl-C (SIGINT) stops training at once, as Python's KeyboardInterrupt does, except while an epoch's files are
    being written: then it waits until they are, so that the run folder always holds whole epochs (last.safetensors,
    best.safetensors and results.csv agreeing). Under torchrun SIGTERM does the same: it is how torchrun stops the
    other processes when one fails or its own Ctrl-C comes. Signals reach the main thread only: elsewhere, and where
    SIGINT is ignored, nothing changes."""

    def __init__(self):
        self.pressed = 0  # the signal that came, if one did
        self._deferring = False
        self._previous: dict = {}

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            for stop in (signal.SIGINT, signal.SIGTERM) if under_torchrun() else (signal.SIGINT,):
                self._previous[stop] = signal.signal(stop, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.pressed = signum
        if not self._deferring:
            raise Stopped if signum == signal.SIGTERM else KeyboardInterrupt

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A stretch that Ctrl-C does not cut: a press during it takes effect at its end."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self.pressed:
            raise Stopped if self.pressed == signal.SIGTERM else KeyboardInterrupt

    def __exit__(self, kind, error, trace) -> None:
        for stop, previous in self._previous.items():
            signal.signal(stop, previous)
        if kind is not None and issubclass(kind, RuntimeError) and self.pressed:
            # a collective cut short by another process that stopped for the same signal
            raise (Stopped if self.pressed == signal.SIGTERM else KeyboardInterrupt) from error


@dataclass
class FeatureCache:
    """Stage 1's input while the backbone is frozen: its features of every picture, computed once."""
    train: list[torch.Tensor]   # one N×F tensor per view of the training pictures
    validation: torch.Tensor


@dataclass
class Stage:
    """A stretch of epochs with the same frozen and trainable layers: the only stage of a model trained from
    scratch, or stage 1 (the head alone) and stage 2 (fine-tuning) of a pretrained backbone."""
    number: int
    epochs: range                        # the epochs it covers
    peak_lr: float
    optimizer: torch.optim.Optimizer
    penalised: list[torch.nn.Parameter]  # the weights the L1 penalty acts on (matrices and filters that train)
    frozen: list[torch.nn.Module]        # kept in eval mode: their batch-norm statistics do not move
    features: FeatureCache | None        # stage 1 on cached features: only the head runs
    forward: Callable                    # what trains: the model (or the head, on cached features); with several
                                         # processes wrapped in DistributedDataParallel
    plans: list[int]                     # the stage's length in epochs while each of its epochs trains (one plan,
                                         # unless fine-tuning fills a budget: see replan)
    warm: int                            # its first epochs, inside the learning rate's warm-up: early stopping
                                         # does not count them

    def load_optimizer_state(self, saved: Saved) -> None:
        """The optimiser's state from a resumed run's last checkpoint."""
        self.optimizer.load_state_dict(optimizer_from_tensors(load_tensors(saved.path, "optimizer."),
                                                              saved.resume["optimizer"]))
        for param, state in self.optimizer.state.items():  # loaded state is contiguous; match channels_last weights
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape:
                    state[key] = torch.empty_like(param).copy_(value)


def start_stage(number: int, head: int, config: TrainConfig, data: TrainingData, model: TrainingModel, bar,
                history: list[dict]) -> Stage:
    """Freeze or unfreeze for the stage, make its optimiser, and (stage 1 of a pretrained backbone) cache the frozen
    backbone's features. head: stage 1's length (fine-tuning follows it)."""
    net = model.net
    frozen, lr_scale = freeze_for_stage(net, number, config) if model.two_stages else ([], {})
    trainable = [p for p in net.parameters() if p.requires_grad]
    peak = config.fine_tune_lr if number == 2 else config.lr
    if lr_scale:
        say(tr("stage 2: discriminative learning rates, {peak:.2g} for the head down to {value:.2g} for the lowest "
               "block that trains",
               peak=peak, value=peak * min(lr_scale.values())))
    if model.two_stages:
        say(tr("stage {number}: {sum:,} of {count_parameters:,} parameters train",
               number=number, sum=sum(p.numel() for p in trainable), count_parameters=count_parameters(net)))
    plans = fine_tune_plans(config, history, head) if number == 2 else [config.epochs]
    epochs = range(head + 1, head + plans[-1] + 1) if number == 2 else range(1, config.epochs + 1)
    optimizer = make_optimizer(config.optimizer, trainable, peak, config.weight_decay, data.device, lr_scale)
    features = None
    if model.two_stages and number == 1 and config.feature_cache:
        features = cache_features(config, data, model, bar)
    if not data.processes.several:
        forward = net.head if features is not None else model.forward
    else:  # wrapped after freezing: DistributedDataParallel averages the gradients of what trains now
        forward = parallel(data.processes, net.head if features is not None else net, data.device)
        forward = torch.compile(forward) if config.compile and features is None else forward
    return Stage(number, epochs, peak, optimizer, [p for p in trainable if p.dim() > 1], frozen, features, forward,
                 plans, warm_up_epochs(config.schedule, plans[0]) if number == 2 else 0)


def freeze_for_stage(net: torch.nn.Module, number: int, config: TrainConfig
                     ) -> tuple[list[torch.nn.Module], dict[torch.nn.Parameter, float]]:
    """A pretrained backbone's frozen layers for stage `number`, and each fine-tuned parameter's share of the
    learning rate (empty unless --layer-lr-decay is below 1). Stage 1 freezes the whole backbone; stage 2 all but
    its top --unfreeze block groups (all of them when it is not given)."""
    if number == 1:
        net.requires_grad_(True)
        net.backbone.requires_grad_(False)
        return [net.backbone], {}
    frozen, trained = net.train_top(config.unfreeze)
    # Batch norm keeps ImageNet's statistics while fine-tuning (its scale and shift still learn), as the Keras guide
    # advises: measured here, letting small upsampled batches re-estimate them wrecked the head trained in stage 1
    # (validation 70.5% -> 68.3% after a fine-tuning epoch).
    frozen += [m for m in net.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    lr_scale: dict[torch.nn.Parameter, float] = {}
    if config.layer_lr_decay != 1:
        # discriminative learning rates: the head learns at fine_tune_lr, the top block at decay × that, the one
        # below at decay², ...: the lower layers (edges, textures) are the most general and need the least change
        for depth, group in enumerate(reversed(trained), start=1):
            for module in group:
                lr_scale.update((p, config.layer_lr_decay ** depth) for p in module.parameters())
    return frozen, lr_scale


def cache_features(config: TrainConfig, data: TrainingData, model: TrainingModel, bar) -> FeatureCache:
    """One pass of the frozen backbone over the training pictures (or --augmented-views augmented passes) and the
    validation pictures."""
    rng = torch.Generator(device=data.device).manual_seed(config.seed + 2)
    views = config.augmented_views
    passes = [("training pictures", None)] if views == 0 else [
        (tr("training pictures, augmented view {value}/{views}", value=v + 1, views=views),
         lambda b: augment_batch(b, data.augmentation, model.mean, model.std, rng)) for v in range(views)]
    t0 = time.perf_counter()
    bf16, processes = model.precision == "bf16", data.processes
    train = []
    for label, prepare in passes:
        task = bar.add_task(f"features: {label}", total=processes.sizes(len(data.images))[processes.rank], status="")
        train.append(in_shares(processes, data.images, lambda mine, task=task, prepare=prepare: features_in_batches(
            model.net, mine, model.mean, model.std, data.device, bf16, prepare,
            progress=lambda n: bar.update(task, completed=n))))
        bar.remove_task(task)
    validation = in_shares(processes, data.dataset.validation.images, lambda mine: features_in_batches(
        model.net, mine, model.mean, model.std, data.device, bf16))
    say(tr("features cached: {passes} over {n_images:,} training and {n_validation:,} validation "
           "pictures in {value2:.1f}s; stage 1 now trains the head alone",
           passes=plural(len(passes), "pass"), n_images=len(data.images),
           n_validation=len(validation), value2=time.perf_counter() - t0))
    return FeatureCache(train, validation)


def note_disputed_labels(run_dir: Path, data: TrainingData, features: FeatureCache) -> None:
    """The training pictures whose label a head that never saw them disputes (suspects.py): written to
    suspects.csv, the most disputed first, and said; from the features stage 1 cached (their views' mean)."""
    t0 = time.perf_counter()
    train = data.dataset.train
    disputed, agreed = disputed_labels(torch.stack(features.train).mean(0), train.labels, data.dataset.classes,
                                       train.paths)
    write_suspects(run_dir, disputed)
    if disputed:
        say(tr("labels: a head that never saw them disputes {n} of the {total:,} training pictures' labels "
               "({seconds:.1f}s): {SUSPECTS_FILE} lists them, the most disputed first, and report.html shows them; "
               "look at them, and fix those that are wrong", n=len(disputed), total=len(train),
               seconds=time.perf_counter() - t0, SUSPECTS_FILE=SUSPECTS_FILE)
            + (tr(" (the frozen features fit these pictures loosely, the head agreeing with {agreed:.0%} of the "
                  "labels: expect many of them to be right, and start from the top)", agreed=agreed)
               if agreed < TRUSTED else ""))


def train_one_epoch(epoch: int, total: int, stage: Stage, config: TrainConfig, data: TrainingData,
                    model: TrainingModel, generators: Generators, bar) -> tuple[float, float]:
    """One pass over the training pictures in random batches, one optimiser step each: (mean loss, accuracy) over
    the pictures seen. total: the run's epochs as known so far, for the progress bar.

    With several processes every one draws the same order and takes its share of each batch (`Processes.shard`);
    its loss is its share of the whole batch's loss, so the averaged gradient is the one-process gradient of the
    whole batch, class weights and all. Loss and accuracy are summed over the processes at the end."""
    model.net.train()
    for module in stage.frozen:  # frozen layers keep their batch-norm statistics: eval mode
        module.eval()
    processes = data.processes
    if processes.several:  # each process its own augmentation and dropout, the same for a given seed and epoch
        generators.augment.manual_seed(hash((config.seed, epoch, processes.rank)) % 2**62)
        torch.manual_seed(hash((config.seed + 1, epoch, processes.rank)) % 2**62)
    order = draw_order(len(data.labels), data.sample_weights, generators.shuffle).to(data.images.device)
    batch_size, iterations = config.batch_size, data.iterations
    loss_sum = torch.zeros((), device=data.device)
    correct = torch.zeros((), device=data.device, dtype=torch.long)
    task = bar.add_task(tr("epoch {epoch}/{total}", epoch=epoch, total=total), total=iterations, status="")
    shown, mine_seen = time.perf_counter(), 0
    for i in range(iterations):
        step = (epoch - stage.epochs.start) * iterations + i  # each stage's schedule starts at its first epoch
        set_learning_rate(stage.optimizer,
                          refitted_rate(config.schedule, step, iterations, stage.peak_lr, stage.plans))
        batch = order[i * batch_size: (i + 1) * batch_size]
        index = batch[processes.shard(len(batch))]
        pictures, y = batch_of(data, index)

        def forward() -> torch.Tensor:
            if stage.features is not None:  # the head alone, on one view of the cached features
                return stage.forward(stage.features.train[(epoch - 1) % len(stage.features.train)][index])
            x = augment_batch(pictures, data.augmentation, model.mean, model.std, generators.augment)
            return stage.forward(x.contiguous(memory_format=model.layout))
        logits, _, plain = train_step(model, forward, stage.optimizer, y, stage.penalised, config, data.class_weights,
                                      share_of(batch, data) if processes.several else None)
        loss_sum += plain.detach() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        mine_seen += len(y)
        if bar.live.is_started and (time.perf_counter() - shown > 0.25 or i == iterations - 1):
            bar.update(task, completed=i + 1,
                       status=tr("loss {value:.4f} acc {value2:.2%}",
                                 value=loss_sum.item() / mine_seen, value2=correct.item() / mine_seen))
            shown = time.perf_counter()
    bar.remove_task(task)
    sum_over(processes, loss_sum, correct)
    seen = min(iterations * batch_size, len(data.labels))
    return loss_sum.item() / seen, correct.item() / seen


def train_step(model: TrainingModel, forward: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer,
               y: torch.Tensor, penalised: list[torch.nn.Parameter], config: TrainConfig,
               class_weights: torch.Tensor | None, share: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step, as every step of training takes it (lr_find's too): the logits `forward` computes, in
    the run's precision; the loss with its penalties (`share`: this process's part of a batch several share); the
    update, through the loss scaler fp16 needs. Returns (logits, loss, the loss without penalties)."""
    with model.autocast:
        logits = forward()
    logits = logits.float()
    loss, plain = penalised_loss(logits, y, penalised, config.label_smoothing, config.l1, class_weights, share)
    optimizer.zero_grad(set_to_none=True)
    model.scaler.scale(loss).backward()
    model.scaler.step(optimizer)
    model.scaler.update()
    return logits, loss, plain


def share_of(batch: torch.Tensor, data: TrainingData) -> torch.Tensor:
    """What one process divides its summed loss by, so that the processes' average gradient is the gradient of
    the whole batch's mean loss: the batch's size (or, with --balance weights, its total class weight) over the
    number of processes."""
    whole = data.class_weights[data.labels[batch]].sum() if data.class_weights is not None else len(batch)
    return whole / data.processes.world


def validate(stage: Stage, data: TrainingData, model: TrainingModel) -> Evaluation:
    """The epoch's validation: loss, accuracy, balanced accuracy and macro-F1 on the validation pictures (each
    process scores its share; the scores are gathered, so every process has the whole set's numbers)."""
    validation, classes = data.dataset.validation, data.dataset.classes
    with torch.inference_mode():
        if stage.features is not None:
            model.net.eval()
            logits = model.net.head(stage.features.validation)
        else:
            logits = in_shares(data.processes, validation.images, lambda mine: logits_in_batches(
                model.net, mine, model.mean, model.std, data.device, bf16=model.precision == "bf16"))
    return evaluate_logits(logits.float(), validation.labels, classes, "validation")


def record_epoch(state: TrainingState, epoch: int, stage: Stage, trained: tuple[float, float],
                 validation: Evaluation, seconds: float) -> bool:
    """Add the epoch's row to the history; True when it is the best epoch so far (accuracy, then loss)."""
    state.elapsed += seconds
    state.epoch = epoch
    state.history.append({"epoch": epoch, "time": round(state.elapsed, 3), "epoch_time": round(seconds, 3),
                          "stage": stage.number, "lr": stage.optimizer.param_groups[0]["lr"],
                          "train_loss": trained[0], "train_accuracy": trained[1], "val_loss": validation.loss,
                          "val_accuracy": validation.accuracy, "val_balanced_accuracy": validation.balanced_accuracy,
                          "val_macro_f1": validation.macro_f1})
    improved = (validation.accuracy, -validation.loss) > (state.best["val_accuracy"], -state.best["val_loss"])
    if improved:
        state.best = {"epoch": epoch, "val_accuracy": validation.accuracy, "val_loss": validation.loss}
    return improved


def save_epoch(run_dir: Path, model: TrainingModel, stage: Stage, state: TrainingState, generators: Generators,
               improved: bool) -> None:
    """After every epoch: best.safetensors when it improved, last.safetensors always (with what resuming needs:
    optimiser state, random streams, history), and results.csv."""
    meta = {**model.metadata, "epoch": state.epoch, "val_accuracy": state.history[-1]["val_accuracy"]}
    if improved:
        save_checkpoint(run_dir / "best.safetensors", model.net, meta)
    optimizer_tensors, optimizer_rest = optimizer_to_tensors(stage.optimizer)
    resume = {"epoch": state.epoch, "history": state.history, "best": state.best, "optimizer": optimizer_rest,
              "precision": model.precision}
    save_checkpoint(run_dir / "last.safetensors", model.net, {**meta, "resume": resume},
                    {**{f"optimizer.{k}": v for k, v in optimizer_tensors.items()},
                     "rng.torch": torch.get_rng_state(), "rng.shuffle": generators.shuffle.get_state(),
                     "rng.augment": generators.augment.get_state()})
    write_history(run_dir, state.history)


# ============================================================================================== 5. finish

def interrupted(run: Run, processes: Processes = ONE, stop: bool = False) -> Run:
    """Stopped by Ctrl-C (or, under torchrun, by SIGTERM): say what is saved, as the files on disk say, and how to
    continue. Rank 0 speaks and draws for all the processes."""
    run.interrupted = True
    if not processes.main:
        return run
    why = (tr("stopped by torchrun (another process of the run ended, or torchrun was stopped)") if stop
           else tr("interrupted"))
    say(tr("\n{why}; {saved_through}", why=why, saved_through=saved_through(run.path, processes)))
    if not (run.path / "last.safetensors").is_file():
        discard_if_empty(run, processes)
    elif history := run.history:
        run.config = TrainConfig.read(run.path / "config.json")  # as it now holds them: stage 1 may have chosen
        plot_curves(history, run.path / "curves.png", run.config)
    return run


def saved_through(run_dir: Path, processes: Processes = ONE) -> str:
    """What a stopped run keeps, and the command that continues it."""
    last = run_dir / "last.safetensors"
    done = read_metadata(last)["epoch"] if last.is_file() else 0
    if not done:
        return tr("no epoch had finished: nothing to resume, and {run_dir} is removed; start the run again.",
                  run_dir=run_dir)
    devices = f" --devices {processes.world}" if processes.several else ""
    return tr("the run is saved through epoch {done} in {run_dir}. Continue with: visionpath train --resume "
              "{run_dir}{devices}",
              done=done, run_dir=run_dir, devices=devices)


def scores_test(config: TrainConfig, dataset: Dataset) -> bool:
    """Whether the run ends by scoring the test split (there is one, and --score-test); else it shows validation's
    scores. What the forecasts count as the time left to score, and what finish scores."""
    return dataset.test is not None and config.score_test


def finish(run_dir: Path, config: TrainConfig, data: TrainingData, model: TrainingModel,
           state: TrainingState) -> None:
    """Restore the best epoch's weights, score them on the test split, draw the curves, write the report (folders)
    and the summary."""
    dataset, bf16 = data.dataset, model.precision == "bf16"
    model.net.load_state_dict(load_tensors(run_dir / "best.safetensors", "model."))
    plot_curves(state.history, run_dir / "curves.png", config)
    test = None
    if scores_test(config, dataset):
        test = evaluate_images(model.net, dataset.test, dataset.classes, model.mean, model.std, data.device,
                               split="test", bf16=bf16, seen=seen_in_training(dataset.train, dataset.test))
        test.save(run_dir)
    if dataset.folder is not None:  # report.html, on test (else validation) with its misclassified pictures
        shown = test or evaluate_images(model.net, dataset.validation, dataset.classes, model.mean, model.std,
                                        data.device, split="validation", bf16=bf16,
                                        seen=seen_in_training(dataset.train, dataset.validation))
        write_run_report(run_dir, config, state.history, shown, dataset.test if test else dataset.validation,
                         dataset.train)
    if config.tensorboard:
        log_finish(run_dir, state.best["epoch"], run_dir / "curves.png", test and test.accuracy)
    summary = training_summary(run_dir, config, state.history, state.best, test, dataset.validation_from_train)
    atomic_write(run_dir / "summary.txt", summary + "\n")
    say(summary)


# Every setting is a keyword of train(): its signature and docstring are made from TrainConfig, so that help(),
# editors and `inspect.signature` show them all, with their defaults.
train.__signature__ = inspect.Signature(
    [inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation="str | Path | None")]
    + [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
       for f in fields(TrainConfig) if f.name != "data"]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
       for name, annotation in (("config", "TrainConfig | None"), ("resume", "str | Path | None"),
                                ("devices", "str | int | None"), ("stop_if", "Callable[[dict], bool] | None"))],
    return_annotation="Run")
train.__doc__ += "\n    Settings:\n" + "\n".join(f"        {f.name}: {f.metadata['help']}" for f in fields(TrainConfig))
