"""Faults, with real processes: runs sharing one cache while it is damaged, processes killed while writing, a disk
that fills up, a folder that changes after training. Each promise of README's "What visionpath promises" is
checked here (or in tests/data/test_cache.py) and no number may come out silently wrong."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_folder

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the children find their files through "
                                "Linux's /proc/self/fd")

RUN = ["--model", "mlp", "--batch-size", "8", "--precision", "fp32", "--seed", "3"]

# A child that runs the command line but stops for good just before the rename that would publish the n-th file
# whose name contains HANG_PATTERN (after writing and flushing it): the parent then kills it with SIGKILL, as a
# power cut or the OOM killer would. With HANG_ERRNO it fails that write with the error instead (a full disk).
CHILD = r"""
import errno, os, sys, time
pattern, nth, flag = os.environ["HANG_PATTERN"], int(os.environ["HANG_AT"]), os.environ.get("HANG_FLAG", "")
fail = int(os.environ.get("HANG_ERRNO", "0"))
real, seen = os.fsync, [0]
def fsync(fd):
    if pattern in os.path.basename(os.readlink(f"/proc/self/fd/{fd}")):
        seen[0] += 1
        if seen[0] == nth:
            if fail:
                raise OSError(fail, os.strerror(fail))
            real(fd)
            open(flag, "w").close()
            time.sleep(600)
    return real(fd)
os.fsync = fsync
from visionpath.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(autouse=True)
def one_thread():
    """The children run with one thread (OMP_NUM_THREADS=1), and so does this process while these tests run: the
    same arithmetic in the same order, so that a child's numbers and this process's agree to the last digit."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cli(args: list, capsys) -> tuple[int, str, str]:
    """The command line, in this process: (exit status, stdout, stderr)."""
    from visionpath.cli import main
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def environment(home: Path, **extra) -> dict:
    return {**os.environ, "VISIONPATH_HOME": str(home), "VISIONPATH_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0", **extra}


def visionpath(args: list, home: Path, cwd: Path | None = None, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visionpath", *map(str, args)], env=environment(home, **extra),
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def killed_while_writing(args: list, home: Path, pattern: str, nth: int, flag: Path) -> None:
    """Run the command in a child, and SIGKILL it while it writes the n-th file named like `pattern`."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, args)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=environment(home, HANG_PATTERN=pattern, HANG_AT=str(nth),
                                                                      HANG_FLAG=str(flag)))
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert child.poll() is None, child.stdout.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()


def history(run_dir: Path) -> list[dict]:
    """results.csv without its times: every number that should repeat exactly."""
    with open(run_dir / "results.csv") as f:
        return [{k: v for k, v in row.items() if k not in ("time", "epoch_time")} for row in csv.DictReader(f)]


def outcome(result: subprocess.CompletedProcess) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


def refused(result: tuple[int, str, str]) -> str:
    """A command that failed as users may see it: non-zero, one `error:` sentence, no traceback."""
    code, out, err = result
    assert code != 0 and "Traceback" not in out + err, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


