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
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_tensors, read_metadata
from .config import TrainConfig
from .console import say
from .data import DATASETS, Dataset, Listing, load_dataset
from .data.layout import scan_folder
from .errors import VisionpathError
from .files import atomic_write, json_text
from .i18n import tr
from .models import create_model, model_entry, prepare_for_device

# val_pictures: how many pictures validation scored (what its accuracy can tell: standard_error);
# planned_epochs: the run's length as planned after the epoch (fine-tuning that fills a --budget re-plans it);
# best_epoch: the epoch whose weights the run keeps (best.safetensors) after this one
HISTORY_COLUMNS = ["epoch", "time", "epoch_time", "stage", "lr", "train_loss", "train_accuracy", "val_loss",
                   "val_accuracy", "val_balanced_accuracy", "val_macro_f1", "val_pictures", "planned_epochs",
                   "best_epoch"]
INTEGER_COLUMNS = ("epoch", "stage", "val_pictures", "planned_epochs", "best_epoch")


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
    """data.json (counts per split and class, load time, files skipped; for folders the absolute root); for folders
    also split.csv (every picture's split, class, size and times) and unreadable.txt (the files skipped, and why)."""
    record = {"name": dataset.name, "classes": dataset.classes, "input_shape": list(dataset.input_shape),
              "validation_from_train": dataset.validation_from_train, "splits": {}}
    for split, images in dataset.splits():
        counts = torch.bincount(images.labels, minlength=len(dataset.classes)).tolist()
        record["splits"][split] = dict(zip(dataset.classes, counts))
    if dataset.folder is not None:
        record.update(root=os.path.abspath(dataset.folder.root), load_seconds=round(dataset.folder.seconds, 3),
                      from_cache=dataset.folder.from_cache, unreadable=len(dataset.folder.unreadable))
        write_split(run_dir / "split.csv", dataset)
        if dataset.folder.unreadable:
            atomic_write(run_dir / "unreadable.txt",
                         "".join(f"{path}\t{why}\n" for path, why in dataset.folder.unreadable))
    atomic_write(run_dir / "data.json", json_text(record))


def read_data_record(run_dir: Path) -> dict | None:
    """data.json, or None for a run without one; a damaged one is a sentence."""
    path = Path(run_dir) / "data.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
        if not isinstance(record, dict):
            raise ValueError
        return record
    except (OSError, ValueError):
        raise VisionpathError(tr("{path} is damaged (not the JSON visionpath wrote); the run's record of its data "
                                 "is lost, so it cannot be re-evaluated exactly. Train again.",
                                 path=path)) from None


SPLIT_COLUMNS = ["path", "label", "split", "bytes", "mtime_ns", "ctime_ns"]


def write_split(path: Path, dataset: Dataset) -> None:
    """split.csv: every picture's path (relative to the data's root), class, split, size and times: what
    `evaluate`, `report` and `--resume` load again, exactly."""
    root = os.path.abspath(dataset.folder.root)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(SPLIT_COLUMNS)
    for split, images in dataset.splits():
        for p, k in zip(images.paths, images.labels.tolist()):
            try:
                stat = os.stat(p)
                facts = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
            except OSError:  # gone since it was read: recorded as unknown, so a later reader counts it changed
                facts = [-1, -1, -1]
            writer.writerow([os.path.relpath(os.path.abspath(p), root), dataset.classes[k], split, *facts])
    atomic_write(path, text.getvalue())


@dataclass
class FileRecord:
    """What a run trained and was scored on: split.csv and data.json, read back."""
    root: Path                                          # where the data was, absolute
    classes: list[str]
    shape: tuple[int, int, int]
    carved: bool                                        # validation was held out of train
    files: dict[str, list[tuple[str, int, int, int]]]   # split -> (relative path, label, bytes, mtime_ns)


def read_file_record(run_dir: Path) -> FileRecord | None:
    """The run's record of its files, or None (a built-in dataset, or a run made before the record existed)."""
    run_dir = Path(run_dir)
    record = read_data_record(run_dir)
    if record is None or "root" not in record or not (run_dir / "split.csv").is_file():
        return None
    classes = record["classes"]
    files: dict[str, list] = {}
    path = run_dir / "split.csv"
    try:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
            rows = csv.reader(f)
            if next(rows) != SPLIT_COLUMNS:
                raise ValueError
            for row in rows:
                files.setdefault(row[2], []).append((row[0], classes.index(row[1]), int(row[3]), int(row[4])))
        return FileRecord(Path(record["root"]), classes, tuple(record["input_shape"]),
                          bool(record["validation_from_train"]), files)
    except (OSError, ValueError, IndexError, KeyError, StopIteration):
        raise VisionpathError(tr("{path} is damaged (not the table visionpath wrote); the run's record of its files "
                                 "is lost, so it cannot be re-evaluated exactly. Train again.",
                                 path=path)) from None


