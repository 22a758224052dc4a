"""The command line: every command end to end, and bad input as one sentence with a non-zero exit."""
import subprocess
import sys

import pytest

from conftest import SHARED_DATA
from visionpath.cli import main


def test_train_evaluate_predict(tiny_folder, tmp_path, capsys):
    assert main(["train", str(tiny_folder), "--model", "mlp", "--epochs", "4", "--batch-size", "8", "--width", "32",
                 "--project", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "photos-mlp-1"
    out = capsys.readouterr().out
    assert "epoch 4/4 · 4 iterations × 8 images" in out and "found 30 images in 3 classes" in out
    assert main(["evaluate", str(run)]) == 0
    assert "precision" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--split", "validation"]) == 0
    assert (run / "confusion_matrix_validation.png").is_file()
    assert main(["predict", str(run), str(tiny_folder / "test" / "bee" / "0.png"), "--top-k", "2",
                 "--csv", str(tmp_path / "p.csv")]) == 0
    assert "0.png: bee" in capsys.readouterr().out


def test_listings(capsys):
    assert main(["models"]) == 0 and "407,050" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("mnist", "fashion-mnist", "cifar10", "cifar100")) and "cached" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "imagenet"], "neither a built-in dataset"),
    (["train", "mnist", "--model", "resnet9000"], "unknown model"),
    (["train", "mnist", "--epochs", "0"], "--epochs must be"),
    (["evaluate", "/nonexistent/run"], "not a visionpath run folder"),
])
def test_bad_input_is_one_sentence(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_missing_data_offline_says_where_to_put_it(capsys):
    assert main(["train", "mnist", "--data-dir", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "--data-dir" in err


def test_python_dash_m_and_layout_help(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, "-m", "visionpath", "train", str(tmp_path / "empty")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no class subfolders" in done.stderr and "my_photos/train/<class>/" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs ../shared/data/mnist")
def test_real_mnist_one_epoch(tmp_path, capsys):
    assert main(["train", "mnist", "--data-dir", str(SHARED_DATA), "--epochs", "1", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1 · 422 iterations × 128 images" in out
    accuracy = float(out.split("test: loss")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy > 94


def test_every_flag_is_a_keyword_of_the_api():
    import inspect

    from visionpath.cli import build_parser
    from visionpath.predict import predict
    from visionpath.runs import Run
    from visionpath.train import train
    commands = build_parser()._subparsers._group_actions[0].choices
    from visionpath.report import compare_runs
    for command, function in (("train", train), ("predict", predict), ("evaluate", Run.evaluate),
                              ("compare", compare_runs)):
        flags = {a.dest for a in commands[command]._actions if a.dest != "help"}
        keywords = set(inspect.signature(function).parameters) | ({"run"} if command == "evaluate" else set())
        assert flags <= keywords, (command, flags - keywords)
