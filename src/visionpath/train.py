"""Training: `train`, the public entry, in the five phases every run goes through.

    train()
      1. settle the settings   decided and explained (defaults.resolve); a resumed run reads its own
      2. prepare the data      uint8 tensors on the training device, augmentation, class balance
      3. build the model       pretrained weights, device, precision
      4. fit                   for each epoch: train_one_epoch, validate, record, checkpoint, maybe stop early
      5. finish                restore the best epoch, score the test split, draw, report

Each phase lives in its room of `visionpath.training` (its __init__ lists them).

A pretrained backbone trains in two stages: `epochs` epochs of the new head on the frozen backbone (its features
computed once and cached; with early stopping, fewer once its validation loss stops falling), then
`fine_tune_epochs` epochs of fine-tuning, numbered on from the last epoch of stage 1. Ctrl-C stops at once (waiting
only for an epoch's files to be written whole); the run keeps every finished epoch and continues with `--resume`.
"""
from __future__ import annotations

import inspect
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Callable

import torch

from .config import TrainConfig
from .console import say
from .defaults import announce, resolve
from .devices import budget_clock, measuring_seconds
from .distributed import Processes, join, leave, lost_peer, on_main, under_torchrun
from .errors import VisionpathError
from .i18n import tr
from .options import Option, check_project
from .run import Run
from .tensorboard_log import check_installed
from .training.finish import finish
from .training.launcher import launched, record_launch, restarted_run
from .training.loop import fit, introduce
from .training.model import build_model
from .training.pictures import prepare_everywhere
from .training.start import device_named, discard_if_empty, given_config, open_for_resume, start_run_folder
from .training.state import TrainingState
from .training.stopping import Diverged, Stopped, interrupted, saved_through


def train(data: str | Path | None = None, *, config: TrainConfig | None = None,
          resume: Annotated[str | Path | None, Option("continue an interrupted run folder from its last epoch (with "
                                                      "any number of --devices)", metavar="RUN")] = None,
          devices: Annotated[str | int | None, Option(
              "train in N processes, data-parallel (one per GPU, or CPU processes without one), or on the GPUs "
              "listed, e.g. 0,2; started through torchrun. --batch-size stays the whole batch, shared out among them "
              "(default: one process)", metavar="N|LIST")] = None,
          stop_if: Callable[[dict], bool] | None = None, **settings) -> Run:
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


def train_processes(processes: Processes, device: torch.device, data, config: TrainConfig | None, resume,
                    settings: dict, stop_if: Callable[[dict], bool] | None = None) -> Run:
    """`train` in this process, one of `processes` (all of them train the same run)."""
    # a --budget counts from here: settling, reading and building take of it too; measuring the machine does not
    entered, measured = budget_clock(), measuring_seconds()
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
        model_args = model.metadata["model_args"]
        path = on_main(processes, lambda: start_run_folder(config, prepared.dataset, model_args, reasons))
        run = Run(path) if processes.main else Run.elsewhere(path, config)  # the folder is on rank 0's machine
        record_launch(run.path, processes)
    state, generators = TrainingState.start(config, saved, prepared.device, entered, measured)
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
train.__doc__ += "\n    Settings:\n" + "\n".join(f"        {f.name}: {f.metadata['option'].help}" for f in fields(TrainConfig))
