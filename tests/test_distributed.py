"""Training in several processes (torchrun, DistributedDataParallel) on this machine's CPU: real launches of 2
processes with the Gloo backend on tiny folders, against one process training the same run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import visionpath
from visionpath.checkpoint import read_metadata
from visionpath.distributed import Processes, parse_devices
from visionpath.errors import VisionpathError

from conftest import make_folder

WORKER = Path(__file__).with_name("distributed_worker.py")
# fp32 sums of the same numbers in another order (each process sums its half of a batch) differ in the last bits;
# after a few Adam steps the weights of 2 processes and of 1 measured 4.8e-7 apart
TOLERANCE = 1e-5
# the runs compared: a dense network without dropout or augmentation, whose step does not depend on how a batch
# is cut (batch norm would: on CPUs each process normalises its own share); in fp32, whatever this machine's
# --precision auto would say (bf16 is compared on its own, below)
MODEL = {"model": "mlp", "width": 32, "dropout": 0.0, "augment": "none", "seed": 3, "precision": "fp32"}


def flags(**settings) -> list[str]:
    """`visionpath train`'s flags for these settings: {"batch_size": 8} -> ["--batch-size", "8"]."""
    return [part for name, value in settings.items() for part in ("--" + name.replace("_", "-"), str(value))]


SETTINGS = flags(**MODEL, epochs=3, batch_size=8)


