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


@pytest.mark.parametrize("model, extra", [
    ("cnn", dict(augment="none")),
    ("cnn", dict(augment="standard", dropout=0.3, weight_decay=5e-4, schedule="cosine")),
    ("cnn", dict(augment="strong", label_smoothing=0.1, depth=1, width=8)),
    ("resnet9", dict(augment="none", rotation=20, zoom=0.2, flip=True, width=4)),
    ("resnet9", dict(augment="standard", shift=0.25, flip=False, l1=1e-4, width=4, optimizer="sgd", lr=0.05)),
])
def test_models_presets_and_flags_train_on_tiny_data(tiny_folder, tmp_path, model, extra):
    run = visionpath.train(tiny_folder, project=tmp_path, model=model, epochs=2, batch_size=8, precision="fp32",
                           **extra)
    config = json.loads((run.path / "config.json").read_text())
    for key, value in extra.items():
        assert config["settings"].get(key, config["model_args"].get(key)) == value, key
    assert len(run.history) == 2 and "diagnosis:" in (run.path / "summary.txt").read_text()
    model_, meta = run.load_model()
    assert meta["model"] == model


def test_a_models_recipe_fills_what_the_user_left_out(tiny_folder, tmp_path, capsys):
    from visionpath.models import MODELS
    run = visionpath.train(tiny_folder, project=tmp_path, model="resnet9", epochs=1, batch_size=8, width=4,
                           precision="fp32")
    settings = run.settings
    recipe = MODELS["resnet9"].recipe
    assert settings["epochs"] == 1 and settings["batch_size"] == 8  # given: the user's
    assert settings["lr"] == recipe["lr"] and settings["augment"] == recipe["augment"]  # left out: the recipe's
    assert "resnet9's recipe: lr" in capsys.readouterr().out
    plain = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "epochs": 1})
    assert plain.settings["augment"] == "none" and plain.settings["lr"] == train_module.DEFAULTS["lr"]


def test_l1_penalty_is_added_to_the_loss_and_shrinks_the_weights(tiny_folder, tmp_path):
    from visionpath.train import penalised_loss
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    weights = [torch.full((2, 3), -0.5), torch.ones(5)]
    total, data = penalised_loss(logits, labels, weights, 0.0, 0.01)
    assert data == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())
    assert total.item() == pytest.approx(data.item() + 0.01 * (3.0 + 5.0))

    def weight_l1(run):
        tensors = load_tensors(run.path / "last.safetensors", "model.")
        return sum(t.abs().sum().item() for t in tensors.values() if t.dim() > 1)
    plain = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    sparse = visionpath.train(tiny_folder, project=tmp_path, l1=1e-3, **FAST)
    assert weight_l1(sparse) < 0.8 * weight_l1(plain)


def test_weight_decay_leaves_biases_and_batch_norm_alone(tiny_folder, tmp_path, monkeypatch):
    groups = []
    real = torch.optim.AdamW

    def spy(params, **kwargs):
        groups.extend(params)
        return real(params, **kwargs)
    monkeypatch.setitem(train_module.OPTIMIZERS, "adamw", spy)
    visionpath.train(tiny_folder, project=tmp_path, model="resnet9", width=4, epochs=1, batch_size=8,
                     optimizer="adamw", weight_decay=0.1, precision="fp32")
    decayed, free = groups
    assert decayed["weight_decay"] == 0.1 and all(p.dim() > 1 for p in decayed["params"])
    assert free["weight_decay"] == 0.0 and all(p.dim() == 1 for p in free["params"])


def test_resume_continues_the_augmentation_stream(tiny_folder, tmp_path, monkeypatch):
    settings = dict(model="cnn", width=4, depth=1, epochs=3, batch_size=8, augment="strong", precision="fp32")
    whole = visionpath.train(tiny_folder, project=tmp_path / "a", **settings)
    interrupt_at_step(monkeypatch, stop_step=2 * 4 + 1)
    cut = visionpath.train(tiny_folder, project=tmp_path / "b", **settings)
    monkeypatch.undo()
    resumed = visionpath.train(resume=cut.path)
    a, b = (load_tensors(r.path / "last.safetensors", "model.") for r in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_augmentation_settings(tiny_folder, tmp_path):
    with pytest.raises(VisionpathError, match="unknown augmentation preset 'lots'"):
        visionpath.train(tiny_folder, project=tmp_path, augment="lots")
    with pytest.raises(VisionpathError, match="--l1 must be zero or positive"):
        visionpath.train(tiny_folder, project=tmp_path, l1=-1.0)


@pytest.mark.parametrize("balance", ["weights", "sampler", "auto"])
def test_balance_for_unbalanced_classes(tmp_path, balance, capsys):
    from conftest import make_folder
    root = make_folder(tmp_path / "u", classes=("common", "rare"), per_class={"": 4})
    make_folder(tmp_path / "u", classes=("common",), per_class={"": 20}, seed=1)  # 20 common (overwrites 0-3), 4 rare
    run = visionpath.train(root, project=tmp_path, balance=balance, **FAST)
    out = capsys.readouterr().out
    assert "more than 3:1" in out and "(balanced " in out
    assert "val_balanced_accuracy" in run.history[0] and run.settings["balance"] == balance
    assert ("the loss weighs each class by the inverse of its share" in out) == (balance == "auto")
    with pytest.raises(VisionpathError, match="unknown --balance"):
        visionpath.train(root, project=tmp_path, balance="oversample", **FAST)


def test_a_folder_run_records_its_data(tiny_folder, tmp_path):
    (tiny_folder / "train" / "ant" / "bad.jpg").write_text("no picture")
    run = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    record = json.loads((run.path / "data.json").read_text())
    assert record["splits"]["train"] == {"ant": 10, "bee": 10, "cat": 10} and record["unreadable"] == 1
    assert "bad.jpg" in (run.path / "unreadable.txt").read_text()
    with open(run.path / "split.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 54 and {r["split"] for r in rows} == {"train", "validation", "test"}
