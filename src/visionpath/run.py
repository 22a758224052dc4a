"""The `Run`: a finished (or interrupted) training run on disk, and what a notebook user does with it.

    run = visionpath.open_run("runs/mnist-mlp-1")
    run.config, run.history          # its settings (a TrainConfig) and one dict per epoch
    run.evaluate("test")             # reload its data and best weights: loss, accuracy, per class, confusion
    run.report()                     # report.html
    run.predict(["digit.png"])       # as visionpath.predict, with this run's best weights
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch

from .config import TrainConfig
from .console import say
from .data import Dataset, ImageSet
from .data.leaks import seen_in_training
from .devices import pick_device
from .errors import VisionpathError
from .evaluate import Evaluation, evaluate_images
from .i18n import tr
from .options import DEVICE, MOVED_DATA, Option, checked
from .predict import Prediction, predict
from .report import diagnose
from .report_html import write_report
from .run_files import load_model, load_run_data, read_data_record, read_history
from .data.suspects import read_suspects


class Run:
    """A training run on disk: its settings, history and weights, and what can be done with them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.interrupted = False  # set by `train` when Ctrl-C stopped it before its last epoch
        self.diverged = False     # set by `train` when the loss stopped being a finite number
        self.stopped = False      # set by `train` when its stop_if ended the run before its last epoch
        if not (self.path / "config.json").is_file():
            raise VisionpathError(tr("{path} is not a visionpath run folder (it has no config.json).",
                                     path=self.path))
        self.config = TrainConfig.read(self.path / "config.json")

    @classmethod
    def elsewhere(cls, path: str | Path, config: TrainConfig) -> "Run":
        """The run as a process on another machine knows it: its folder is `path` on the first process's machine
        (which alone writes it), its settings `config`, as they are in memory here."""
        run = cls.__new__(cls)
        run.path, run.config = Path(path), config
        run.interrupted = run.diverged = run.stopped = False
        return run

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    def __fspath__(self) -> str:  # a Run goes wherever a path to its folder does
        return str(self.path)

    @property
    def history(self) -> list[dict]:
        return read_history(self.path)

    def load_model(self, which: str = "best", device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
        return load_model(self.path, which, device)

    @checked
    def evaluate(self, split: Annotated[str, Option("the split scored", choices=("test", "validation", "train"))
                                        ] = "test",
                 data_dir: Annotated[str | Path | None, MOVED_DATA] = None,
                 device: Annotated[str, DEVICE] = "auto") -> Evaluation:
        """Reload the run's data (same settings, same validation split) and its best weights; score `split` on
        `device` (auto: a GPU when there is one), print the table and the diagnosis, and save the metrics and
        confusion matrix in the run folder."""
        evaluation, _, _ = self._evaluate_split(split, data_dir, device)
        evaluation.save(self.path)
        say(evaluation.table())
        history = self.history
        if history:
            say(diagnose(history, self.config).text)
        suffix = "" if split == "test" else f"_{split}"
        say(tr("confusion matrix: {value} (and .csv)", value=self.path / f'confusion_matrix{suffix}.png'))
        return evaluation

    @checked
    def report(self, data_dir: Annotated[str | Path | None, MOVED_DATA] = None,
               device: Annotated[str, DEVICE] = "auto") -> Path:
        """Write report.html in the run folder (on the test split, else validation, scored on `device`) and return
        its path."""
        evaluation, images, dataset = self._evaluate_split(None, data_dir, device)
        path = write_run_report(self.path, self.config, self.history, evaluation, images, dataset.train)
        say(tr("report: {path}", path=path))
        return path

    def predict(self, images, **options) -> list[Prediction]:
        """`visionpath.predict` with this run's best weights: the same keywords (top_k, csv, batch_size,
        min_confidence, tta, device)."""
        return predict(self.path, images, **options)

    def _evaluate_split(self, split: str | None, data_dir: str | Path | None, device: str
                        ) -> tuple[Evaluation, ImageSet, Dataset]:
        """The run's data reloaded with its own settings, scored with its best weights: (the evaluation, the split's
        pictures, the data). split None: test, or validation where there is no test split."""
        chosen = pick_device(device)
        model, meta = self.load_model(device=chosen)
        dataset = load_run_data(self.config, data_dir, run_dir=self.path)
        if dataset.classes != meta["classes"]:
            raise VisionpathError(tr("the classes of {data} ({classes}) are not the ones {path} was trained on "
                                     "({classes2}).",
                                     data=self.config.data, classes=', '.join(dataset.classes), path=self.path,
                                     classes2=', '.join(meta['classes'])))
        splits = dict(dataset.splits())
        split = split or ("test" if "test" in splits else "validation")
        if split not in splits:
            raise VisionpathError(tr("{data} has no test split; add a test/ folder, or evaluate with --split "
                                     "validation (optimistic: it chose the best epoch).",
                                     data=self.config.data))
        images = splits[split]
        seen = seen_in_training(dataset.train, images) if split != "train" else None
        return evaluate_images(model, images, dataset.classes, meta["mean"], meta["std"], chosen, split,
                               seen=seen), images, dataset


def write_run_report(run_dir: Path, config: TrainConfig, history: list[dict], evaluation: Evaluation,
                     images: ImageSet, training: ImageSet | None = None) -> Path:
    """report.html of a run: its command and settings, data, curves, `evaluation` of the pictures `images`, and
    the `training` pictures whose labels it disputes (suspects.csv)."""
    disputed = read_suspects(run_dir)
    return write_report(run_dir, command=config.command_line(), settings=config.to_dict(), history=history,
                        diagnosis=diagnose(history, config).text if history else "", evaluation=evaluation,
                        images=images, data_record=read_data_record(run_dir), model=load_model(run_dir),
                        disputed=(disputed, training) if disputed is not None and training is not None else None)
