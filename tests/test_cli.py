"""The command line: every command end to end, and bad input as one sentence with a non-zero exit."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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
    assert main(["evaluate", str(run), "--device", "cpu"]) == 0  # a device named is used (auto was the CPU here)
    assert json.loads((run / "test_metrics.json").read_text())["accuracy"] == test_accuracy
    assert main(["predict", str(run), str(tiny_folder / "test" / "bee" / "0.png"), "--device", "cpu"]) == 0


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


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> dict:
    """One small trained run, for the commands that read one ({run}), with a picture ({picture}) and a folder
    to write in ({tmp})."""
    from conftest import isolate, make_folder
    tmp = tmp_path_factory.mktemp("bad-settings")
    with pytest.MonkeyPatch.context() as patch:  # made before the test's own fixtures: isolated as every test is
        isolate(patch, tmp / "home")
        root = make_folder(tmp / "photos")
        assert main(["train", str(root), "--model", "mlp", "--epochs", "1", "--batch-size", "8", "--precision",
                     "fp32", "--project", str(tmp / "runs")]) == 0
    (tmp / "a-file").write_text("")
    return {"run": str(tmp / "runs" / "photos-mlp-1"), "picture": str(root / "test" / "ant" / "0.png"),
            "tmp": str(tmp), "photos": str(root)}


# Every command's bad settings: the argument, and the sentence that must answer it (before any work is done).
BAD_SETTINGS = [
    (["train", "imagenet"], "neither a built-in dataset"),
    (["train", "mnist", "--model", "resnet9000"], "unknown model"),
    (["train", "mnist", "--epochs", "0"], "--epochs must be a whole number of at least 1 (got 0)"),
    (["train", "mnist", "--batch-size", "0"], "--batch-size must be a whole number of at least 1"),
    (["train", "{photos}", "--image-size", "-5"], "--image-size must be a whole number of at least 1 (got -5)"),
    (["train", "{photos}", "--image-size", "0"], "--image-size must be a whole number of at least 1 (got 0)"),
    (["train", "mnist", "--model", "mlp", "--width", "-3"], "--width must be a whole number of at least 1"),
    (["train", "mnist", "--model", "mlp", "--width", "0"], "--width must be a whole number of at least 1 (got 0)"),
    (["train", "{photos}", "--fine-tune-lr", "-1"], "--fine-tune-lr must be positive (got -1.0)"),
    (["train", "{photos}", "--budget", "0"], "--budget must be positive (got 0.0)"),
    (["train", "{photos}", "--layer-lr-decay", "1.5"], "--layer-lr-decay must be in (0, 1] (got 1.5)"),
    (["train", "mnist", "--lr", "inf"], "--lr must be a finite number (got inf)"),
    (["train", "mnist", "--lr", "nan"], "--lr must be"),
    (["train", "mnist", "--weight-decay=-1e-4"], "--weight-decay must be zero or positive"),
    (["train", "mnist", "--validation-split", "1.5"], "--validation-split must be in (0, 1)"),
    (["train", "mnist", "--dropout", "1"], "--dropout must be in [0, 1)"),
    (["train", "mnist", "--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
    (["train", "mnist", "--rotation", "400"], "--rotation must be between 0 and "),
    (["train", "mnist", "--optimizer", "rmsprop"], "unknown --optimizer 'rmsprop'; choose from adam"),
    (["train", "mnist", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "mnist", "--model", "mlp", "--pretrained"], "--pretrained and --weights apply to pretrained"),
    (["train", "mnist", "--project", "{tmp}/a-file"], "--project {tmp}/a-file is a file"),
    (["train", "{photos}", "--batch-size", "1000", "--model", "mlp"], "--batch-size 1000 is larger than the 30"),
    (["train", "--resume", "{tmp}"], "is not a run folder that can be resumed"),
    (["train", "--resume", "{run}", "--epochs", "3"], "--resume continues a run with its own settings"),
    (["evaluate", "/nonexistent/run"], "not a visionpath run folder"),
    (["evaluate", "{run}", "--split", "holdout"], "unknown --split 'holdout'; choose from test, validation, train"),
    (["evaluate", "{run}", "--data-dir", "{tmp}/nowhere"], "--data-dir {tmp}/nowhere is not a folder"),
    (["report", "{tmp}"], "not a visionpath run folder"),
    (["predict", "{run}", "{picture}", "--batch-size", "0"], "--batch-size must be a whole number of at least 1 (got 0)"),
    (["predict", "{run}", "{picture}", "--top-k", "0"], "--top-k must be a whole number of at least 1 (got 0)"),
    (["predict", "{run}", "{picture}", "--device", "tpu"], "unknown device 'tpu'; use auto, cpu, cuda or mps"),
    (["predict", "{run}", "{picture}", "--min-confidence", "2"], "--min-confidence must be between 0 and 1 (got 2.0)"),
    (["predict", "{run}", "{picture}", "--csv", "{tmp}/nowhere/p.csv"], "the folder {tmp}/nowhere does not exist"),
    (["predict", "{run}", "{picture}", "--csv", "{tmp}"], "--csv {tmp} is a folder"),
    (["predict", "{run}", "{tmp}/missing.png"], "missing.png does not exist"),
    (["predict", "{tmp}/a-file", "{picture}"], "not a readable checkpoint"),
    (["export", "{tmp}/nowhere"], "does not exist; give a run folder"),
    (["export", "{run}", "--output", "{tmp}/nowhere/m.onnx"], "the folder {tmp}/nowhere does not exist"),
    (["export", "{run}", "--format", "tflite"], "unknown --format 'tflite'; choose from onnx, torchscript"),
    (["serve", "{tmp}/nowhere"], "does not exist; give a run folder"),
    (["show", "{photos}", "--count", "0"], "--count must be a whole number between 1 and 64 (got 0)"),
    (["show", "{photos}", "--augment", "wild"], "unknown --augment 'wild'; choose from none, standard, strong"),
    (["filters", "{run}", "{picture}"], "filters needs a convolutional model; a dense network has no filters"),
    (["explain", "{run}", "{picture}"], "explain needs a convolutional model"),
    (["explain", "{run}", "{tmp}/missing.png", "--output", "{tmp}/nowhere/e.png"], "the folder {tmp}/nowhere does"),
    (["lr-find", "{photos}", "--steps", "5"], "--steps must be a whole number of at least 10 (got 5)"),
    (["lr-find", "{photos}", "--model", "mlp", "--start", "1", "--end", "2"], "--end must be at least ten times --start, 10 (got 2)"),
    (["serve", "{run}", "--port", "70000"], "--port must be a whole number between 0 and 65535 (got 70000)"),
    (["serve", "{run}", "--min-confidence", "2"], "--min-confidence must be between 0 and 1 (got 2"),
    (["serve", "{run}", "--max-pixels", "0"], "--max-pixels must be a whole number of at least 1 (got 0)"),
    (["serve", "{run}", "--host", "192.0.2.1"], "cannot listen on 192.0.2.1:8000"),
    (["train", "{photos}", "--model", "mlp", "--batch-size", "3", "--devices", "2"],
     "--batch-size 3 is the whole batch, shared by 2 processes; use at least 4"),
    (["train", "mnist", "--devices", "0,0"], "--devices 0,0: give a number of processes (e.g. 4) or the GPUs"),
    (["compare", "{tmp}"], "is not a visionpath run folder"),
    (["compare", "{run}", "--output", "{tmp}/nowhere/cmp"], "the folder {tmp}/nowhere does not exist"),
    (["data", "check", "{tmp}/nowhere"], "is not a folder"),
    (["data", "check", "{photos}", "--labels", "{tmp}/nowhere.csv"], "--labels {tmp}/nowhere.csv does not exist"),
    (["data", "split", "{photos}", "{tmp}/split", "--validation", "1.5"], "--validation must be in [0, 1) (got 1.5)"),
]
if not torch.cuda.is_available():
    BAD_SETTINGS += [(["train", "mnist", "--device", "cuda"], "--device cuda: this machine has no CUDA GPU"),
                     (["evaluate", "{run}", "--device", "cuda"], "--device cuda: this machine has no CUDA GPU"),
                     (["report", "{run}", "--device", "cuda:1"], "--device cuda:1: this machine has no CUDA GPU"),
                     (["predict", "{run}", "{picture}", "--device", "cuda"], "--device cuda: this machine has no")]


@pytest.mark.parametrize("argv, message", BAD_SETTINGS, ids=[" ".join(a) for a, _ in BAD_SETTINGS])
def test_every_bad_setting_is_one_sentence_before_any_work(argv, message, finished_run, capsys):
    fill = lambda text: text.format(**finished_run)  # noqa: E731
    started = time.perf_counter()
    assert main([fill(a) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and fill(message) in err, err
    assert "Traceback" not in out + err and "epoch 1" not in out  # nothing trained, nothing loaded at length
    assert time.perf_counter() - started < 60


def test_an_unexpected_error_is_one_line_and_a_log_with_the_traceback(monkeypatch, capsys):
    import visionpath.cli as cli
    from dataclasses import replace
    monkeypatch.setitem(cli.BY_NAME, "models", replace(cli.BY_NAME["models"], function=lambda: 1 / 0))  # a bug
    assert main(["models"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: visionpath failed unexpectedly (ZeroDivisionError: division by zero)")
    log = Path(err.split("the full traceback is in ")[1].split(". Run again")[0])
    assert "Traceback" not in err and "ZeroDivisionError" in log.read_text() and "lambda" in log.read_text()
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "models"])


@pytest.mark.slow  # over 3 s here: the full suite runs it
def test_class_and_file_names_that_are_not_utf8_never_crash_a_command(tmp_path, capsys, monkeypatch):
    """Latin-1 bytes in a class folder's name and a file's: every command that draws, writes or prints them runs
    (train drew its confusion matrix with them and died after its epochs; evaluate, report, show and data check
    died too); the terminal and figures show U+FFFD, the CSV keeps the bytes."""
    from conftest import make_folder
    root = make_folder(tmp_path / "photos")
    odd, cafe = os.fsdecode(b"caf\xe9.png"), os.fsdecode(b"caf\xe9")  # Latin-1 bytes: not valid UTF-8
    for split in ("train", "validation", "test"):
        (root / split / "ant").rename(root / split / cafe)
    (root / "train" / cafe / "0.png").rename(root / "train" / cafe / odd)
    (root / "test" / "bee" / "0.png").rename(root / "test" / "bee" / odd)
    assert main(["train", str(root), "--model", "mlp", "--epochs", "1", "--batch-size", "8", "--precision", "fp32",
                 "--project", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "photos-mlp-1"
    assert (run / "confusion_matrix.png").is_file()
    assert main(["evaluate", str(run)]) == 0 and "(12 images)" in capsys.readouterr().out
    assert main(["report", str(run)]) == 0 and (run / "report.html").is_file()
    monkeypatch.chdir(tmp_path)
    assert main(["show", str(root)]) == 0 and (tmp_path / "photos-batch.png").is_file()
    assert main(["data", "check", str(root), "--output", str(tmp_path / "check")]) in (0, 1)
    assert (tmp_path / "check.png").is_file() and (tmp_path / "check.html").is_file()
    # the JSON files stay valid UTF-8 (the name's bytes as \u escapes), and read back to the name
    for written in (run / "config.json", run / "data.json", tmp_path / "check.json"):
        written.read_bytes().decode("utf-8")
    assert cafe in json.loads((run / "data.json").read_text())["classes"]
    checked = json.loads((tmp_path / "check.json").read_text())["pictures"]
    assert any(record["path"].endswith(f"{cafe}/{odd}") for record in checked)
    capsys.readouterr()
    assert main(["predict", str(run), str(root / "test" / "bee" / odd), "--csv", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out
    assert "caf\ufffd.png: " in out and "caf\ufffd " in out and b"caf\xe9.png" in (tmp_path / "p.csv").read_bytes()


def test_missing_data_offline_says_where_to_put_it(capsys):
    assert main(["train", "mnist", "--data-dir", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "--data-dir" in err


@pytest.mark.slow
def test_python_dash_m_and_layout_help(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, "-m", "visionpath", "train", str(tmp_path / "empty")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no class subfolders" in done.stderr and "my_photos/train/<class>/" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # over 3 s here: the full suite runs it
@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs ../shared/data/mnist")
def test_real_mnist_one_epoch(tmp_path, capsys):
    assert main(["train", "mnist", "--data-dir", str(SHARED_DATA), "--epochs", "1", "--precision", "fp32",
                 "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1 · 422 iterations × 128 images" in out
    accuracy = float(out.split("test: loss")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy > 94


def test_every_flag_is_a_declared_keyword_of_the_function_its_command_calls():
    import inspect

    from visionpath.cli import BY_NAME, DATA_COMMANDS, build_parser
    from visionpath.options import declared
    from visionpath.train import train
    from visionpath.tune import tune
    parsers = build_parser()._subparsers._group_actions[0].choices
    data = parsers["data"]._subparsers._group_actions[0].choices
    for command in [c for c in BY_NAME.values() if c.name != "data"] + DATA_COMMANDS:
        parser = (data if command in DATA_COMMANDS else parsers)[command.name]
        flags = {a.dest for a in parser._actions if a.dest not in ("help", "lang")}  # lang: set_language
        keywords = {d.name for d in declared(command.function)} | ({"run"} if command.run else set())
        settings = {f for f in inspect.signature(train).parameters if f not in ("config", "stop_if", "resume",
                                                                                 "devices")}
        assert flags == keywords | (settings if command.settings else set()), command.name
        assert keywords <= set(inspect.signature(command.function).parameters) | {"run"}
    assert {d.name for d in declared(tune)} >= {"trials", "workers", "storage", "pruner", "worker"}
    shown = parsers["tune"].format_help()
    assert "--workers" in shown and "--worker " not in shown and "--deadline" not in shown  # for what --workers starts


def test_the_cache_command_shows_verifies_prunes_and_clears(tiny_folder, capsys):
    from visionpath.data import load_dataset
    load_dataset(tiny_folder)
    capsys.readouterr()
    assert main(["cache"]) == 0
    assert "12×12 colour: 54 pictures in 3 segment(s)" in capsys.readouterr().out
    assert main(["cache", "verify"]) == 0 and "every cached picture matches its checksums" in capsys.readouterr().out
    assert main(["cache", "prune"]) == 0 and "freed 0.0 kB" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert "freed " in out and out.rstrip().splitlines()[-2].strip() == "empty"
