"""The training loop: run folders, checkpoints, history, resume, Ctrl-C, early stopping, class balance and bad
settings, each on tiny data the tests make."""
import csv
import json
import signal

import pytest
import torch

import visionpath
from visionpath.checkpoint import load_tensors, read_metadata
from visionpath.errors import VisionpathError
from visionpath.run_files import read_history
from visionpath.training import loop
from visionpath.training.pictures import balance_classes, draw_order

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


@pytest.mark.slow
def test_stop_if_ends_the_run_after_a_saved_epoch_and_keeps_the_best(tiny_folder, tmp_path):
    rows = []
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "epochs": 5}, score_test=False,
                           stop_if=lambda row: rows.append(row) or row["epoch"] == 2)
    assert run.stopped and [r["epoch"] for r in rows] == [1, 2] and len(run.history) == 2
    assert read_metadata(run.path / "last.safetensors")["epoch"] == 2
    # --no-score-test: the test split is left alone, and the summary says how to score it later
    assert not (run.path / "test_metrics.json").exists()
    assert "the test split is not scored (--no-score-test)" in (run.path / "summary.txt").read_text()
    whole = visionpath.train(tiny_folder, project=tmp_path, **FAST, stop_if=lambda row: row["epoch"] == 3)
    assert not whole.stopped and len(whole.history) == 3  # asked at the last epoch: nothing left to stop
    with pytest.raises(VisionpathError, match="stop_if works in one process"):
        visionpath.train(tiny_folder, project=tmp_path, **FAST, devices=2, stop_if=lambda row: False)


def test_run_folders_never_overwrite(tiny_folder, tmp_path):
    first = visionpath.train(tiny_folder, project=tmp_path, name="x", **{**FAST, "epochs": 1})
    second = visionpath.train(tiny_folder, project=tmp_path, name="x", **{**FAST, "epochs": 1})
    assert (first.path.name, second.path.name) == ("x-1", "x-2")


@pytest.mark.slow
def test_same_seed_same_run(tiny_folder, tmp_path):
    a = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    b = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    wa, wb = load_tensors(a.path / "last.safetensors", "model."), load_tensors(b.path / "last.safetensors", "model.")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class CtrlCAtStep:
    """Presses Ctrl-C (a real SIGINT to this process) during the `step`-th training step (counting from 0): a
    forward hook on every module counts the training-mode passes through nn.Flatten (once a step in mlp and cnn)."""

    def __init__(self, step: int):
        self.step, self.seen = step, 0

    def __enter__(self):
        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(self.hook)
        return self

    def hook(self, module, args):
        if isinstance(module, torch.nn.Flatten) and module.training:
            if self.seen == self.step:
                signal.raise_signal(signal.SIGINT)
            self.seen += 1

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.mark.slow
def test_ctrl_c_saves_and_resume_gives_the_same_result(tiny_folder, tmp_path, capsys):
    settings = {**FAST, "epochs": 4, "dropout": 0.3}
    whole = visionpath.train(tiny_folder, project=tmp_path / "a", **settings)

    with CtrlCAtStep(2 * 4 + 1):  # 4 iterations per epoch: Ctrl-C inside epoch 3
        cut = visionpath.train(tiny_folder, project=tmp_path / "b", **settings)
    assert cut.interrupted and [r["epoch"] for r in cut.history] == [1, 2]
    assert read_metadata(cut.path / "last.safetensors")["epoch"] == 2
    assert f"saved through epoch 2 in {cut.path}. Continue with: visionpath train --resume" in capsys.readouterr().out

    resumed = visionpath.train(resume=cut.path)
    assert resumed.path == cut.path and not resumed.interrupted
    for name in ("last", "best"):
        a = load_tensors(whole.path / f"{name}.safetensors", "model.")
        b = load_tensors(resumed.path / f"{name}.safetensors", "model.")
        assert all(torch.equal(a[k], b[k]) for k in a), name
    drop_time = lambda h: [{k: v for k, v in r.items() if "time" not in k} for r in h]  # noqa: E731
    assert drop_time(whole.history) == drop_time(resumed.history)


