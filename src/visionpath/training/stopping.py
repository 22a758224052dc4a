"""How a run stops before its end: Ctrl-C and torchrun's SIGTERM (never inside an epoch's files), a loss that
diverged, and what a stopped run keeps."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..checkpoint import read_metadata
from ..config import TrainConfig
from ..console import say
from ..distributed import ONE, Processes, under_torchrun
from ..i18n import tr
from ..report import plot_curves
from ..run import Run
from .start import discard_if_empty


class Diverged(Exception):
    """The loss of an epoch was not a finite number: the weights are ruined, and training stops."""

    def __init__(self, epoch: int, stage: int, loss: float, rate: float):
        super().__init__(tr("diverged in epoch {epoch}", epoch=epoch))
        self.epoch, self.stage, self.loss, self.rate = epoch, stage, loss, rate  # rate: the stage's peak

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
