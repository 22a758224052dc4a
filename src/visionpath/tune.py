"""Hyper-parameter search: an Optuna study whose trials are ordinary visionpath training runs.

    visionpath tune my_photos/ --trials 30 --timeout 1h     # the model's default space; bad trials pruned early
    visionpath tune cifar10 --model resnet9 --space space.toml --workers 2
    visionpath tune my_photos/ --storage postgresql://.../studies --study flowers   # several machines, one study
    visionpath tune --resume runs/tune-my_photos-1          # continue a study; --report DIR draws it again

A study lives in its own folder: `tune.json` (the fixed settings, what is searched and how), `study.db` (Optuna's
SQLite storage, unless --storage names a database that processes on several machines share), one run folder per
trial (so everything visionpath shows works on a trial) and `study.html`. Every trial trains with the same seed,
so two trials differ by their settings, not by luck. Trials are compared on validation accuracy only and never
see the test split; at the end the best trial's weights are scored on it once. Optuna is in the `tune` extra.

The loop is Optuna's ask-and-tell: each process asks the study for a trial (under a lock that every process
sharing the study waits on, so that together they stop at exactly --trials), trains it, feeding each epoch's validation accuracy to the pruner
(train's stop_if), and tells the study how it ended: complete, pruned, or failed with its one-sentence reason.

This module is the search itself: `tune`, its trials and the processes that run them, and the best trial scored;
the rest is in the rooms of `visionpath.tuning` (its __init__ lists them).
"""
from __future__ import annotations

import inspect
import math
import os
import re
import socket
import subprocess
import sys
import time
import traceback
import zlib
from dataclasses import fields
from pathlib import Path
from typing import Annotated

from .config import TrainConfig
from .console import quietly, say
from .errors import VisionpathError
from .files import atomic_write, json_text
from .i18n import tr
from .options import Option, checked
from .run import Run
from .train import train
from .tuning.page import shown, write_study_report
from .tuning.storage import (GRACE_BEATS, HEARTBEAT, beating, claiming, hidden_password, optuna_module,
                             quiet_optuna)
from .tuning.study import PRUNERS, Study, best_command, best_trial, new_study


def run_trial(study: Study, shared, trial, storage) -> None:
    """Train one trial, its validation accuracy after each epoch given to the pruner, and tell the study how it
    ended. A trial that fails (a setting the data cannot take, a run that diverged at once, a
    bug) is recorded with its reason, and the study goes on."""
    optuna = optuna_module()
    # a rate of 0.00402 trains as well as 0.0040241051772961075, and its command line can be read
    sampled = {name: float(f"{v:.3g}") if isinstance(v, float) else v
               for name, v in ((name, d.suggest(trial)) for name, d in study.space.items())}
    trial.set_user_attr("settings", sampled)
    started = time.perf_counter()

    def pruned(row: dict) -> bool:
        trial.report(row["val_accuracy"], row["epoch"])
        return trial.should_prune()
    try:
        with quietly(), beating(storage, trial._trial_id):  # alive, for the machines sharing the study
            run = train(**study.settings, **sampled, project=str(study.path), name=f"trial-{trial.number}",
                        score_test=False, stop_if=pruned)
    except Exception as e:  # the study goes on; Ctrl-C (not an Exception) stops it
        reason = str(e) if isinstance(e, VisionpathError) else f"{type(e).__name__}: {e}"
        trial.set_user_attr("error", reason.splitlines()[0] if reason else type(e).__name__)
        if not isinstance(e, VisionpathError):  # a bug: its traceback kept with the trial, for a report
            trial.set_user_attr("traceback", traceback.format_exc()[-8000:])
        shared.tell(trial, state=optuna.trial.TrialState.FAIL)
        say(tr("trial {number} failed: {reason}", number=trial.number, reason=trial.user_attrs["error"]))
        return
    history = run.history
    trial.set_user_attr("run", str(run.path.resolve()))
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
    trial.set_user_attr("epochs", len(history))
    if run.interrupted:  # Ctrl-C: the trial does not count, and the study stops (a resume runs one again)
        trial.set_user_attr("error", tr("interrupted"))
        trial.set_user_attr("interrupted", True)
        shared.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise KeyboardInterrupt
    best = max(row["val_accuracy"] for row in history)
    if run.stopped:
        shared.tell(trial, state=optuna.trial.TrialState.PRUNED)
        say(tr("trial {number} pruned after epoch {epoch}: validation accuracy {accuracy:.2%}, behind the other "
               "trials at that epoch", number=trial.number, epoch=len(history), accuracy=history[-1]["val_accuracy"]))
        return
    shared.tell(trial, best)
    say(tr("trial {number}: best validation accuracy {accuracy:.2%} with {settings} ({seconds:.0f}s)",
           number=trial.number, accuracy=best, settings=", ".join(f"{k} {shown(v)}" for k, v in sampled.items()),
           seconds=trial.user_attrs["seconds"]))


