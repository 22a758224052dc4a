"""visionpath tune: real small studies (tiny data, trials of three epochs, SQLite in a temporary folder): the best
trial's command reproduces its score, pruned trials stop early, failing trials are recorded and the study goes on,
--resume continues the count, worker processes share one study; and every mistake in a space file is one sentence."""
from __future__ import annotations

import json
import shlex
import socket
import sys

import matplotlib
import pytest

from conftest import make_folder
from visionpath.cli import main
from visionpath.errors import VisionpathError
from visionpath.run import Run

optuna = pytest.importorskip("optuna")
from visionpath.tune import parse_timeout, tune  # noqa: E402
from visionpath.tuning.space import read_space  # noqa: E402
from visionpath.tuning.study import Study  # noqa: E402

FIXED = dict(model="mlp", epochs=3, width=32, precision="fp32")  # fp32: the same numbers every time


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("tune") / "photos", per_class={"train": 24, "validation": 8, "test": 8})


def trials_of(path) -> list:
    return Study.open(path).optuna_study().get_trials(deepcopy=False)


@pytest.mark.slow
def test_a_study_prunes_records_failures_and_its_best_command_reproduces(folder, tmp_path, capsys):
    # a rate that learns and one that cannot (pruned by its first epoch once four trials are in), and a batch the
    # data cannot take (the trial fails with train's sentence)
    (tmp_path / "space.toml").write_text("lr = [0.004, 1e-7]\nbatch_size = [8, 1000]\n"
                                        "dropout = {low = 0.0, high = 0.5}\n")
    style = dict(matplotlib.rcParams)
    study = tune(folder, trials=10, space=tmp_path / "space.toml", pruner="median", project=tmp_path / "runs",
                 **FIXED)
    out = capsys.readouterr().out
    trials = trials_of(study.path)
    states = [t.state.name for t in trials]
    assert len(trials) == 10 and {"COMPLETE", "PRUNED", "FAIL"} <= set(states), states
    for t in trials:
        if t.state.name == "FAIL":
            assert t.user_attrs["error"] == "--batch-size 1000 is larger than the 72 training images; use at most 72."
            assert f"trial {t.number} failed: --batch-size 1000" in out
        elif t.state.name == "PRUNED":  # stopped at its first epoch, with its run folder kept whole
            assert t.params["lr"] == 1e-7 and len(Run(t.user_attrs["run"]).history) == 1 < FIXED["epochs"]
            assert f"trial {t.number} pruned after epoch 1" in out
        else:
            assert len(Run(t.user_attrs["run"]).history) == FIXED["epochs"]
    # the trials never saw the test split; the best one is scored on it once, at the end
    best = json.loads((study.path / "best.json").read_text())
    scored = {str(p.parent) for p in study.path.glob("trial-*/test_metrics.json")}
    assert scored == {best["run"]} and best["test_accuracy"] is not None
    assert "optimistic" in out and "study.html" in out
    page = (study.path / "study.html").read_text()
    assert best["command"].replace("'", "&#x27;") in page and page.count("<img") == 3
    assert dict(matplotlib.rcParams) == style  # Optuna's plots leave the process's matplotlib style as it was
    # the best command, copied as it is: the same validation scores, epoch by epoch
    project = tmp_path / "again"
    assert main(shlex.split(best["command"])[1:] + ["--project", str(project)]) == 0
    (again,) = project.iterdir()
    trial = Run(best["run"]).history
    assert [(r["val_accuracy"], r["val_loss"]) for r in Run(again).history] == \
        [(r["val_accuracy"], r["val_loss"]) for r in trial]
    assert best["val_accuracy"] == max(r["val_accuracy"] for r in trial)


@pytest.mark.slow
def test_resume_continues_the_count_and_workers_share_the_study(folder, tmp_path):
    study = tune(folder, trials=2, project=tmp_path, batch_size=8, **FIXED)
    assert len(trials_of(study.path)) == 2
    # a trial left running by a process that was killed: failed and lost, it no longer counts
    shared = study.optuna_study()
    lost = shared.ask()
    lost.set_user_attr("process", f"{socket.gethostname()}:{2 ** 22 + 12345}")
    tune(resume=study.path, trials=8, workers=2)
    trials = trials_of(study.path)
    assert [t.number for t in trials] == list(range(9))  # none lost, none twice
    assert trials[2].state.name == "FAIL" and trials[2].user_attrs["lost"]
    counted = [t for t in trials if t.number != 2]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in counted)  # each finished (the pruner may stop one)
    # both processes ran trials (the first waits for the second to claim one), each in its own folder
    assert len({t.user_attrs["process"] for t in counted[2:]}) == 2
    assert len({t.user_attrs["run"] for t in counted}) == 8


def test_a_space_file_is_checked_line_by_line(tmp_path):
    space = tmp_path / "space.toml"
    for text, message in [
        ("lr = {low = 1e-4, high = 1e-1, log = true}\naugment = ['none', 'strong']\nepochs = {low = 2, high = 5}",
         None),
        ("seed = [1, 2]", "'seed' is not a setting a search can vary; these are: augment, augmented_views,"),
        ("lr = {low = 0, high = 0.1, log = true}", "lr is searched on a log scale, so its low must be above 0."),
        ("dropout = {low = 0.1, high = 1.5}", "--dropout must be in [0, 1) (got 1.5)."),
        ("augment = ['none', 'wild']", "unknown --augment 'wild'; choose from none, standard, strong."),
        ("lr = {low = 0.1, high = 0.01}", "lr must be a range, lr = {low = ..., high = ...} with low below high"),
        ("lr = 0.1", "lr must be a range"),
        ("lr = [", "is not valid TOML"),
        ("", "names no setting to search"),
    ]:
        space.write_text(text)
        if message is None:
            assert set(read_space(space)) == {"lr", "augment", "epochs"}
        else:
            with pytest.raises(VisionpathError) as error:
                read_space(space)
            assert message in str(error.value), (text, str(error.value))