def succeeded(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0 and "Traceback" not in out + err, out + err
    return out


def only_run(project: Path) -> Path:
    (run,) = [p for p in project.iterdir() if p.is_dir()]
    return run


def home() -> Path:
    return Path(os.environ["VISIONPATH_HOME"])  # each test's own (conftest)


# --------------------------------------------------------------------------------------------------- sharing

CHAOS = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from conftest import make_folder
from visionpath.data import load_dataset
from visionpath.data.cache import ImageStore
index = ImageStore((12, 12), 3).index_path
try:
    from visionpath.data.cache import prune_cache
except ImportError:  # (the code before this test existed had none)
    prune_cache = lambda: None
for i in range(int(sys.argv[3])):
    if index.exists():
        index.write_text("{garbage")            # what a torn write or a confused writer leaves
    load_dataset(make_folder(Path(sys.argv[2]) / f"c{i}", seed=100 + i))  # new entries, at the runs' size
    prune_cache()
"""


@pytest.mark.slow
def test_runs_sharing_a_damaged_cache_score_what_they_score_alone(tmp_path, capsys):
    """The reported bug: a run that could not read the index cut the rows another run was training on."""
    folders = {name: make_folder(tmp_path / name, per_class={"train": 40, "validation": 10, "test": 10}, seed=seed)
               for name, seed in (("a", 1), ("b", 2))}
    shared = tmp_path / "shared-home"

    def start(args: list) -> subprocess.Popen:
        return subprocess.Popen(args, env=environment(shared), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    runs = {name: start([sys.executable, "-m", "visionpath", "train", root, "--epochs", "30", "--project",
                         tmp_path / f"together-{name}", *RUN]) for name, root in folders.items()}
    chaos = start([sys.executable, "-c", CHAOS, Path(__file__).parent, tmp_path / "chaos", "12"])
    alone = {}
    for name, root in folders.items():  # each on its own, in this process, with its own cache, meanwhile
        succeeded(cli(["train", root, "--epochs", "30", "--project", tmp_path / f"alone-{name}", *RUN], capsys))
        alone[name] = only_run(tmp_path / f"alone-{name}")
    predicting = start([sys.executable, "-m", "visionpath", "predict", alone["a"], folders["a"] / "test", "--csv",
                        tmp_path / "predictions.csv"])
    for process in (*runs.values(), chaos, predicting):
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0 and "Traceback" not in out, out
    for name in runs:
        together = only_run(tmp_path / f"together-{name}")
        assert history(together) == history(alone[name])  # every epoch's loss and accuracy, to the digit
        assert json.loads((together / "test_metrics.json").read_text())["accuracy"] == \
            json.loads((alone[name] / "test_metrics.json").read_text())["accuracy"]
    succeeded(cli(["predict", alone["a"], folders["a"] / "test", "--csv", tmp_path / "alone.csv"], capsys))
    assert (tmp_path / "predictions.csv").read_text() == (tmp_path / "alone.csv").read_text()


# ---------------------------------------------------------------------------------------------- kill -9

@pytest.mark.slow
def test_killed_while_caching_pictures_the_next_run_uses_none_of_it(tmp_path, capsys):
    root = make_folder(tmp_path / "photos", seed=4)
    args = ["train", root, "--epochs", "2", *RUN]
    killed_while_writing([*args, "--project", tmp_path / "runs"], home(), ".seg-", 1, tmp_path / "flag")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no half-made run folder
    out = succeeded(cli([*args, "--project", tmp_path / "runs"], capsys))
    assert "left by a process that was stopped" in out and "(0 from the picture cache" in out
    shutil.rmtree(home())
    succeeded(cli([*args, "--project", tmp_path / "clean"], capsys))
    assert history(only_run(tmp_path / "runs")) == history(only_run(tmp_path / "clean"))


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["last.safetensors", "results.csv"])
def test_killed_while_saving_an_epoch_the_run_resumes_to_the_same_weights(tmp_path, capsys, pattern):
    root = make_folder(tmp_path / "photos", seed=5)
    args = ["train", root, "--epochs", "4", *RUN]
    killed_while_writing([*args, "--project", tmp_path / "killed"], home(), pattern, 2, tmp_path / "flag")
    run = only_run(tmp_path / "killed")
    assert list(run.glob(".*.tmp"))  # the file being written when the process died, never renamed
    assert [r["epoch"] for r in history(run)] == ["1"]  # epoch 2 never finished saving
    succeeded(cli(["evaluate", run, "--split", "validation"], capsys))
    out = succeeded(cli(["train", "--resume", run], capsys))
    assert "half-written file(s)" in out and not list(run.glob(".*.tmp"))
    succeeded(cli([*args, "--project", tmp_path / "whole"], capsys))
    whole = only_run(tmp_path / "whole")
    assert history(run) == history(whole)
    assert (run / "best.safetensors").read_bytes() == (whole / "best.safetensors").read_bytes()


@pytest.mark.slow
def test_a_damaged_results_csv_is_recovered_from_the_last_checkpoint(tmp_path, capsys):
    root = make_folder(tmp_path / "photos", seed=6)
    succeeded(cli(["train", root, "--epochs", "3", "--project", tmp_path / "runs", *RUN], capsys))
    run = only_run(tmp_path / "runs")
    text = (run / "results.csv").read_text()
    (run / "results.csv").write_text(text[: len(text) - 25])  # a half row, as a non-atomic writer left it
    for command in (["evaluate", run], ["report", run], ["compare", run, "--output", tmp_path / "cmp"]):
        out = succeeded(cli(command, capsys))
        assert "results.csv is damaged at line 4; its history is read from last.safetensors" in out


@pytest.mark.slow
def test_resume_refuses_changed_classes_and_warns_of_changed_files(tmp_path, capsys):
    root = make_folder(tmp_path / "photos", seed=10)
    killed_while_writing(["train", root, "--epochs", "3", "--project", tmp_path / "runs", *RUN], home(),
                         "last.safetensors", 2, tmp_path / "flag")
    run = only_run(tmp_path / "runs")
    for split in ("train", "validation", "test"):  # a class renamed: the saved weights would answer "bee"
        (root / split / "bee").rename(root / split / "wasp")
    assert "are now ant, cat, wasp, but" in refused(cli(["train", "--resume", run], capsys))
    for split in ("train", "validation", "test"):
        (root / split / "wasp").rename(root / split / "bee")
    (root / "train" / "bee").rename(root / "train" / "wasp")  # renamed in train only: the layout is wrong
    assert "cannot resume" in refused(cli(["train", "--resume", run], capsys))
    (root / "train" / "wasp").rename(root / "train" / "bee")
    (root / "train" / "ant" / "1.png").unlink()
    out = succeeded(cli(["train", "--resume", run], capsys))
    assert "1 of the 54 pictures this run recorded are missing" in out


# -------------------------------------------------------------------------------------------- a full disk

@pytest.fixture
def small_disk(tmp_path):
    """A 600 KB file system (tmpfs) where mounting is allowed (root); else None, and a child process fails its
    writes with ENOSPC instead."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], capture_output=True)
    except OSError:
        made = None
    yield mount if made is not None and made.returncode == 0 else None
    if made is not None and made.returncode == 0:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_disk_that_fills_up_is_one_sentence_and_loses_no_finished_epoch(tmp_path, capsys, small_disk):
    root = make_folder(tmp_path / "photos", seed=7)
    args = ["train", root, "--epochs", "6", *RUN, "--width", "64", "--depth", "1"]
    if small_disk is not None:  # epoch 1's checkpoints fit; a second last.safetensors beside them does not
        project, result = small_disk, cli([*args, "--project", small_disk], capsys)
    else:
        project = tmp_path / "runs"
        result = outcome(subprocess.run([sys.executable, "-c", CHILD, *map(str, args), "--project", project],
                                        env=environment(home(), HANG_PATTERN="last.safetensors", HANG_AT="2",
                                                        HANG_ERRNO="28"), capture_output=True, text=True))
    assert "is full: last.safetensors was not written" in refused(result)
    run = only_run(project)
    assert [r["epoch"] for r in history(run)] == ["1"] and not list(run.glob(".*.tmp"))
    succeeded(cli(["evaluate", run], capsys))


def test_a_cache_on_a_full_disk_is_one_sentence(tmp_path, capsys, small_disk, monkeypatch):
    if small_disk is None:
        pytest.skip("mounting a small file system needs root")
    monkeypatch.setenv("VISIONPATH_HOME", str(small_disk))
    root = make_folder(tmp_path / "photos", per_class={"train": 200, "validation": 10}, size=24, seed=8)
    assert "filled up while caching decoded pictures" in refused(cli(["train", root, "--project", tmp_path / "runs",
                                                                     *RUN], capsys))
    assert not list(small_disk.rglob("*.tmp")) and not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------- a folder that changed

@pytest.mark.slow
def test_evaluate_scores_the_recorded_files_wherever_it_runs_and_wherever_the_folder_went(tmp_path, capsys,
                                                                                         monkeypatch):
    root = make_folder(tmp_path / "photos", per_class={"": 20}, seed=9)  # no splits: validation is held out
    succeeded(cli(["train", root, "--epochs", "3", "--project", tmp_path / "runs", *RUN], capsys))
    run = only_run(tmp_path / "runs").resolve()
    best = max(float(r["val_accuracy"]) for r in history(run))
    out = succeeded(cli(["evaluate", run, "--split", "validation"], capsys))
    assert f"accuracy {best:.2%}" in out  # the best epoch's own score, on its own validation pictures
    recorded = [row for row in csv.DictReader(open(run / "split.csv")) if row["split"] == "validation"]
    (root / recorded[0]["path"]).unlink()  # a validation picture is gone
    for i in range(5):  # and new ones would have shifted a split made again
        shutil.copy(root / "ant" / "0.png", root / "ant" / f"new{i}.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = succeeded(cli(["evaluate", run, "--split", "validation"], capsys))
    assert f"1 of the 60 pictures this run recorded are missing from {root}" in out
    assert "5 pictures were added" in out and f"({len(recorded) - 1} images)" in out
    moved = tmp_path / "moved"
    root.rename(moved)
    assert "give its new place with --data-dir" in refused(cli(["evaluate", run], capsys))
    out = succeeded(cli(["evaluate", run, "--split", "validation", "--data-dir", moved], capsys))
    assert f"({len(recorded) - 1} images)" in out


# -------------------------------------------------------------------------------------------- divergence

def test_a_diverging_run_stops_keeps_nothing_ruined_and_says_what_to_try(tmp_path, capsys):
    root = make_folder(tmp_path / "photos", seed=11)
    result = cli(["train", root, "--epochs", "3", "--project", tmp_path / "runs", *RUN, "--optimizer", "sgd",
                  "--lr", "1e30"], capsys)
    assert "training diverged in epoch 1: the loss became nan with --lr 1e+30" in refused(result)
    assert not any((tmp_path / "runs").iterdir())  # no run folder holding NaN weights as "best"
