"""The command line: every command end to end, and bad input as one sentence with a non-zero exit."""
import json
import subprocess
import sys

import pytest

from conftest import SHARED_DATA
from visionpath.cli import main


def test_train_evaluate_predict(tiny_folder, tmp_path, capsys):
    assert main(["train", str(tiny_folder), "--model", "mlp", "--epochs", "4", "--batch-size", "8", "--width", "32",
                 "--precision", "fp32", "--project", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "photos-mlp-1"
    out = capsys.readouterr().out
    assert "epoch 4/4 · 4 iterations × 8 images" in out and "found 30 images in 3 classes" in out
    assert main(["evaluate", str(run)]) == 0
    test_accuracy = json.loads((run / "test_metrics.json").read_text())["accuracy"]
    assert f"accuracy {test_accuracy:.2%}" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--split", "validation"]) == 0
    assert (run / "confusion_matrix_validation.png").is_file()
    assert main(["predict", str(run), str(tiny_folder / "test" / "bee" / "0.png"), "--top-k", "2",
                 "--csv", str(tmp_path / "p.csv")]) == 0
    assert "0.png: bee" in capsys.readouterr().out


def test_listings(capsys):
    from visionpath.data.builtin import DATASETS, dataset_cache_dir
    assert main(["models"]) == 0 and "407,050" in capsys.readouterr().out
    for spec in DATASETS["mnist"].files:  # as if MNIST had been downloaded; the others have not
        dataset_cache_dir("mnist").mkdir(parents=True, exist_ok=True)
        (dataset_cache_dir("mnist") / spec.name).write_bytes(b"")
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    state = {name: lines[i + 1] for i, line in enumerate(lines) for name in DATASETS if line.split()[:1] == [name]}
    assert set(state) == set(DATASETS)
    assert state["mnist"].split() == ["cached", "in", str(dataset_cache_dir("mnist"))]
    assert state["cifar100"].split()[:3] == ["0/1", "files", "cached"]


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
    assert main(["train", "mnist", "--data-dir", str(SHARED_DATA), "--epochs", "1", "--precision", "fp32",
                 "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1 · 422 iterations × 128 images" in out
    accuracy = float(out.split("test: loss")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy > 94


def test_every_flag_is_a_keyword_of_the_api():
    import inspect

    from visionpath.cli import build_parser
    from visionpath.predict import predict
    from visionpath.report import compare_runs
    from visionpath.runs import Run
    from visionpath.train import train
    commands = build_parser()._subparsers._group_actions[0].choices
    for command, function in (("train", train), ("predict", predict), ("evaluate", Run.evaluate),
                              ("report", Run.report), ("compare", compare_runs)):
        flags = {a.dest for a in commands[command]._actions if a.dest != "help"}
        keywords = set(inspect.signature(function).parameters) | ({"run"} if command in ("evaluate", "report")
                                                                    else set())
        assert flags <= keywords, (command, flags - keywords)
    train_flags = {a.dest for a in commands["train"]._actions if a.dest != "help"}
    assert train_flags == set(inspect.signature(train).parameters) - {"config"}  # every setting has its flag