def torchrun(tmp_path: Path, args: list[str], timeout: float = 240, restarts: int = 0, **env: str
             ) -> subprocess.CompletedProcess:
    """`visionpath ARGS` in 2 processes started by torchrun, through tests/distributed_worker.py."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               f"--max-restarts={restarts}", str(WORKER), *args]
    return run_all(command, tmp_path, timeout, {**os.environ, **env})


def run_all(command: list[str], cwd: Path, timeout: float, env: dict) -> subprocess.CompletedProcess:
    """subprocess.run, but a command that outlives its timeout is killed with every process it started."""
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as launch:
        try:
            out, err = launch.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in children_of(launch.pid) + [launch.pid]:
                os.kill(pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, launch.returncode, out, err)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(run / "last.safetensors").items() if k.startswith("model.")}


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < TOLERANCE


def assert_same_history(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for row_a, row_b in zip(a, b):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1"):
            assert row_a[key] == pytest.approx(row_b[key], abs=1e-6), key


@pytest.fixture
def unbalanced_folder(tmp_path) -> Path:
    """Training pictures of 3 classes, 12, 5 and 3 (the later folders overwrite the first files of some classes),
    so that the balanced sampler and class weights both act."""
    root = make_folder(tmp_path / "photos", per_class={"train": 3, "validation": 3, "test": 3}, size=8)
    make_folder(root, classes=("ant", "bee"), per_class={"train": 5}, size=8, seed=1)
    make_folder(root, classes=("ant",), per_class={"train": 12}, size=8, seed=2)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("balance", ["sampler", "weights"])
def test_two_processes_take_the_steps_of_one_and_only_the_first_writes(tmp_path, unbalanced_folder, balance):
    done = torchrun(tmp_path, ["train", "photos", *SETTINGS, "--balance", balance, "--project", "two"],
                    WRITES=str(tmp_path / "writes"))  # first: the picture cache is empty
    one = visionpath.train(str(unbalanced_folder), project=str(tmp_path / "one"), balance=balance, **MODEL,
                           epochs=3, batch_size=8)
    assert done.returncode == 0, done.stderr
    assert "2 processes (gloo, 2 on this machine) train together: each takes 4 of the 8 pictures" in done.stdout
    two = tmp_path / "two" / "photos-mlp-1"
    assert_same_weights(one.path, two)
    assert_same_history(one.history, visionpath.Run(two).history)
    one_test = json.loads((one.path / "test_metrics.json").read_text())
    two_test = json.loads((two / "test_metrics.json").read_text())
    assert two_test["confusion"] == one_test["confusion"]
    assert two_test["loss"] == pytest.approx(one_test["loss"], abs=1e-6)
    # rank 0 wrote the run folder (and decoded into the picture cache); rank 1 mapped the cache and wrote nothing
    def ours(rank: int) -> list[str]:  # what a process wrote in the project and the picture cache
        log = tmp_path / f"writes-{rank}"
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if line.startswith("two") or line.startswith(os.environ["VISIONPATH_HOME"])]
    assert {"two/photos-mlp-1", "two/photos-mlp-1/last.safetensors", "two/photos-mlp-1/results.csv"} <= set(ours(0))
    assert any(line.endswith(".u8") for line in ours(0))  # the decoded pictures, once
    assert ours(1) == [], ours(1)
    assert done.stdout.count("epoch 3/3") == 1  # one process speaks


@pytest.mark.slow
def test_two_processes_and_one_agree_in_bf16_to_its_resolution(tmp_path, tiny_folder):
    """In bf16 each process's half of a batch rounds its products to 8 bits before the halves are added, so the
    weights of 2 processes and of 1 part by that rounding (measured 1.9e-4 here, on weights up to 0.18; bf16's
    resolution is 2^-8 of a value); the scores agree as closely, and no prediction changes."""
    done = torchrun(tmp_path, ["train", "photos", *flags(**{**MODEL, "precision": "bf16"}, epochs=3, batch_size=8),
                               "--project", "two"])
    one = visionpath.train(str(tiny_folder), project=str(tmp_path / "one"), **{**MODEL, "precision": "bf16"},
                           epochs=3, batch_size=8)
    assert done.returncode == 0, done.stderr
    two = tmp_path / "two" / "photos-mlp-1"
    assert json.loads((two / "config.json").read_text())["settings"]["precision"] == "bf16"
    wa, wb = weights(one.path), weights(two)
    largest = max(w.abs().max().item() for w in wa.values())
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 2 ** -8 * largest
    for row_a, row_b in zip(one.history, visionpath.Run(two).history, strict=True):
        assert row_a["val_accuracy"] == row_b["val_accuracy"]
        for key in ("train_loss", "val_loss"):
            assert row_a[key] == pytest.approx(row_b[key], rel=2 ** -8)
    confusion = [json.loads((run / "test_metrics.json").read_text())["confusion"] for run in (one.path, two)]
    assert confusion[0] == confusion[1]


@pytest.mark.slow
def test_a_run_of_two_processes_resumes_in_one(tmp_path, tiny_folder):
    whole = visionpath.train(str(tiny_folder), project=str(tmp_path / "whole"), **MODEL, epochs=4, batch_size=8)
    stopped = torchrun(tmp_path, ["train", "photos", *flags(**MODEL, epochs=4, batch_size=8), "--project", "parts"],
                       STOP_AFTER_EPOCH="2")
    assert stopped.returncode != 0, stopped.stderr  # torchrun's: its processes exited with 130, interrupted
    run = tmp_path / "parts" / "photos-mlp-1"
    assert "interrupted; the run is saved through epoch 2" in stopped.stdout
    assert f"visionpath train --resume {Path('parts', 'photos-mlp-1')} --devices 2" in stopped.stdout
    assert len(visionpath.Run(run).history) == 2
    resumed = visionpath.train(resume=run)  # one process, no torchrun
    assert len(resumed.history) == 4
    assert_same_weights(whole.path, run)
    assert_same_history(whole.history, resumed.history)


@pytest.mark.slow
def test_a_run_resumed_on_several_devices_is_the_run_returned(tmp_path, tiny_folder, monkeypatch):
    stopped = torchrun(tmp_path, ["train", "photos", *SETTINGS], STOP_AFTER_EPOCH="1")
    run = tmp_path / "runs" / "photos-mlp-1"
    assert "interrupted; the run is saved through epoch 1" in stopped.stdout
    monkeypatch.chdir(tmp_path)  # the launched processes run in this process's folder, as from the command line
    environment, handlers = dict(os.environ), [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    resumed = visionpath.train(resume=Path("runs", "photos-mlp-1"), devices=2)
    assert resumed.path == Path("runs", "photos-mlp-1") and not resumed.interrupted
    # the launch leaves this process as it found it: a notebook's Ctrl-C is still its own
    assert dict(os.environ) == environment
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers
    assert [row["epoch"] for row in visionpath.Run(run).history] == [1, 2, 3]


@pytest.mark.slow
def test_torchrun_restarting_the_processes_resumes_the_run_they_started(tmp_path, tiny_folder):
    whole = visionpath.train(str(tiny_folder), project=str(tmp_path / "whole"), **MODEL, epochs=4, batch_size=8)
    done = torchrun(tmp_path, ["train", "photos", *flags(**MODEL, epochs=4, batch_size=8)], restarts=1,
                    DIE_AFTER_EPOCH="2")
    assert done.returncode == 0, done.stderr
    assert "torchrun restarted the processes (restart 1): resuming runs/photos-mlp-1 from its last finished epoch" \
        in done.stdout
    assert [run.name for run in (tmp_path / "runs").iterdir()] == ["photos-mlp-1"]
    run = visionpath.Run(tmp_path / "runs" / "photos-mlp-1")
    assert [row["epoch"] for row in run.history] == [1, 2, 3, 4]
    assert_same_weights(whole.path, run.path)
    assert_same_history(whole.history, run.history)


@pytest.mark.slow
def test_a_killed_process_ends_the_run_with_one_sentence_and_the_checkpoint_whole(tmp_path, tiny_folder):
    command = [sys.executable, "-m", "visionpath", "train", "photos", *flags(**MODEL, epochs=400, batch_size=4),
               "--devices", "2"]
    launch = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        results = tmp_path / "runs" / "photos-mlp-1" / "results.csv"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (results.is_file() and results.read_text().count("\n") >= 3):
            time.sleep(0.2)
        second = [pid for pid in children_of(launch.pid) if environment_of(pid).get("RANK") == "1"]
        assert len(second) == 1
        os.kill(second[0], signal.SIGKILL)  # mid-epoch: an epoch here takes a few hundredths of a second
        out, err = launch.communicate(timeout=120)
    finally:
        for pid in children_of(launch.pid) + [launch.pid] * (launch.poll() is None):
            os.kill(pid, signal.SIGKILL)
    assert launch.returncode == 2
    saved = visionpath.Run(tmp_path / "runs" / "photos-mlp-1")
    done = len(saved.history)
    assert 2 <= done < 400
    assert read_metadata(saved.path / "last.safetensors")["epoch"] == done  # whole, and agreeing with results.csv
    assert f"error: process 1 of 2 was killed by SIGKILL; the run is saved through epoch {done} in " in err
    assert "Traceback" not in out + err
    assert f"visionpath train --resume {Path('runs', 'photos-mlp-1')} --devices 2" in err


def children_of(parent: int) -> list[int]:
    """The processes whose parent is `parent` (torchrun's launcher starts each process of a run as its child)."""
    def parent_of(pid: str) -> int | None:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return None
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and parent_of(pid) == parent]