def test_ctrl_c_stops_at_once_but_lets_an_epoch_s_files_be_written_whole():
    from visionpath.training.stopping import CtrlC
    written = []
    with CtrlC() as ctrl_c:
        with pytest.raises(KeyboardInterrupt):  # anywhere else: at once
            signal.raise_signal(signal.SIGINT)
            written.append("a step after Ctrl-C")
        with pytest.raises(KeyboardInterrupt):
            with ctrl_c.deferred():  # while an epoch's files are written: once they are
                signal.raise_signal(signal.SIGINT)
                written += ["last.safetensors", "results.csv"]
            written.append("the next epoch")
    assert written == ["last.safetensors", "results.csv"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is Python's own again


def test_checkpoints_are_written_atomically(tiny_folder, tmp_path, monkeypatch):
    from visionpath import files
    from visionpath.checkpoint import save_checkpoint
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "epochs": 1})
    before = (run.path / "last.safetensors").read_bytes()

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", crash)  # the disk fills as the new checkpoint is written
    model, _ = run.load_model()
    with pytest.raises(VisionpathError, match="is full: last.safetensors was not written"):
        save_checkpoint(run.path / "last.safetensors", model, {"x": 1})
    assert (run.path / "last.safetensors").read_bytes() == before  # the old checkpoint is intact
    assert sorted(p.name for p in run.path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_early_stopping_restores_the_best_epoch_and_scores_it_on_test(tmp_path):
    from conftest import make_folder, mislabel_validation
    root = mislabel_validation(make_folder(tmp_path / "photos"))  # validation is best at epoch 1, then worse
    run = visionpath.train(root, project=tmp_path, early_stopping=2, **{**FAST, "epochs": 10})
    history = run.history
    best = max(history, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    assert len(history) == best["epoch"] + 2 < 10  # stopped two epochs after the best
    assert read_metadata(run.path / "best.safetensors")["epoch"] == best["epoch"]
    assert read_history(run.path)[-1]["best_epoch"] == best["epoch"]  # results.csv says which epoch is kept
    assert {row.get("val_pictures") for row in read_history(run.path)} == {12}  # and what its accuracy can tell
    last = {k: v for k, v in load_tensors(run.path / "last.safetensors", "model.").items()}
    restored = load_tensors(run.path / "best.safetensors", "model.")
    assert not all(torch.equal(last[k], restored[k]) for k in last)  # the best is not simply the last
    reported = json.loads((run.path / "test_metrics.json").read_text())["accuracy"]
    assert run.evaluate().accuracy == reported  # test was scored with the best weights, which evaluate reloads


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "--epochs must be a whole number of at least 1"),
    ({"batch_size": 1000}, "larger than the 30 training images"),
    ({"model": "resnet9000"}, "unknown model 'resnet9000'. Known models: mlp"),
    ({"optimizer": "adagrad"}, "unknown --optimizer 'adagrad'; choose from adam, adamw, sgd"),
])
def test_bad_settings_get_one_clear_sentence_and_leave_no_run_folder(tiny_folder, tmp_path, settings, message):
    with pytest.raises(VisionpathError, match=message):
        visionpath.train(tiny_folder, project=tmp_path / "runs", **settings)
    assert not (tmp_path / "runs").exists()


def test_a_recipe_batch_larger_than_a_small_folder_is_made_smaller_and_said(tiny_folder, tmp_path, capsys):
    """mlp's recipe batch is 128 and the folder has 30 training pictures: the run trains with 8 (at least two steps
    an epoch), says so, and records it with why; a resumed run keeps it. A batch the user gave is still refused."""
    with CtrlCAtStep(5):  # in the second epoch
        run = visionpath.train(tiny_folder, project=tmp_path / "runs", model="mlp", epochs=2, width=16,
                               precision="fp32")
    out = capsys.readouterr().out
    why = ("batch size 8: the recipe's 128 is larger than the 30 training images, and a batch of at most half of "
           "them gives each epoch two steps or more (change with --batch-size)")
    assert why in out and "2 epochs × 4 iterations × 8 images" in out
    record = json.loads((run.path / "config.json").read_text())
    assert run.config.batch_size == record["settings"]["batch_size"] == 8 and record["decided"]["batch_size"] == why
    assert run.interrupted and visionpath.train(resume=run.path).config.batch_size == 8
    with pytest.raises(VisionpathError, match="--batch-size 128 is larger than the 30 training images"):
        visionpath.train(tiny_folder, project=tmp_path / "given", model="mlp", batch_size=128)