def test_mistakes_are_one_sentence_before_any_training(folder, tmp_path, monkeypatch, capsys):
    assert [parse_timeout(t) for t in ("90s", "30m", "1h30m", "2", 1.5)] == [90, 1800, 5400, 120, 90]
    runs = ["--project", str(tmp_path / "runs")]
    for argv, message in [
        (["tune"], "tune needs the data to search on"),
        (["tune", str(folder), "--timeout", "soon", *runs], "--timeout must be a time above zero"),
        (["tune", "--resume", str(tmp_path)], "is not a study folder made by `visionpath tune`"),
        (["tune", str(folder), "--lr", "0.01", "--space", str(tmp_path / "none.toml"), *runs], "cannot read it"),
        (["tune", str(folder), "--model", "mlp", "--storage", "nosuchdb://x", *runs], "cannot open the study storage"),
        (["tune", str(folder), "--no-score-test", *runs], "a search's trials never score the test split"),
        (["tune", "--resume", str(tmp_path), "--pruner", "none"], "--resume continues a study with its own data"),
        # fixed settings the data cannot take: said before the first trial (each trial failed with it before)
        (["tune", str(folder), "--model", "mlp", "--batch-size", "1000", *runs],
         "--batch-size 1000 is larger than the 72 training images"),
        (["tune", str(tmp_path / "nowhere"), "--model", "mlp", *runs], "nowhere"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no study folder left behind
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    assert main(["tune", str(folder)]) == 2
    assert "needs Optuna, which is not installed: pip install 'visionpath[tune]'" in capsys.readouterr().err


@pytest.mark.slow  # over 2.5 s here: the full suite runs it
def test_a_recipe_batch_is_fitted_to_the_data_and_a_study_with_no_finished_trial_exits_non_zero(folder, tmp_path,
                                                                                                  capsys):
    """mlp's recipe batch (128) is larger than the 72 training pictures: the study fixes the batch train would
    fit (32), and its trials finish; a study whose every trial fails ends with exit status 1, not 0."""
    study = tune(folder, trials=1, project=tmp_path / "a", **FIXED)
    assert study.settings["batch_size"] == 32 and study.best() is not None
    (tmp_path / "space.toml").write_text("batch_size = [500, 1000]\n")
    assert main(["tune", str(folder), "--trials", "2", "--space", str(tmp_path / "space.toml"), "--project",
                 str(tmp_path / "b"), "--model", "mlp", "--epochs", "1", "--precision", "fp32"]) == 1
    assert "no trial finished: there is nothing to score" in capsys.readouterr().out


def test_a_photo_folder_study_searches_the_backbone_as_train_would_train_it(folder, tmp_path):
    from visionpath.tuning.study import new_study
    study = new_study(str(folder), None, {"project": str(tmp_path)}, None, None, "halving")
    # no model named, so each trial resolves as `visionpath train FOLDER` does (the photo defaults size the batch
    # to the folder); the stage lengths and the batch are fixed at the first resolution's
    assert "model" not in study.settings and study.model == "efficientnet_lite0"
    assert study.settings["batch_size"] <= 72 and {"epochs", "fine_tune_epochs"} <= set(study.settings)
    assert {"lr", "fine_tune_lr", "unfreeze", "layer_lr_decay", "image_size"} <= set(study.space)
    assert Study.open(study.path).to_dict() == study.to_dict()


def test_a_storage_that_cannot_be_reached_is_one_sentence_without_the_password():
    from visionpath.tuning.storage import hidden_password, unreachable
    url = "postgresql://visionpath:s3cret@10.0.0.5:5433/studies"
    said = {reason: unreachable(url, RuntimeError(reason)) for reason in (
        'connection to server at "10.0.0.5", port 5433 failed: FATAL:  password authentication failed for user',
        'connection to server at "10.0.0.5", port 5433 failed: Connection refused',
        'connection to server at "10.0.0.5", port 5433 failed: timeout expired',
        'FATAL:  database "studies" does not exist',
        "something nobody foresaw")}
    assert list(said.values()) == [
        "the database server at 10.0.0.5:5433 refused the password of user visionpath; check the user and password "
        "in --storage.",
        "nothing answers at 10.0.0.5:5433: the database server is not running there, or does not listen on that "
        "address; start it, or correct --storage.",
        "no answer from 10.0.0.5:5433: the machine cannot be reached from here; check the address in --storage and "
        "the network.",
        "the database server at 10.0.0.5:5433 has no database studies; create it first (createdb studies), or name "
        "one it has in --storage.",
        "cannot open the study storage postgresql://visionpath:***@10.0.0.5:5433/studies: something nobody foresaw"]
    assert hidden_password(url) == "postgresql://visionpath:***@10.0.0.5:5433/studies"
    assert hidden_password("sqlite:////tmp/study.db") == "sqlite:////tmp/study.db"
