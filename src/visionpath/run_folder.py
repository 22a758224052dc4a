"""Run folders: where a training run keeps everything, written atomically and read back by later commands.

    runs/mnist-mlp-1/
        config.json          the settings (TrainConfig), so the run can be repeated or resumed
        data.json            the data: classes, pictures per split and class, load time, files skipped
        split.csv            folders: every picture's split and class, so the run can be repeated exactly
        unreadable.txt       folders: the files skipped, and why
        results.csv          one row per epoch: epoch, time, lr, train and validation loss and accuracy
        best.safetensors     the weights of the best validation epoch (+ metadata: classes, input shape, ...)
        last.safetensors     the weights of the last epoch, and what resuming needs
        curves.png           learning curves
        confusion_matrix.png / .csv, test_metrics.json, summary.txt, report.html
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from .checkpoint import load_tensors, read_metadata
from .config import TrainConfig
from .data import DATASETS, Dataset, load_dataset
from .errors import VisionpathError
from .files import atomic_write
from .models import create_model, model_entry, prepare_for_device

HISTORY_COLUMNS = ["epoch", "time", "epoch_time", "stage", "lr", "train_loss", "train_accuracy", "val_loss",
                   "val_accuracy", "val_balanced_accuracy", "val_macro_f1"]


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


# ----------------------------------------------------------------------------------------------- the data

def write_data_record(run_dir: Path, dataset: Dataset) -> None:
    """data.json (counts per split and class, load time, files skipped); for folders also split.csv (each
    picture's split) and unreadable.txt (the files skipped, and why)."""
    record = {"name": dataset.name, "classes": dataset.classes, "input_shape": list(dataset.input_shape),
              "validation_from_train": dataset.validation_from_train, "splits": {}}
    for split, images in dataset.splits():
        counts = torch.bincount(images.labels, minlength=len(dataset.classes)).tolist()
        record["splits"][split] = dict(zip(dataset.classes, counts))
    if dataset.folder is not None:
        record.update(load_seconds=round(dataset.folder.seconds, 3), from_cache=dataset.folder.from_cache,
                      unreadable=len(dataset.folder.unreadable))
        write_split(run_dir / "split.csv", dataset)
        if dataset.folder.unreadable:
            atomic_write(run_dir / "unreadable.txt",
                         "".join(f"{path}\t{why}\n" for path, why in dataset.folder.unreadable))
    atomic_write(run_dir / "data.json", json.dumps(record, indent=2, ensure_ascii=False))


def read_data_record(run_dir: Path) -> dict | None:
    path = Path(run_dir) / "data.json"
    return json.loads(path.read_text()) if path.is_file() else None


def write_split(path: Path, dataset: Dataset) -> None:
    """split.csv: every picture's path, class and split."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["path", "label", "split"])
    for split, images in dataset.splits():
        if images.paths is not None:
            writer.writerows((p, dataset.classes[k], split) for p, k in zip(images.paths, images.labels.tolist()))
    atomic_write(path, text.getvalue())


def decode_size(config: TrainConfig) -> int | None:
    """The side a run's pictures are decoded at. A backbone gets pictures at its own resolution: folders are
    decoded at it, built-in datasets (32×32) keep their size and the model resizes them on the fly."""
    entry = model_entry(config.model)
    if not entry.pretrained:
        return config.image_size
    return None if config.data in DATASETS else config.image_size or entry.resolution


def load_run_data(config: TrainConfig, data_dir: str | Path | None = None) -> Dataset:
    """A run's data as its settings load it (same validation split, size and files): for training, and again for
    evaluating and reporting, which must see exactly the same pictures. data_dir: where the data is now."""
    return load_dataset(config.data, data_dir or config.data_dir, config.validation_split, config.seed,
                        decode_size(config), config.strict, config.labels,
                        enlarge=not model_entry(config.model).pretrained)


# -------------------------------------------------------------------------------------------- the history

def write_history(run_dir: Path, history: list[dict]) -> None:
    """results.csv: one row per epoch, epoch and time first (rewritten whole: it is small)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=HISTORY_COLUMNS, restval="")  # runs resumed from older versions
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write(Path(run_dir) / "results.csv", text.getvalue())


def read_history(run_dir: Path) -> list[dict]:
    """results.csv as one dict per epoch ([] before the first epoch has finished)."""
    path = Path(run_dir) / "results.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k in ("epoch", "stage") else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(f)]


# -------------------------------------------------------------------------------------------- the weights

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
        raise VisionpathError(f"{target} does not exist; give a run folder (e.g. runs/mnist-mlp-1) or a checkpoint "
                              "file.")
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
        raise VisionpathError(f"{path}: the weights do not fit a {meta['model']} model "
                              f"({str(e).splitlines()[0]}).") from None
    return prepare_for_device(model, torch.device(device)).eval(), meta