def test_a_misspelt_keyword_fails_at_the_call_and_names_the_right_one(tiny_folder, tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword argument 'widht'; did you mean 'width'"):
        visionpath.train(tiny_folder, project=tmp_path, depth=2, model="mlp", widht=3)


def test_a_config_object_is_accepted_and_keywords_override_it(tiny_folder, tmp_path):
    config = visionpath.TrainConfig(data=str(tiny_folder), project=str(tmp_path), **{**FAST, "epochs": 1})
    run = visionpath.train(config=config, width=16)
    assert run.config == visionpath.TrainConfig(**{**config.to_dict(), "width": 16, "lr": 4e-3, "optimizer": "adam",
                                                   "schedule": "onecycle", "weight_decay": 0.0,
                                                   "label_smoothing": 0.0, "augment": "none", "pretrained": False,
                                                   "fine_tune_epochs": 0, "layer_lr_decay": 1.0, "fill_budget": False})
    with pytest.raises(VisionpathError, match="--resume continues a run with its own settings"):
        visionpath.train(resume=run.path, epochs=5)


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(VisionpathError, match="cannot be resumed|not a run folder"):
        visionpath.train(resume=tmp_path)


@pytest.mark.slow
def test_bf16_mixed_precision_trains_and_is_recorded(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "precision": "bf16"})
    assert read_metadata(run.path / "last.safetensors")["resume"]["precision"] == "bf16"
    assert json.loads((run.path / "test_metrics.json").read_text())["accuracy"] > 0.8
    fp32 = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    a, b = (load_tensors(r.path / "last.safetensors", "model.") for r in (run, fp32))
    assert not all(torch.equal(a[k], b[k]) for k in a)  # bf16 really ran: its rounding gives other weights


def test_fp16_trains_with_its_loss_scaled(tiny_folder, tmp_path, monkeypatch):
    scaled = []
    real_scale = torch.amp.GradScaler.scale
    monkeypatch.setattr(torch.amp.GradScaler, "scale", lambda self, loss: scaled.append(self.is_enabled())
                        or real_scale(self, loss))
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "precision": "fp16"})
    assert read_metadata(run.path / "last.safetensors")["resume"]["precision"] == "fp16"
    assert scaled and all(scaled)  # every step's loss went through an enabled scaler
    assert json.loads((run.path / "test_metrics.json").read_text())["accuracy"] > 0.8


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
        assert config["settings"][key] == value, key
    assert {k: v for k, v in config["model_args"].items() if k in extra} == {
        k: v for k, v in extra.items() if k in ("width", "depth", "dropout")}
    assert len(run.history) == 2 and "diagnosis:" in (run.path / "summary.txt").read_text()
    model_, meta = run.load_model()
    assert meta["model"] == model and meta["model_args"] == config["model_args"]
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"] * 1.5  # it trained, and did not diverge


@pytest.mark.slow
def test_a_models_recipe_fills_what_the_user_left_out(tiny_folder, tmp_path, capsys):
    from visionpath.config import fallback
    from visionpath.models import MODELS
    run = visionpath.train(tiny_folder, project=tmp_path, model="resnet9", epochs=1, batch_size=8, width=4,
                           precision="fp32")
    config, recipe = run.config, MODELS["resnet9"].recipe
    assert config.epochs == 1 and config.batch_size == 8  # given: the user's
    assert config.lr == recipe["lr"] and config.augment == recipe["augment"]  # left out: the recipe's
    assert "resnet9's recipe: lr 0.01, optimizer adamw" in capsys.readouterr().out
    plain = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "epochs": 1})
    assert plain.config.augment == "none" and plain.config.lr == fallback("lr") == 4e-3


def test_l1_penalty_shrinks_the_weights(tiny_folder, tmp_path):
    def weight_l1(run):
        tensors = load_tensors(run.path / "last.safetensors", "model.")
        return sum(t.abs().sum().item() for t in tensors.values() if t.dim() > 1)
    plain = visionpath.train(tiny_folder, project=tmp_path, **FAST)
    sparse = visionpath.train(tiny_folder, project=tmp_path, l1=1e-3, **FAST)
    assert weight_l1(sparse) < 0.8 * weight_l1(plain)