def listing_for(record: FileRecord, root: Path, purpose: str, class_folders: bool = True) -> Listing:
    """The recorded files as they are under `root` now: files gone are left out and counted, files changed since
    (size or modification time) and, for a folder of class subfolders, files added since are counted; each count
    is said once."""
    samples, missing, changed = {}, [], []
    for split, rows in record.files.items():
        samples[split] = []
        for relative, label, size, mtime in rows:
            path = root / relative
            try:
                stat = os.stat(path)
            except OSError:
                missing.append(relative)
                continue
            if (stat.st_size, stat.st_mtime_ns) != (size, mtime):
                changed.append(relative)
            samples[split].append((path, label))
        if not samples[split]:
            raise VisionpathError(tr("none of the {n_rows:,} {split} pictures this run recorded are in {root} any "
                                     "more; if the folder moved, give its new place with --data-dir.",
                                     n_rows=len(rows), split=split, root=root))
    recorded = sum(len(rows) for rows in record.files.values())
    if missing:
        say(tr("warning: {n_missing:,} of the {recorded:,} pictures this run recorded are missing from {root} (e.g. "
               "{missing}); {purpose} uses the {value:,} still there",
               n_missing=len(missing), recorded=recorded, root=root, missing=missing[0], purpose=purpose,
               value=recorded - len(missing)))
    if changed:
        say(tr("warning: {n_changed:,} recorded pictures changed since training (e.g. {changed}); {purpose} reads "
               "them as they are now",
               n_changed=len(changed), changed=changed[0], purpose=purpose))
    added = _files_added(root, record) if class_folders else 0  # a labels CSV names its files itself
    if added:
        say(tr("note: {added:,} pictures were added to {root} since training; they are ignored, so that {purpose} "
               "uses the run's own splits (train a new run to use them)",
               added=added, root=root, purpose=purpose))
    return Listing(root, record.classes, samples, record.shape, record.carved)


def _files_added(root: Path, record: FileRecord) -> int:
    """Pictures under root that the record does not name (0 when the folder can no longer be scanned)."""
    try:
        _, samples = scan_folder(root)
    except VisionpathError:
        return 0
    known = {relative for rows in record.files.values() for relative, *_ in rows}
    return sum(1 for items in samples.values() for p, _ in items if os.path.relpath(p, root) not in known)


@dataclass(frozen=True)
class PictureSize:
    """What --image-size means for a run: the side its pictures are decoded at, and the side its model reads."""
    decode: int | None      # None: as they are (a built-in dataset; a folder of one size, or its most common)
    resolution: int | None  # a backbone's input side (it resizes what it is given); None for models from scratch
    enlarge: bool           # whether pictures smaller than `decode` are enlarged as they are decoded


def picture_size(config: TrainConfig) -> PictureSize:
    """The one rule for a run's picture sizes, which train, lr-find, show and tune follow (predict reads what the
    run recorded). A model trained from scratch reads pictures as decoded, at --image-size when given. A backbone
    reads them at --image-size, else at the resolution it was trained at: folders are decoded at that side, and
    smaller pictures are not enlarged (the backbone resizes them as it reads them, without spending memory);
    built-in datasets (32×32) keep their size."""
    entry = model_entry(config.model)
    if not entry.pretrained:
        return PictureSize(config.image_size, None, True)
    resolution = config.image_size or entry.resolution
    return PictureSize(None if config.data in DATASETS else resolution, resolution, False)