def counted(trial) -> bool:
    """Whether a trial counts towards --trials: all do (running, finished, failed) but those interrupted or lost
    with their process, which a resumed study runs again, those the heartbeat failed (failed with no reason of
    visionpath's: their machine stopped answering), which the other machines replace, and those waiting to run (a
    heartbeat-failed trial run again, with --retries), which the next claim takes up."""
    lost_by_heartbeat = trial.state.name == "FAIL" and "error" not in trial.user_attrs
    return not (trial.user_attrs.get("interrupted") or trial.user_attrs.get("lost") or lost_by_heartbeat
                or trial.state.name == "WAITING")


def search(study: Study, trials: int, deadline: float | None, worker: int = 0) -> None:
    """This process's share of the study: trials until the study holds `trials` counted ones, or until the
    deadline (a time.time(); a running trial finishes). The count and the new trial are settled under a lock that
    every process sharing the study waits on (storage.claiming: in the database, for machines sharing a server),
    so that together they never start one too many; trials whose machine stopped answering are failed first.
    Once the count is reached, this process waits while other processes' trials still run: one whose machine
    stopped is then failed by the heartbeat, and another takes its place."""
    storage = study.open_storage()
    shared = study.optuna_study(storage)
    # a seed for each process and each resume, so that no sampler repeats another's draws
    seed = zlib.crc32(f"{study.settings.get('seed', 0)}:{worker}:{socket.gethostname()}:{len(shared.trials)}".encode())
    shared.sampler = optuna_module().samplers.TPESampler(seed=seed)
    while deadline is None or time.time() < deadline:
        with claiming(storage, study.storage, study.name, study.path):
            mark_lost(shared)
            with quiet_optuna():
                optuna_module().storages.fail_stale_trials(shared)  # silent past the heartbeat's grace: failed
            found = shared.get_trials(deepcopy=False)
            full = sum(counted(t) for t in found) >= trials
            running = full and any(t.state.name == "RUNNING" for t in found)
            if full and not running:
                return
            if not full:
                with quiet_optuna():
                    trial = shared.ask()  # a trial waiting to be run again first
                trial.set_user_attr("process", process_name(os.getpid()))
                trial.set_user_attr("host", socket.gethostname())
        if full:  # until those trials end, or their machine is found silent
            time.sleep(1)
            continue
        run_trial(study, shared, trial, storage)


def mark_lost(shared) -> None:
    """Trials left running by a process of this machine that has ended (killed, or the machine restarted) are
    recorded as failed and lost: they stop counting, and the study runs others in their place."""
    optuna = optuna_module()
    for frozen in shared.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        host, _, pid = frozen.user_attrs.get("process", "").rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)):
            trial = optuna.Trial(shared, frozen._trial_id)  # as Optuna's own fail_stale_trials reaches it
            trial.set_user_attr("lost", True)
            trial.set_user_attr("error", tr("its process ended before it finished"))
            shared.tell(frozen.number, state=optuna.trial.TrialState.FAIL)