@pytest.mark.slow
def test_resume_continues_the_augmentation_stream(tiny_folder, tmp_path):
    settings = dict(model="cnn", width=4, depth=1, epochs=3, batch_size=8, augment="strong", precision="fp32")
    whole = visionpath.train(tiny_folder, project=tmp_path / "a", **settings)
    with CtrlCAtStep(2 * 4 + 1):
        cut = visionpath.train(tiny_folder, project=tmp_path / "b", **settings)
    assert cut.interrupted and len(cut.history) == 2
    resumed = visionpath.train(resume=cut.path)
    a, b = (load_tensors(r.path / "last.safetensors", "model.") for r in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_augmentation_settings(tiny_folder, tmp_path):
    with pytest.raises(VisionpathError, match="unknown --augment 'lots'; choose from none, standard, strong"):
        visionpath.train(tiny_folder, project=tmp_path, augment="lots")
    with pytest.raises(VisionpathError, match="--l1 must be zero or positive"):
        visionpath.train(tiny_folder, project=tmp_path, l1=-1.0)


def unbalanced_folder(tmp_path):
    from conftest import make_folder
    root = make_folder(tmp_path / "u", classes=("common", "rare"), per_class={"": 4})
    make_folder(tmp_path / "u", classes=("common",), per_class={"": 20}, seed=1)  # 20 common (overwrites 0-3), 4 rare
    return root


def test_class_weights_make_every_class_weigh_the_same():
    labels = torch.tensor([0] * 30 + [1] * 10 + [2] * 20)
    weights, sampling, unbalanced = balance_classes(labels, 3, "weights")
    assert unbalanced and sampling is None
    assert torch.allclose(weights * torch.tensor([30.0, 10.0, 20.0]), torch.full((3,), 20.0))  # n / K per class
    assert balance_classes(labels, 3, "none")[:2] == (None, None)
    assert balance_classes(torch.tensor([0, 0, 1, 1]), 2, "auto") == (None, None, False)  # balanced: nothing
    assert balance_classes(labels, 3, "auto")[0] is not None  # unbalanced: weights


@pytest.mark.slow
@pytest.mark.parametrize("rare, unbalanced", [(7, False), (6, True)])  # 10:7 is 1.43:1, 10:6 is 1.67:1
def test_training_the_loader_and_the_data_check_call_the_same_classes_unbalanced(tmp_path, capsys, rare, unbalanced):
    from conftest import make_folder
    from visionpath.data import UNBALANCED, load_dataset
    from visionpath.data.check import check_data
    assert 10 / 7 < UNBALANCED < 10 / 6
    root = make_folder(tmp_path / "f", classes=("common",), per_class={"train": 10, "validation": 3, "test": 3})
    make_folder(root, classes=("rare",), per_class={"train": rare, "validation": 3, "test": 3}, seed=1)
    dataset = load_dataset(root)
    loaded = "warning: unbalanced classes" in capsys.readouterr().out
    trained = balance_classes(dataset.train.labels, 2, "auto")[2]
    checked = any(f.kind == "unbalanced" for f in check_data(root, output=tmp_path / "check.json").findings)
    assert (loaded, trained, checked) == (unbalanced,) * 3


def test_the_sampler_draws_every_class_equally_often():
    labels = torch.tensor([0] * 90 + [1] * 10)
    _, sampling, _ = balance_classes(labels, 2, "sampler")
    drawn = torch.cat([labels[draw_order(100, sampling, torch.Generator().manual_seed(i))] for i in range(50)])
    assert abs(drawn.float().mean().item() - 0.5) < 0.03  # the rare class is half of what is drawn
    plain = draw_order(100, None, torch.Generator().manual_seed(0))
    assert sorted(plain.tolist()) == list(range(100))  # without a sampler: every picture once


@pytest.mark.slow
@pytest.mark.parametrize("balance", ["weights", "sampler", "auto"])
def test_balance_for_unbalanced_classes_changes_what_is_learned(tmp_path, balance, capsys):
    root = unbalanced_folder(tmp_path)
    plain = visionpath.train(root, project=tmp_path, balance="none", **FAST)
    run = visionpath.train(root, project=tmp_path, balance=balance, **FAST)
    out = capsys.readouterr().out
    assert "warning: unbalanced classes: common has" in out and "(balanced " in out
    assert "val_balanced_accuracy" in run.history[0] and run.config.balance == balance
    assert ("the loss weighs each class by the inverse of its share" in out) == (balance == "auto")
    a, b = (load_tensors(r.path / "last.safetensors", "model.") for r in (plain, run))
    assert not all(torch.equal(a[k], b[k]) for k in a)  # the balance took effect on the training
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


def test_a_run_that_diverges_later_keeps_its_best_epoch_and_says_what_to_try(tiny_folder, tmp_path, monkeypatch,
                                                                              capsys):
    real = loop.train_one_epoch

    def diverging(epoch, *args):  # as a too-high rate does once the weights have grown: epoch 3 blows up
        loss, accuracy = real(epoch, *args)
        return (float("nan") if epoch == 3 else loss), accuracy
    monkeypatch.setattr(loop, "train_one_epoch", diverging)
    run = visionpath.train(tiny_folder, project=tmp_path, **{**FAST, "epochs": 5})
    out = capsys.readouterr().out
    assert run.diverged and "training diverged in epoch 3: the loss became nan with --lr 0.004" in out
    assert "Try a lower --lr, e.g. 0.0004" in out and [r["epoch"] for r in run.history] == [1, 2]
    assert read_metadata(run.path / "best.safetensors")["epoch"] in (1, 2)
    assert (run.path / "test_metrics.json").is_file()  # the best epoch was scored, as at the end of any run