def load_run_data(config: TrainConfig, data_dir: str | Path | None = None, run_dir: Path | None = None,
                  purpose: str | None = None) -> Dataset:
    """A run's data: for training, as its settings load it; for a run folder (evaluate, report, resume) exactly
    the files it recorded, from where they are now (data_dir: a folder dataset's new place; a built-in dataset's
    local copies)."""
    record = read_file_record(run_dir) if run_dir is not None else None
    if record is not None:
        root = Path(data_dir).resolve() if data_dir else record.root
        if not root.is_dir():
            raise VisionpathError(tr("{root}, the folder this run was trained on, is not there any more; give its "
                                     "new place with --data-dir.",
                                     root=root))
        return load_dataset(root, None, config.validation_split, config.seed, None, config.strict, None,
                            listing=listing_for(record, root, purpose or tr("evaluation"),
                                                class_folders=not config.labels))
    data = config.data
    if run_dir is not None and config.data not in DATASETS:
        data = data_dir or data  # a run made before the record existed: its folder split again as it is now
        say(tr("note: {run_dir} has no record of its files (made by an older visionpath); its splits are made again "
               "from {data} as it is now, which may differ from training",
               run_dir=run_dir, data=data))
        data_dir = None
    size = picture_size(config)
    return load_dataset(data, data_dir or config.data_dir, config.validation_split, config.seed, size.decode,
                        config.strict, config.labels, enlarge=size.enlarge)


# -------------------------------------------------------------------------------------------- the history

def standard_error(accuracy: float, pictures: int) -> float:
    """How far an accuracy measured on `pictures` pictures may be from the true one by chance (one standard error
    of a proportion): 1.6 points at 85% on 500 pictures, 3.6 on 100."""
    return math.sqrt(max(0.0, accuracy * (1 - accuracy)) / max(1, pictures))


def kept_epoch(history: list[dict]) -> dict:
    """The row of the epoch whose weights the run keeps (best.safetensors), as training chose it after its last
    epoch (`best_epoch`: a fine-tuned epoch may win over the head's at the same accuracy within what the validation
    pictures can tell, by a lower loss); for a run of an older version, the highest validation accuracy, then the
    lowest loss."""
    chosen = history[-1].get("best_epoch")
    return next((row for row in history if row["epoch"] == chosen), None) or \
        max(history, key=lambda r: (r["val_accuracy"], -r["val_loss"]))


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
    rows, line = [], 1
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if "epoch" not in (reader.fieldnames or []):
                raise ValueError
            for line, row in enumerate(reader, 2):
                if None in row or None in row.values():  # more or fewer cells than columns: a torn row
                    raise ValueError
                rows.append({k: (int(v) if k in INTEGER_COLUMNS else float(v))
                             for k, v in row.items() if v != ""})
        return rows
    except (OSError, ValueError, UnicodeDecodeError):
        last = Path(run_dir) / "last.safetensors"
        try:  # the same history is in the last checkpoint, written whole with it
            history = read_metadata(last)["resume"]["history"]
        except (VisionpathError, KeyError, TypeError):
            raise VisionpathError(tr("{path} is damaged at line {line} and the run has no readable last.safetensors "
                                     "to recover its history from.",
                                     path=path, line=line)) from None
        say(tr("warning: {path} is damaged at line {line}; its history is read from {name} instead",
               path=path, line=line, name=last.name))
        return history


# -------------------------------------------------------------------------------------------- the weights

def checkpoint_path(target: str | Path, which: str = "best") -> Path:
    """A run folder or a checkpoint file -> the checkpoint file."""
    target = Path(target)
    if target.is_dir():
        path = target / f"{which}.safetensors"
        if not path.is_file():
            raise VisionpathError(tr("{target} has no {which}.safetensors: it is not a visionpath run folder, or "
                                     "its first epoch never finished.",
                                     target=target, which=which))
        return path
    if not target.exists():
        raise VisionpathError(tr("{target} does not exist; give a run folder (e.g. runs/mnist-mlp-1) or a "
                                 "checkpoint file.",
                                 target=target))
    return target


def load_model(target: str | Path, which: str = "best", device: str | torch.device = "cpu"
               ) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, its metadata) from a run folder or checkpoint file."""
    path = checkpoint_path(target, which)
    meta = read_metadata(path)
    model = create_model(meta["model"], len(meta["classes"]), tuple(meta["input_shape"]), **meta["model_args"])
    tensors = load_tensors(path, "model.")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise VisionpathError(tr("{path}: the weights do not fit a {model} model ({splitlines}).",
                                 path=path, model=meta['model'], splitlines=str(e).splitlines()[0])) from None
    if not all(t.isfinite().all() for t in tensors.values() if t.is_floating_point()):
        raise VisionpathError(tr("{path} holds weights that are not finite numbers (NaN or infinity): training "
                                 "diverged. Train again with a lower --lr.",
                                 path=path))
    return prepare_for_device(model, torch.device(device)).eval(), meta