def process_name(pid: int) -> str:
    """How a trial records the process that runs it ("host:pid"), which mark_lost reads back."""
    return f"{socket.gethostname()}:{pid}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def run_study(study: Study, trials: int, deadline: float | None, workers: int) -> None:
    """The study in this process and `workers` - 1 more on this machine (`visionpath tune --resume STUDY --worker
    K`), all sharing its storage."""
    command = [sys.executable, "-m", "visionpath", "tune", "--resume", str(study.path), "--trials", str(trials)]
    helpers = [subprocess.Popen(command + ["--worker", str(k)] + (["--deadline", str(deadline)] if deadline else []))
               for k in range(1, workers)]
    try:
        wait_for_workers(study, helpers, trials, deadline)
        search(study, trials, deadline)
    finally:
        for k, helper in enumerate(helpers, start=1):
            if helper.wait() not in (0, 130):  # 130: Ctrl-C, said by the worker itself
                say(tr("worker {worker} stopped with exit status {status}; the study keeps what it finished",
                       worker=k, status=helper.returncode))


def wait_for_workers(study: Study, helpers: list[subprocess.Popen], trials: int, deadline: float | None) -> None:
    """Until each worker started here has claimed its first trial (or ended, or the study is full): a worker
    spends seconds importing torch, and without this wait a short study is over before it joins, so that
    --workers 2 would run every trial in one process."""
    pending = {process_name(helper.pid): helper for helper in helpers}
    shared = study.optuna_study() if pending else None
    while pending and (deadline is None or time.time() < deadline):
        found = shared.get_trials(deepcopy=False)
        if sum(counted(t) for t in found) >= trials:
            return
        claimed = {t.user_attrs.get("process") for t in found}
        pending = {p: h for p, h in pending.items() if p not in claimed and h.poll() is None}
        time.sleep(0.2)


def score_best(study: Study) -> dict | None:
    """The best trial's run scored once on the test split (its best epoch's weights), with the warning that its
    validation score, the best of many tries on the same pictures, is optimistic. Kept in best.json."""
    shared = study.optuna_study()
    best = best_trial(shared)
    if best is None:
        say(tr("no trial finished: there is nothing to score; each trial's line above says why."))
        return None
    tries = sum(t.state.name in ("COMPLETE", "PRUNED") for t in shared.get_trials(deepcopy=False))
    say(tr("best of {count} trials: trial {number}, validation accuracy {accuracy:.2%}. That number is optimistic: it "
           "is the best of {count} tries on the same validation pictures. The test split, which no trial saw, "
           "scores it once:", count=tries, number=best.number, accuracy=best.value))
    host = best.user_attrs.get("host", socket.gethostname())
    outcome = {"trial": best.number, "run": best.user_attrs["run"], "host": host, "val_accuracy": best.value,
               "params": best.params, "command": best_command(study, best), "test_accuracy": None}
    if host != socket.gethostname():  # its run folder is on that machine: the honest score is there to give
        say(tr("the best trial ran on {host}, in {run}; score it there, once: visionpath evaluate {run}",
               host=host, run=outcome["run"]))
    else:
        try:  # no test split: no honest score to give
            outcome["test_accuracy"] = Run(outcome["run"]).evaluate("test").accuracy
        except VisionpathError as e:
            say(tr("no test score: {reason}", reason=e))
    atomic_write(study.path / "best.json", json_text(outcome))
    say(tr("the best settings, as a command: {command}", command=outcome["command"]))
    return outcome


def parse_timeout(timeout: str | float | None) -> float | None:
    """--timeout in seconds: a number of minutes, or with a unit: 90s, 30m, 1.5h, 1h30m."""
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)):
        seconds = timeout * 60
    else:
        parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*", timeout)
        if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", timeout):
            seconds = float(timeout) * 60
        elif parts and any(parts.groups()):
            hours, minutes, secs = (float(g or 0) for g in parts.groups())
            seconds = hours * 3600 + minutes * 60 + secs
        else:
            seconds = math.nan
    if not seconds > 0:
        raise VisionpathError(tr("--timeout must be a time above zero, in minutes (30) or with a unit (90s, 30m, "
                                 "1h, 1h30m); got {timeout!r}.", timeout=timeout))
    return seconds


