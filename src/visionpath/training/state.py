"""Where a run stands (its history, best epoch, random streams and time spent) and how long it runs: stage 1's end,
fine-tuning's length as planned and re-planned."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..checkpoint import load_tensors
from ..config import TrainConfig
from ..data import Dataset
from ..devices import budget_clock, measuring_seconds
from .model import TrainingModel
from .start import Saved


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
    started: float          # when this process took the run up (devices.budget_clock())
    elapsed_before: float = 0.0  # the training seconds of earlier processes (a resumed run)
    measured: float = 0.0   # this process's seconds measuring the machine when it took the run up (off the budget)

    @staticmethod
    def start(config: TrainConfig, saved: Saved | None, device: torch.device, started: float, measured: float = 0.0
              ) -> tuple["TrainingState", Generators]:
        """A new run's state, or a resumed run's as its last checkpoint left it (random streams included); this
        process took the run up at `started` (devices.budget_clock())."""
        generators = Generators(torch.Generator().manual_seed(config.seed),
                                torch.Generator(device=device).manual_seed(config.seed + 1))
        if saved is None:
            return TrainingState([], {"epoch": 0, "val_accuracy": -1.0, "val_loss": math.inf}, 0, 0.0,
                                 started, measured=measured), generators
        rng = load_tensors(saved.path, "rng.")
        torch.set_rng_state(rng["torch"])
        generators.shuffle.set_state(rng["shuffle"])
        if "augment" in rng:
            generators.augment.set_state(rng["augment"])
        history = saved.resume["history"]
        elapsed = history[-1]["time"] if history else 0.0
        return TrainingState(history, saved.resume["best"], saved.resume["epoch"], elapsed, started,
                             elapsed, measured), generators

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
        """Seconds the run has taken so far: its earlier processes' epochs, and all of this process's time but what
        measuring the machine took (devices.budget_clock)."""
        return self.elapsed_before + budget_clock() - self.started

    def taken(self) -> float:
        """Seconds the run has taken by the clock on the wall: spent(), and this process's measuring of the machine
        since it took the run up (what a forecast of the whole run counts)."""
        return self.spent() + measuring_seconds() - self.measured


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


def scores_test(config: TrainConfig, dataset: Dataset) -> bool:
    """Whether the run ends by scoring the test split (there is one, and --score-test); else it shows validation's
    scores. What the forecasts count as the time left to score, and what finish scores."""
    return dataset.test is not None and config.score_test
