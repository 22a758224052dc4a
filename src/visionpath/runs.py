"""Run folders: where a training run keeps everything, and the `Run` handle a notebook user works with.

    runs/mnist-mlp-1/
        config.json          the settings, so the run can be repeated or resumed
        results.csv          one row per epoch: epoch, time, lr, train and validation loss and accuracy
        best.safetensors     the weights of the best validation epoch (+ metadata: classes, input shape, ...)
        last.safetensors     the weights of the last epoch, and what resuming needs
        curves.png           learning curves
        confusion_matrix.png / .csv, test_metrics.json, summary.txt
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import torch

from .checkpoint import load_tensors, read_metadata
from .errors import VisionpathError
from .models import create_model, prepare_for_device


def new_run_dir(project: str | Path, name: str) -> Path:
    """project/name-1, or -2, -3... : the first free one, created at once so two runs never share a folder."""
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    n = 1
    while True:
        candidate = project / f"{safe}-{n}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1


def checkpoint_path(target: str | Path, which: str = "best") -> Path:
    """A run folder or a checkpoint file -> the checkpoint file."""
    target = Path(target)
    if target.is_dir():
        path = target / f"{which}.safetensors"
        if not path.is_file():
            raise VisionpathError(f"{target} has no {which}.safetensors: it is not a visionpath run folder, or its "
                                  "first epoch never finished.")
        return path
    if not target.exists():
        raise VisionpathError(f"{target} does not exist; give a run folder (e.g. runs/mnist-mlp-1) or a checkpoint file.")
    return target


def load_model(target: str | Path, which: str = "best", device: str | torch.device = "cpu"
               ) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, its metadata) from a run folder or checkpoint file."""
    path = checkpoint_path(target, which)
    meta = read_metadata(path)
    model = create_model(meta["model"], len(meta["classes"]), tuple(meta["input_shape"]), **meta["model_args"])
    try:
        model.load_state_dict(load_tensors(path, "model."))
    except RuntimeError as e:
        raise VisionpathError(f"{path}: the weights do not fit a {meta['model']} model ({str(e).splitlines()[0]}).") from None
    return prepare_for_device(model, torch.device(device)).eval(), meta


class Run:
    """A training run on disk: its settings, history and weights, and what can be done with them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.interrupted = False
        if not (self.path / "config.json").is_file():
            raise VisionpathError(f"{self.path} is not a visionpath run folder (it has no config.json).")
        self.config = json.loads((self.path / "config.json").read_text())

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @property
    def settings(self) -> dict:
        return self.config["settings"]

    @property
    def history(self) -> list[dict]:
        path = self.path / "results.csv"
        if not path.is_file():
            return []
        with open(path, newline="") as f:
            return [{k: (int(v) if k in ("epoch", "stage") else float(v)) for k, v in row.items() if v != ""}
                    for row in csv.DictReader(f)]

    def load_model(self, which: str = "best", device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
        return load_model(self.path, which, device)

    def evaluate(self, split: str = "test", data_dir: str | Path | None = None):
        from .evaluate import evaluate_run
        return evaluate_run(self, split, data_dir)

    def report(self, data_dir: str | Path | None = None) -> Path:
        """Write report.html in the run folder (test split, else validation) and return its path."""
        from .evaluate import report_run
        return report_run(self, data_dir)

    def predict(self, images, top_k: int = 5, csv: str | Path | None = None, batch_size: int = 256,
                min_confidence: float = 0.0, tta: bool = False):
        """One Prediction per picture (files, folders or globs); see `visionpath.predict`."""
        from .predict import predict
        return predict(self.path, images, top_k=top_k, csv=csv, batch_size=batch_size, min_confidence=min_confidence,
                       tta=tta)