@checked
def tune(data: str | Path | None = None, *,
         trials: Annotated[int, Option("trials in all, a resumed study's earlier ones included", valid="≥ 1")] = 20,
         timeout: Annotated[str | float | None, Option("start no trial after this long: minutes, or 90s, 30m, 1h "
                                                       "(default: none)", metavar="TIME")] = None,
         space: Annotated[str | Path | None, Option("the settings to search and their ranges (default: the model's "
                                                    "own space)", metavar="TOML")] = None,
         workers: Annotated[int, Option("trial processes on this machine sharing the study", valid="≥ 1")] = 1,
         storage: Annotated[str | None, Option("an Optuna storage that processes on several machines share, e.g. "
                                               "postgresql://host/db (default: study.db in the study folder)",
                                               metavar="URL")] = None,
         study: Annotated[str | None, Option("the study's name in --storage (default: visionpath)", metavar="NAME")
                          ] = None,
         pruner: Annotated[str | None, Option("stop unpromising trials by their early epochs: halving (the default), "
                                              "median or none", choices=PRUNERS)] = None,
         heartbeat: Annotated[int, Option("seconds between a running trial's signs of life in the storage; a trial "
                                          f"silent for {GRACE_BEATS} of them is failed (its machine stopped) and "
                                          "the others take its place", valid="≥ 1", metavar="SECONDS")] = HEARTBEAT,
         retries: Annotated[int, Option("run a trial failed that way again, with the same settings, up to this "
                                        "many times", valid="≥ 0")] = 0,
         resume: Annotated[str | Path | None, Option("continue a study folder up to --trials", metavar="STUDY")] = None,
         report: Annotated[str | Path | None, Option("draw a study folder's study.html again and stop",
                                                     metavar="STUDY")] = None,
         worker: Annotated[int, Option("the number of a process --workers started", hidden=True)] = 0,
         deadline: Annotated[float | None, Option("when the study stops starting trials (time.time())", hidden=True)
                             ] = None, **settings) -> Study:
    """Search training settings for `data` with Optuna: `trials` trials in all (each a run folder in the study's
    folder), or until `timeout` (minutes, or "90s", "30m", "1h"), in `workers` processes sharing the study; over
    the model's default space or the TOML file `space`. Any of train's settings given here is fixed, not searched.
    resume: a study folder to continue up to `trials`; report: a study folder whose study.html to draw again (at
    any time, while trials run). storage, study: an Optuna storage URL and study name that processes on several
    machines share. pruner: halving (successive halving, the default: measured to save the most for the same
    result, benchmarks/results/tune_fashion_cnn.md), median or none. The best trial is scored on the test split once.
    worker, deadline: for the processes that --workers starts."""
    optuna_module()
    if report is not None:
        found = Study.open(report)
        write_study_report(found)
        return found
    if deadline is None and (seconds := parse_timeout(timeout)) is not None:  # a bad time: said before any work
        deadline = time.time() + seconds
    if resume is not None:
        if any(v is not None for v in (data, space, storage, study, pruner)) or settings:
            raise VisionpathError(tr("--resume continues a study with its own data, settings and space; leave out "
                                     "the others."))
        found = Study.open(resume)
    elif data is None:
        raise VisionpathError(tr("tune needs the data to search on (a dataset or a folder), or --resume STUDY."))
    else:
        found = new_study(str(data), space, settings, storage, study, pruner or "halving", heartbeat, retries)
    if worker:
        search(found, trials, deadline, worker)
        return found
    say(tr("study {path}: {trials} trials of {model} on {data}, searching {space}; pruner {pruner}; stored in "
           "{storage}", path=found.path, trials=trials, model=found.model,
           data=found.settings["data"], space=", ".join(d.describe() for d in found.space.values()),
           pruner=found.pruner, storage=hidden_password(found.storage)))
    try:
        run_study(found, trials, deadline, workers)
    except KeyboardInterrupt:
        write_study_report(found)
        say(tr("interrupted; the study keeps every finished trial. Continue with: visionpath tune --resume {path}",
               path=found.path))
        raise
    outcome = score_best(found)
    write_study_report(found, outcome)
    return found


tune.__signature__ = inspect.Signature(
    [p for p in inspect.signature(tune).parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    + [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
       for f in fields(TrainConfig) if f.name != "data"],
    return_annotation="Study")
