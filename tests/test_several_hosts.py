"""Several machines, for real: hosts that share nothing but a network (network namespaces made here, tests/hosts.py)
and a real PostgreSQL server. `visionpath tune` on two hosts sharing one study in the server, a host that dies in
the middle of a trial, and each way of not reaching the server said in one sentence."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hosts import (cannot_make_hosts, cannot_start_postgres, free_port, network_hosts, postgres_server, wait_for)
from visionpath.errors import VisionpathError

optuna = pytest.importorskip("optuna", reason="tune needs the tune extra: pip install -e '.[test]'")
pytest.importorskip("psycopg", reason="a PostgreSQL study needs the postgres extra: pip install -e '.[test]'")
no_server = cannot_start_postgres()
no_hosts = cannot_make_hosts()
needs_server = pytest.mark.skipif(no_server is not None, reason=no_server or "")
needs_hosts = pytest.mark.skipif(no_hosts is not None or no_server is not None, reason=no_hosts or no_server or "")
SRC = Path(__file__).resolve().parents[1] / "src"

# each trial: a dense network for two epochs on a tiny folder, seconds on a laptop CPU
TRIAL = ["--model", "mlp", "--epochs", "2", "--batch-size", "8", "--precision", "fp32", "--pruner", "none"]


def tune_on(host, folder: Path, url: str, work: Path, *extra: str) -> subprocess.Popen:
    """`visionpath tune` on `host`, with its own home and project folder, the study in the server at `url`."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VISIONPATH_HOME": str(work / "home"), "VISIONPATH_OFFLINE": "1", "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-m", "visionpath", "tune", str(folder), *TRIAL, "--storage", url, "--study", "shared",
            "--project", str(work / "runs"), *extra]
    return subprocess.Popen(host.command(argv), env=env, stdout=open(work / "out.txt", "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


# what a host sees of the study, as JSON: the test's own process is on none of the hosts' network
TRIALS = """
import json, sys, warnings
import optuna
warnings.simplefilter("ignore")
try:
    trials = optuna.load_study(study_name="shared", storage=sys.argv[1]).get_trials(deepcopy=False)
except KeyError:  # not made yet
    trials = []
print(json.dumps([{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                   "user_attrs": t.user_attrs, "system_attrs": t.system_attrs} for t in trials]))
"""


def trials_of(url: str, host) -> list[SimpleNamespace]:
    """The study's trials, read from `host` (number, state, value, params, user_attrs, system_attrs)."""
    done = subprocess.run(host.command([sys.executable, "-c", TRIALS, url]), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return [SimpleNamespace(**t) for t in json.loads(done.stdout)]


def said(work: Path) -> str:
    return (work / "out.txt").read_text()


@needs_hosts
@pytest.mark.slow
def test_two_hosts_sharing_a_study_complete_exactly_its_trials(tiny_folder, tmp_path):
    with network_hosts(3) as (a, b, c), postgres_server(c) as server:
        url = server.url()
        # b starts once a has made the study; while b starts (its imports take as long as a few trials of a, more
        # on a busy machine), a goes on: enough trials that some are left for b
        first = tune_on(a, tiny_folder, url, tmp_path / "a", "--trials", "8")
        wait_for(lambda: (tmp_path / "a" / "runs").is_dir() and any((tmp_path / "a" / "runs").iterdir()), 60)
        second = tune_on(b, tiny_folder, url, tmp_path / "b", "--trials", "8")
        assert first.wait(300) == 0, said(tmp_path / "a")
        assert second.wait(300) == 0, said(tmp_path / "b")
        trials = trials_of(url, a)
        assert len(trials) == 8 and all(t.state == "COMPLETE" for t in trials)
        hosts = {t.user_attrs["host"] for t in trials}
        assert hosts == {a.name, b.name}  # both worked on it, and none started a trial beyond the count
        for t in trials:  # each run folder is on the host that ran it, in that host's project folder
            work = tmp_path / ("a" if t.user_attrs["host"] == a.name else "b")
            assert Path(t.user_attrs["run"]).parent == (work / "runs" / "tune-photos-1").resolve()
        best = max(trials, key=lambda t: t.value)
        if best.user_attrs["host"] == b.name:  # the summary says where the best run is, and how to score it
            assert f"the best trial ran on {b.name}, in {best.user_attrs['run']}" in said(tmp_path / "a")


@needs_hosts
@pytest.mark.slow
def test_a_host_that_dies_during_a_trial_is_failed_by_the_heartbeat_and_its_trial_run_again(tiny_folder, tmp_path):
    with network_hosts(2) as (a, b), postgres_server(a) as server:
        url = server.url()
        beats = ["--trials", "3", "--heartbeat", "1", "--retries", "1"]
        doomed = tune_on(b, tiny_folder, url, tmp_path / "b", *beats)
        lost = None
        while lost is None:  # frozen in the middle of a trial, then killed: no last word to the database
            assert wait_for(lambda: running(url, a), 120, step=0.5) and doomed.poll() is None, said(tmp_path / "b")
            os.killpg(doomed.pid, signal.SIGSTOP)
            lost = running(url, a)
            os.killpg(doomed.pid, signal.SIGKILL if lost else signal.SIGCONT)
        doomed.wait()
        survivor = tune_on(a, tiny_folder, url, tmp_path / "a", *beats)
        assert survivor.wait(300) == 0, said(tmp_path / "a")
        trials = {t.number: t for t in trials_of(url, a)}
        assert trials[lost.number].state == "FAIL" and "error" not in trials[lost.number].user_attrs
        retried = [t for t in trials.values() if t.system_attrs.get("failed_trial") == lost.number]
        assert len(retried) == 1 and retried[0].params == lost.params  # run again, with the same settings
        assert retried[0].state == "COMPLETE" and retried[0].user_attrs["host"] == a.name
        assert sum(t.state == "COMPLETE" for t in trials.values()) == 3  # the count, completed on host A
        assert "its machine stopped answering" in (tmp_path / "a" / "runs" / "tune-photos-1" / "study.html"
                                                   ).read_text()


def running(url: str, host):
    """A trial running in the study, or None (also before the study is made), as `host` sees it."""
    return next((t for t in trials_of(url, host) if t.state == "RUNNING"), None)


@needs_server
@pytest.mark.slow  # a server started: seconds
def test_each_way_of_not_reaching_the_server_is_one_sentence_before_any_trial(tiny_folder, tmp_path, monkeypatch):
    from visionpath.tune import tune
    with postgres_server() as server:
        with pytest.raises(VisionpathError, match=rf"^the database server at 127.0.0.1:{server.port} refused the "
                                                  r"password of user visionpath; check the user and password"):
            tune(tiny_folder, storage=server.url(password="not-it"), project=tmp_path / "runs", model="mlp")
        nobody = free_port()
        with pytest.raises(VisionpathError, match=rf"^nothing answers at 127.0.0.1:{nobody}: the database server is "
                                                  "not running there"):
            tune(tiny_folder, storage=server.url(port=nobody), project=tmp_path / "runs", model="mlp")
        monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the driver were not installed
        with pytest.raises(VisionpathError, match=r"^a study stored in PostgreSQL needs psycopg, which is not "
                                                  r"installed: pip install 'visionpath\[postgres\]'$"):
            tune(tiny_folder, storage=server.url(), project=tmp_path / "runs", model="mlp")
    assert not (tmp_path / "runs").exists()  # said before any folder was made or any picture read


# the run compared: as tests/test_distributed.py compares 2 processes on one machine with 1 (a dense network without
# dropout or augmentation, in fp32), here with each process on its own host
TRAIN = ["--model", "mlp", "--width", "32", "--dropout", "0.0", "--augment", "none", "--seed", "3", "--precision",
         "fp32", "--batch-size", "8"]


def train_on_hosts(hosts, folder: Path, tmp_path: Path, *extra: str, timeout: float = 10) -> list[subprocess.Popen]:
    """`torchrun --nnodes 2 --nproc-per-node 1 -m visionpath train FOLDER` on each host, the c10d rendezvous on the
    first host's address; each host with its own working folder and home. timeout: the collectives' (seconds)."""
    port = free_port()
    launched = []
    for host in hosts:
        work = tmp_path / host.name
        work.mkdir()
        env = {**os.environ, "VISIONPATH_HOME": str(work / "home"), "VISIONPATH_OFFLINE": "1",
               "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "VISIONPATH_COLLECTIVE_TIMEOUT": str(timeout),
               "GLOO_SOCKET_IFNAME": "eth0"}  # the test network's link (the host name resolves to nothing here)
        argv = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{hosts[0].address}:{port}", "--rdzv-id", "two-hosts",
                "--local-addr", host.address, "-m", "visionpath", "train", str(folder), *TRAIN, *extra]
        launched.append(subprocess.Popen(host.command(argv), cwd=work, env=env, stdout=open(work / "out.txt", "w"),
                                         stderr=subprocess.STDOUT, start_new_session=True))
    return launched


def weights_of(run: Path) -> dict:
    from safetensors.torch import load_file
    return {k: v for k, v in load_file(run / "last.safetensors").items() if k.startswith("model.")}


@needs_hosts
@pytest.mark.slow
def test_two_hosts_train_the_run_of_one_process_and_only_the_first_writes(tiny_folder, tmp_path):
    import visionpath
    one = visionpath.train(tiny_folder, project=tmp_path / "one", model="mlp", width=32, dropout=0.0, augment="none",
                           seed=3, precision="fp32", batch_size=8, epochs=3)
    with network_hosts(2) as hosts:
        a, b = train_on_hosts(hosts, tiny_folder, tmp_path, "--epochs", "3")
        assert a.wait(240) == 0, (tmp_path / hosts[0].name / "out.txt").read_text()
        assert b.wait(60) == 0, (tmp_path / hosts[1].name / "out.txt").read_text()
    run = tmp_path / hosts[0].name / "runs" / "photos-mlp-1"
    mine, theirs = weights_of(run), weights_of(one.path)
    assert max((mine[k] - theirs[k]).abs().max().item() for k in mine) < 1e-5  # TOLERANCE of test_distributed.py
    second = tmp_path / hosts[1].name
    assert sorted(p.name for p in second.iterdir()) == ["home", "out.txt"]  # no run folder on host B
    assert "2 processes (gloo, 1 on this machine) train together" in (tmp_path / hosts[0].name / "out.txt").read_text()


@needs_hosts
@pytest.mark.slow
def test_a_host_cut_off_mid_epoch_ends_the_run_with_one_sentence_and_it_resumes_on_one_host(tiny_folder, tmp_path):
    import visionpath
    with network_hosts(2) as hosts:
        a, b = train_on_hosts(hosts, tiny_folder, tmp_path, "--epochs", "60", "--batch-size", "4", timeout=8)
        run = tmp_path / hosts[0].name / "runs" / "photos-mlp-1"
        assert wait_for(lambda: (run / "results.csv").is_file() and
                        (run / "results.csv").read_text().count("\n") >= 4, 240), \
            (tmp_path / hosts[0].name / "out.txt").read_text()
        hosts[1].cut_off()  # the cable pulled: its packets are lost, nothing is closed
        assert a.wait(120) != 0
        os.killpg(b.pid, signal.SIGKILL)
        b.wait()
    said = (tmp_path / hosts[0].name / "out.txt").read_text()
    before = visionpath.Run(run).history
    done = len(before)
    assert 3 <= done < 60
    from visionpath.checkpoint import read_metadata
    assert read_metadata(run / "last.safetensors")["epoch"] == done  # the last finished epoch, whole
    assert (f"error: another process of this run stopped (it stopped answering); the run is saved through epoch "
            f"{done} in runs/photos-mlp-1") in said
    resumed = visionpath.train(resume=run)  # on one host
    assert len(resumed.history) == 60 and resumed.history[:done] == before


@needs_server
@pytest.mark.slow
def test_a_trial_is_claimed_under_a_lock_every_machine_waits_on(tmp_path):
    import threading

    from visionpath.tuning.storage import claiming, open_storage
    with postgres_server() as server:
        url = server.url()
        claimed = threading.Event()

        def other_machine() -> None:  # its own storage and study folder: only the database is shared
            with claiming(open_storage(url), url, "shared", tmp_path / "b"):
                claimed.set()
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with claiming(open_storage(url), url, "shared", tmp_path / "a"):
            other = threading.Thread(target=other_machine)
            other.start()
            assert not claimed.wait(1.5)  # it waits while this machine counts and claims
        assert claimed.wait(10)
        other.join()
