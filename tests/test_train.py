"""The training loop: run folders, checkpoints, history, resume, Ctrl-C, early stopping and bad settings."""
import csv
import importlib
import json

import pytest
import torch

import visionpath
from visionpath.checkpoint import load_tensors, read_metadata
from visionpath.errors import VisionpathError
from visionpath.train import learning_rate

train_module = importlib.import_module("visionpath.train")
FAST = dict(model="mlp", epochs=3, batch_size=8, width=32, precision="fp32")  # fp32: no probe, same every time


def test_a_run_folder_has_everything(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path / "runs", **FAST)
    assert run.path == tmp_path / "runs" / "photos-mlp-1"
    for name in ("config.json", "results.csv", "best.safetensors", "last.safetensors", "curves.png",
                 "confusion_matrix.png", "confusion_matrix.csv", "test_metrics.json", "summary.txt"):
        assert (run.path / name).is_file(), name
    with open(run.path / "results.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["epoch", "time"] and len(rows) == 4
    meta = read_metadata(run.path / "best.safetensors")
    assert meta["classes"] == ["ant", "bee", "cat"] and meta["input_shape"] == [3, 12, 12]
    assert meta["model"] == "mlp" and meta["model_args"]["width"] == 32 and meta["visionpath_version"]
    assert meta["mean"] == [0.0] * 3 and meta["std"] == [1.0] * 3  # the mlp wants pixels in 0-1
    assert json.loads((run.path / "test_metrics.json").read_text())["accuracy"] > 0.8  # an easy task


def test_run_folders_never_overwrite(tiny_folder, tmp_path):
    first = visionpath.train(tiny_folder, project=tmp_path, name="x", **{**FAST, "epochs": 1})
    second = visionpath.train(tiny_folder, project=tmp_path, name="x", **{**FAST, "epochs": 1})
    assert (first.path.name, second.path.name) == ("x-1", "x-2")


def test_same_seed_same_run(tiny_folder, tmp_path):
    a = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    b = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    wa, wb = load_tensors(a.path / "last.safetensors", "model."), load_tensors(b.path / "last.safetensors", "model.")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def interrupt_at_step(monkeypatch, stop_step):
    real = train_module.learning_rate

    def fake(schedule, step, total, peak):
        if step == stop_step:
            raise KeyboardInterrupt
        return real(schedule, step, total, peak)
    monkeypatch.setattr(train_module, "learning_rate", fake)


def test_ctrl_c_saves_and_resume_gives_the_same_result(tiny_folder, tmp_path, monkeypatch):
    settings = {**FAST, "epochs": 4, "dropout": 0.3}
    whole = visionpath.train(tiny_folder, project=tmp_path / "a", **settings)

    interrupt_at_step(monkeypatch, stop_step=2 * 4 + 1)  # 4 iterations per epoch: stop inside epoch 3
    cut = visionpath.train(tiny_folder, project=tmp_path / "b", **settings)
    assert cut.interrupted and [r["epoch"] for r in cut.history] == [1, 2]
    assert read_metadata(cut.path / "last.safetensors")["epoch"] == 2
    monkeypatch.undo()

    resumed = visionpath.train(resume=cut.path)
    assert resumed.path == cut.path and not resumed.interrupted
    for name in ("last", "best"):
        a = load_tensors(whole.path / f"{name}.safetensors", "model.")
        b = load_tensors(resumed.path / f"{name}.safetensors", "model.")
        assert all(torch.equal(a[k], b[k]) for k in a), name
    drop_time = lambda h: [{k: v for k, v in r.items() if "time" not in k} for r in h]  # noqa: E731
    assert drop_time(whole.history) == drop_time(resumed.history)


def test_checkpoints_are_written_atomically(tiny_folder, tmp_path, monkeypatch):
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "epochs": 1})
    before = (run.path / "last.safetensors").read_bytes()
    checkpoint = importlib.import_module("visionpath.checkpoint")

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint.os, "fsync", crash)
    model, _ = run.load_model()
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(run.path / "last.safetensors", model, {"x": 1})
    assert (run.path / "last.safetensors").read_bytes() == before  # the old checkpoint is intact
    assert sorted(p.name for p in run.path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_early_stopping_restores_the_best_epoch(tiny_folder, tmp_path, monkeypatch):
    # A learning rate that is far too high after epoch 1 makes validation worse: training must stop and keep epoch 1.
    monkeypatch.setattr(train_module, "learning_rate", lambda s, step, total, peak: 1e-3 if step < 4 else 50.0)
    run = visionpath.train(tiny_folder, project=tmp_path, early_stopping=2, **{**FAST, "epochs": 10})
    history = run.history
    best = max(history, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    assert len(history) < 10 and len(history) == best["epoch"] + 2
    assert read_metadata(run.path / "best.safetensors")["epoch"] == best["epoch"]
    report = json.loads((run.path / "test_metrics.json").read_text())
    model, meta = run.load_model()
    assert meta["epoch"] == best["epoch"] and report["accuracy"] >= 0  # test was scored with the best weights


def test_learning_rate_schedules():
    assert learning_rate("constant", 50, 100, 0.1) == 0.1
    assert learning_rate("onecycle", 0, 100, 0.1) == pytest.approx(0.004)
    assert learning_rate("onecycle", 25, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate("cosine", 5, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate("cosine", 100, 100, 0.1) == pytest.approx(0.0)


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "--epochs must be a whole number of at least 1"),
    ({"batch_size": 1000}, "larger than the 30 training images"),
    ({"model": "resnet9000"}, "unknown model 'resnet9000'. Known models: mlp"),
    ({"optimizer": "adagrad"}, "unknown optimizer"),
    ({"depth": 2, "model": "mlp", "widht": 3}, None),
])
def test_bad_settings_get_one_clear_sentence(tiny_folder, tmp_path, settings, message):
    if message is None:
        with pytest.raises(TypeError):  # a misspelt keyword fails at the call, not deep inside
            visionpath.train(tiny_folder, project=tmp_path, **settings)
        return
    with pytest.raises(VisionpathError, match=message):
        visionpath.train(tiny_folder, project=tmp_path, **settings)


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(VisionpathError, match="cannot be resumed|not a run folder"):
        visionpath.train(resume=tmp_path)


def test_bf16_mixed_precision_trains_and_is_recorded(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "precision": "bf16"})
    assert read_metadata(run.path / "last.safetensors")["resume"]["precision"] == "bf16"
    assert json.loads((run.path / "test_metrics.json").read_text())["accuracy"] > 0.8


def test_auto_precision_picks_a_known_one():
    from visionpath.train import pick_precision
    assert pick_precision("auto", torch.device("cpu"))[0] in ("fp32", "bf16")
    assert pick_precision("fp32", torch.device("cpu")) == ("fp32", "as asked")
    with pytest.raises(VisionpathError, match="unknown precision"):
        pick_precision("fp8", torch.device("cpu"))
