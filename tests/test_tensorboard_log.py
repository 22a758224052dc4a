"""--tensorboard: TensorBoard reads back each epoch's scores as results.csv has them, the training pictures and
the curves; without the tensorboard package, one sentence before any work."""
from __future__ import annotations

import csv
import importlib.util

import pytest

import visionpath
from visionpath.errors import VisionpathError

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_tensorboard_shows_what_results_csv_says(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path, model="cnn", epochs=2, batch_size=8, tensorboard=True)
    events = event_accumulator.EventAccumulator(str(run.path / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    with open(run.path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for key, tag in (("val_accuracy", "accuracy/validation"), ("train_loss", "loss/train")):
        logged = [(e.step, e.value) for e in events.Scalars(tag)]
        # the CSV keeps 6 significant digits
        assert logged == [(int(r["epoch"]), pytest.approx(float(r[key]), rel=1e-4)) for r in rows], tag
    assert set(events.Tags()["images"]) == {"training pictures", "learning curves"}
    test = [e.value for e in events.Scalars("accuracy/test (best epoch)")]
    assert test == [pytest.approx(run.evaluate().accuracy, abs=1e-6)]


def test_without_the_tensorboard_package_one_sentence_and_no_run_folder(tiny_folder, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else
                        real(name, *a))
    with pytest.raises(VisionpathError, match=r"^--tensorboard needs tensorboard, which is not installed: pip install 'visionpath\[tensorboard\]'$"):
        visionpath.train(tiny_folder, project=tmp_path / "runs", model="cnn", epochs=1, batch_size=8,
                         tensorboard=True)
    assert not (tmp_path / "runs").exists()
