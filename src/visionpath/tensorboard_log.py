"""TensorBoard event files for a run, for users who watch their runs there (as Keras users do with its
TensorBoard callback): `visionpath train ... --tensorboard`, then `tensorboard --logdir runs`.

Written by PyTorch's own `torch.utils.tensorboard.SummaryWriter` into <run>/tensorboard/: each epoch's row of
results.csv as scalars (written after the epoch's checkpoint, so what TensorBoard shows was saved), a few
training pictures at the first epoch, and at the end the curves and the test score. The writer needs the
`tensorboard` package (the `tensorboard` extra). Event files are logs that TensorBoard reads record by record
(each with its checksum), so they are appended to, not written atomically like visionpath's other files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .errors import VisionpathError
from .extras import installed, missing

SCALARS = {"train_loss": "loss/train", "val_loss": "loss/validation", "train_accuracy": "accuracy/train",
           "val_accuracy": "accuracy/validation", "lr": "learning rate", "epoch_time": "seconds per epoch"}


def check_installed() -> None:
    """Nothing, or one sentence saying how to install what the event files need (asked before training)."""
    if not installed("tensorboard"):  # torch.utils.tensorboard's writer needs it
        raise VisionpathError(missing("--tensorboard", "tensorboard", "tensorboard"))


def writer(run_dir: Path):
    """A SummaryWriter on the run's tensorboard/ folder."""
    check_installed()
    from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when asked for
    return SummaryWriter(str(run_dir / "tensorboard"))


def log_epoch(run_dir: Path, row: dict, pictures: torch.Tensor | None = None) -> None:
    """One epoch's row as scalars at step = epoch; `pictures` (uint8 N×C×H×W) shown as the training pictures."""
    with writer(run_dir) as events:
        for key, tag in SCALARS.items():
            if key in row:
                events.add_scalar(tag, row[key], row["epoch"])
        if pictures is not None:
            events.add_images("training pictures", pictures, row["epoch"], dataformats="NCHW")


def log_finish(run_dir: Path, epoch: int, curves: Path, test_accuracy: float | None) -> None:
    """The learning curves as drawn, and the test score of the restored best epoch."""
    with writer(run_dir) as events:
        if curves.is_file():
            events.add_image("learning curves", np.asarray(Image.open(curves).convert("RGB")), epoch,
                             dataformats="HWC")
        if test_accuracy is not None:
            events.add_scalar("accuracy/test (best epoch)", test_accuracy, epoch)
