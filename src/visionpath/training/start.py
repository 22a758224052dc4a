"""Starting a run: the settings it was given, a new run folder, or the run to resume and its last checkpoint."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import read_metadata
from ..config import TrainConfig
from ..console import say
from ..data import Dataset
from ..data.layout import scan_folder, scan_labels
from ..distributed import ONE, Processes
from ..errors import VisionpathError
from ..files import remove_leftovers
from ..i18n import tr
from ..run_files import new_run_dir, read_file_record, write_data_record
from ..run import Run


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


def start_run_folder(config: TrainConfig, dataset: Dataset, model_args: dict, reasons: dict[str, str]) -> Path:
    """A new run folder with the run's data record and config.json (with why each setting left out was decided as
    it was: the precision this machine trains fastest in, the photo defaults)."""
    run_dir = new_run_dir(config.project, config.name or f"{dataset.name}-{config.model}")
    write_data_record(run_dir, dataset)
    config.write(run_dir / "config.json", model_args=model_args, classes=dataset.classes,
                 input_shape=list(dataset.input_shape), decided=reasons)
    return run_dir