def environment_of(pid: int) -> dict[str, str]:
    """A process's environment ({} for one that is gone)."""
    try:
        pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(pair.decode(errors="replace").split("=", 1) for pair in pairs if b"=" in pair)


@pytest.mark.slow
def test_a_picture_one_process_cannot_read_stops_every_process_with_one_sentence(tmp_path, tiny_folder):
    done = torchrun(tmp_path, ["train", "photos", *SETTINGS], timeout=180, UNREADABLE_ON_RANK="1")
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(said) == 1, done.stderr
    assert said[0].startswith("error: the processes of this run read different pictures: process 1 and process 0 "
                              "disagree on ")
    assert str(Path("train", "ant", "0.png")) in said[0]
    assert said[0].endswith("every process must read the same files (a file damaged on one machine, or the folder "
                            "changed while they started). Fix or remove the file, or use --strict to stop at "
                            "unreadable ones, and start again.")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_with_strict_the_unreadable_picture_of_one_process_is_every_process_error(tmp_path, tiny_folder):
    done = torchrun(tmp_path, ["train", "photos", *SETTINGS, "--strict"], timeout=180, UNREADABLE_ON_RANK="1")
    said = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode != 0 and len(said) == 1
    assert said[0].startswith("error: 1 file(s) cannot be read as pictures (--strict stops at them)")


def test_shards_cover_every_item_once_as_tensor_split_deals_them():
    for n in (0, 1, 7, 8, 9):
        for world in (1, 2, 3):
            shards = [range(n)[Processes(rank, world).shard(n)] for rank in range(world)]
            assert [list(s) for s in shards] == [t.tolist() for t in torch.arange(n).tensor_split(world)]


def test_devices_are_a_count_or_a_list_of_gpus():
    assert parse_devices("4") == (4, None)
    assert parse_devices(2) == (2, None)
    assert parse_devices("0,2") == (2, "0,2")
    for bad in ("0", "-1", "0,0", "a", "1,x"):
        with pytest.raises(VisionpathError, match="give a number of processes"):
            parse_devices(bad)


@pytest.mark.slow
def test_a_batch_too_small_to_share_is_one_sentence_under_torchrun_too(tmp_path, tiny_folder):
    done = torchrun(tmp_path, ["train", "photos", "--model", "mlp", "--batch-size", "3"], timeout=120)
    said = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert said == ["error: --batch-size 3 is the whole batch, shared by 2 processes; use at least 4, 2 pictures "
                    "for each."]
