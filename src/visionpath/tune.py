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

The loop is Optuna's ask-and-tell: each process asks the study for a trial (under a lock, so that processes
sharing the study stop at exactly --trials), trains it, feeding each epoch's validation accuracy to the pruner
(train's stop_if), and tells the study how it ended: complete, pruned, or failed with its one-sentence reason.
"""
from __future__ import annotations

import html
import inspect
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from .config import TrainConfig, setting_type
from .console import quietly, say
from .defaults import resolve
from .errors import VisionpathError
from .files import atomic_write, locked, save_figure
from .i18n import language, tr
from .models import create_model, model_entry
from .html_page import STYLE, png_tag, table_html
from .run_folder import load_run_data, new_run_dir
from .runs import Run
from .train import batch_for, train

EXTRA = "pip install 'visionpath[tune]'"
PRUNERS = ("median", "halving", "none")
# what a search may not vary: what the data is, where runs go, how the machine is used, and the seed (every trial
# trains with the same one, so that trials differ by their settings alone)
NOT_SEARCHED = {"data", "data_dir", "labels", "project", "name", "device", "precision", "compile", "tensorboard",
                "seed", "strict", "sync_bn", "score_test", "budget"}


def optuna_module():
    """Optuna, or one sentence saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise VisionpathError(tr("visionpath tune needs Optuna, which is not installed: {extra}", extra=EXTRA)
                              ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # visionpath says what happens: a line a trial
    return optuna


# ================================================================================================= the space

@dataclass(frozen=True)
class Dimension:
    """One searched setting: a range (log-uniform when `log`; whole numbers for whole-number settings) or a list
    of choices."""
    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def suggest(self, trial) -> object:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if setting_type(SETTINGS[self.name]) is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)

    def to_dict(self) -> dict:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log}

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.name} {'|'.join(map(str, self.choices))}"
        return f"{self.name} {self.low:g}..{self.high:g}{' (log)' if self.log else ''}"


SETTINGS = {f.name: f for f in fields(TrainConfig)}


def default_space(config: TrainConfig) -> dict[str, Dimension]:
    """What to search for this model, around its recipe (`config`: the settings resolved for the data). Networks
    trained from scratch: the learning rate (log-uniform from a tenth to three times the recipe's), weight decay,
    dropout, label smoothing and the augmentation preset. Pretrained backbones: the head's learning rate, label
    smoothing and, when the run fine-tunes, the fine-tuning rate, how many blocks fine-tune and the layer-wise
    decay; for a folder of photos the resolution too."""
    lr = config.lr
    space = [Dimension("lr", lr / 10, lr * 3, log=True)]
    if not model_entry(config.model).pretrained:
        space += [Dimension("weight_decay", 1e-5, 1e-1, log=True),
                  Dimension("dropout", 0.0, 0.5),
                  Dimension("label_smoothing", 0.0, 0.2),
                  Dimension("augment", choices=("none", "standard", "strong"))]
        return {d.name: d for d in space}
    space.append(Dimension("label_smoothing", 0.0, 0.2))
    if config.fine_tune_epochs:
        with torch.device("meta"):  # the backbone's block groups counted without weights or memory
            groups = len(create_model(config.model, 2, (3, 224, 224)).block_groups())
        space += [Dimension("fine_tune_lr", config.fine_tune_lr / 10, config.fine_tune_lr * 3, log=True),
                  Dimension("unfreeze", 1, groups),
                  Dimension("layer_lr_decay", 0.5, 1.0)]
    if Path(config.data).is_dir():
        space.append(Dimension("image_size", choices=(128, 160, 192, 224)))
    return {d.name: d for d in space}


def read_space(path: str | Path) -> dict[str, Dimension]:
    """A search space from TOML, one line a setting: a range `lr = {low = 1e-4, high = 1e-1, log = true}` or
    choices `augment = ["none", "standard"]`. Each name must be a setting a search can vary, and each value one
    that setting accepts; else one sentence saying which and how to write it."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the same parser as a package (in the tune extra)
        import tomli as tomllib
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise VisionpathError(tr("--space {path}: cannot read it ({reason}).", path=path, reason=e.strerror)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise VisionpathError(tr("--space {path} is not valid TOML ({reason}).", path=path, reason=e)) from None
    searchable = sorted(set(SETTINGS) - NOT_SEARCHED)
    if not table:
        raise VisionpathError(tr("--space {path} names no setting to search; e.g. lr = {{low = 0.0001, high = 0.1, "
                                 "log = true}}.", path=path))
    space = {}
    for name, spec in table.items():
        if name not in searchable:
            raise VisionpathError(tr("--space {path}: '{name}' is not a setting a search can vary; these are: "
                                     "{settings}.", path=path, name=name, settings=", ".join(searchable)))
        space[name] = dimension_from(path, name, spec)
    return space


def dimension_from(path: Path, name: str, spec) -> Dimension:
    """One line of a space file as a Dimension, each value checked as the training settings check it."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if isinstance(spec, list) and spec:
        dimension, values = Dimension(name, choices=tuple(spec)), spec
    elif isinstance(spec, dict) and set(spec) <= {"low", "high", "log"} and number(spec.get("low")) \
            and number(spec.get("high")) and spec["low"] < spec["high"]:
        dimension = Dimension(name, spec["low"], spec["high"], bool(spec.get("log", False)))
        values = [spec["low"], spec["high"]]
        if dimension.log and spec["low"] <= 0:
            raise VisionpathError(tr("--space {path}: {name} is searched on a log scale, so its low must be above "
                                     "0.", path=path, name=name))
    else:
        raise VisionpathError(tr("--space {path}: {name} must be a range, {name} = {{low = ..., high = ...}} with low "
                                 "below high (log = true for a log scale), or a list of choices, {name} = [..., ...].",
                                 path=path, name=name))
    for value in values:  # each value as the training settings take it: the wrong type or range is said here
        try:
            TrainConfig(**{name: value})
        except VisionpathError as e:
            raise VisionpathError(tr("--space {path}: {reason}", path=path, reason=e)) from None
    return dimension


# ================================================================================================= the study

@dataclass
class Study:
    """A study's folder, what it searches (`space`) with which settings fixed (`settings`), and where Optuna
    stores its trials."""
    path: Path
    settings: dict                  # the fixed training settings: data, epochs, batch size, any given
    space: dict[str, Dimension]
    storage: str                    # an Optuna storage URL: the folder's study.db by default
    name: str                       # the study's name in that storage
    pruner: str                     # median, halving or none
    model: str = ""                 # the model the trials train, as the settings resolve it (for the page)

    def optuna_study(self):
        """The Optuna study (made on first use, loaded after): TPE sampling, maximising validation accuracy."""
        optuna = optuna_module()
        from sqlalchemy.exc import SQLAlchemyError  # Optuna's database layer, installed with it
        # median: a trial below the median of the earlier ones at the same epoch stops, once four are in; halving:
        # at epochs 1, 4, 16... only the best quarter of the trials that got there goes on (Optuna's defaults)
        pruner = {"median": optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1),
                  "halving": optuna.pruners.SuccessiveHalvingPruner(),
                  "none": optuna.pruners.NopPruner()}[self.pruner]
        storage = self.storage
        try:
            if storage.startswith("sqlite:"):  # processes sharing one file wait their turn instead of failing
                storage = optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 60}})
            return optuna.create_study(storage=storage, study_name=self.name, direction="maximize",
                                       sampler=optuna.samplers.TPESampler(seed=0), pruner=pruner,
                                       load_if_exists=True)
        except (ImportError, ValueError, RuntimeError, SQLAlchemyError) as e:  # a URL it cannot use, a driver missing
            raise VisionpathError(tr("cannot open the study storage {storage}: {reason}", storage=self.storage,
                                     reason=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None

    def best(self):
        """Its best complete trial so far (Optuna's FrozenTrial), or None when no trial has finished."""
        return best_trial(self.optuna_study())

    def save(self) -> None:
        atomic_write(self.path / "tune.json", json.dumps(self.to_dict(), indent=2, ensure_ascii=False))

    def to_dict(self) -> dict:
        return {"settings": self.settings, "space": {k: d.to_dict() for k, d in self.space.items()},
                "storage": self.storage, "study": self.name, "pruner": self.pruner, "model": self.model}

    @classmethod
    def open(cls, path: str | Path) -> "Study":
        path = Path(path)
        try:
            saved = json.loads((path / "tune.json").read_text(encoding="utf-8"))
            space = {name: Dimension(name, spec.get("low"), spec.get("high"), spec.get("log", False),
                                     tuple(spec["choices"]) if "choices" in spec else None)
                     for name, spec in saved["space"].items()}
            return cls(path, saved["settings"], space, saved["storage"], saved["study"], saved["pruner"],
                       saved.get("model", ""))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise VisionpathError(tr("{path} is not a study folder made by `visionpath tune` (it has no readable "
                                     "tune.json).", path=path)) from None


def new_study(data: str, space: str | Path | None, settings: dict, storage: str | None, name: str | None,
              pruner: str) -> Study:
    """A new study folder, <project>/<name>-N (name: tune-<data> unless given), and what it searches: the TOML
    file's space or the model's default one, less the settings fixed in `settings`. Machines joining one study
    through --storage must search the same space with the same settings: one sentence when they do not."""
    if pruner not in PRUNERS:
        raise VisionpathError(tr("unknown --pruner '{pruner}'; choose median, halving or none.", pruner=pruner))
    if "score_test" in settings:
        raise VisionpathError(tr("a search's trials never score the test split (the best one is scored once, at the "
                                 "end); leave out --score-test."))
    searched = read_space(space) if space is not None else None
    config, _ = resolve(TrainConfig.from_keywords(data=str(data), **settings))  # a bad setting: one sentence, now
    # and against the data, before the first trial: the folder, a labels CSV, a batch too large (given: said; the
    # recipe's: fitted, as train fits it); its pictures decoded into the cache the trials read
    config = replace(config, batch_size=batch_for(config.batch_size, len(load_run_data(config).train),
                                                  "batch_size" in settings))
    dimensions = {k: d for k, d in (searched or default_space(config)).items() if k not in settings}
    if not dimensions:
        raise VisionpathError(tr("nothing left to search: every setting of the space is fixed on the command line."))
    path = new_run_dir(Path(config.project), config.name or f"tune-{Path(str(data)).name or 'data'}")
    # every trial trains as long and on batches as large as the first would (the photo defaults choose them by
    # resolution and this machine's speed), unless searched; the model is left to resolve as `train` would (for a
    # folder of photos the photo defaults size the batch to the folder only when no model is named); the trials'
    # runs go in the study's folder, each named after its trial
    # and in the precision this machine decided, whatever a later measurement on it would say
    derived = {"epochs": config.epochs, "batch_size": config.batch_size, "precision": config.precision}
    if model_entry(config.model).pretrained:
        derived["fine_tune_epochs"] = config.fine_tune_epochs
    fixed = {k: v for k, v in {**derived, **settings}.items() if k not in ("project", "name", *dimensions)}
    study = Study(path, {"data": str(data), **fixed}, dimensions,
                  storage or f"sqlite:///{(path / 'study.db').resolve()}", name or "visionpath", pruner, config.model)
    try:
        shared = study.optuna_study()
        what = {"settings": study.settings, "space": study.to_dict()["space"], "pruner": pruner}
        if shared.user_attrs.get("visionpath", what) != what:
            raise VisionpathError(tr("the study '{name}' in {storage} searches other settings than this command: join "
                                     "it with the same data, settings and space, or name another --study.",
                                     name=study.name, storage=study.storage))
        shared.set_user_attr("visionpath", what)
        study.save()
    except BaseException:  # no study: no folder left behind
        shutil.rmtree(path, ignore_errors=True)
        raise
    return study


# ================================================================================================ the trials

def run_trial(study: Study, shared, trial) -> None:
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
        with quietly():
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


def shown(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def counted(trial) -> bool:
    """Whether a trial counts towards --trials: all do (running, finished, failed) but those interrupted or lost
    with their process, which a resumed study runs again."""
    return not trial.user_attrs.get("interrupted") and not trial.user_attrs.get("lost")


def search(study: Study, trials: int, deadline: float | None, worker: int = 0) -> None:
    """This process's share of the study: trials until the study holds `trials` counted ones, or until the
    deadline (a time.time(); a running trial finishes). The count and the new trial are settled under the study
    folder's lock, so that processes sharing it never start one too many."""
    shared = None
    while deadline is None or time.time() < deadline:
        with locked(study.path):
            if shared is None:
                shared = study.optuna_study()
                mark_lost(shared)
                # a seed for each process and each resume, so that no sampler repeats another's draws
                seed = hash((study.settings.get("seed", 0), worker, len(shared.trials))) % 2**31
                shared.sampler = optuna_module().samplers.TPESampler(seed=seed)
            if sum(counted(t) for t in shared.get_trials(deepcopy=False)) >= trials:
                return
            trial = shared.ask()
            trial.set_user_attr("process", process_name(os.getpid()))
        run_trial(study, shared, trial)


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


# ============================================================================================= the outcome

def best_trial(shared):
    """The complete trial with the best validation accuracy (the earlier one of a tie), or None."""
    complete = [t for t in shared.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


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
    outcome = {"trial": best.number, "run": best.user_attrs["run"], "val_accuracy": best.value,
               "params": best.params, "command": best_command(study, best), "test_accuracy": None}
    try:  # no test split, or a run on another machine sharing the study: the honest score is not here to give
        outcome["test_accuracy"] = Run(best.user_attrs["run"]).evaluate("test").accuracy
    except VisionpathError as e:
        say(tr("no test score: {reason}", reason=e))
    atomic_write(study.path / "best.json", json.dumps(outcome, indent=2, ensure_ascii=False))
    say(tr("the best settings, as a command: {command}", command=outcome["command"]))
    return outcome


def best_command(study: Study, best) -> str:
    """The `visionpath train` command of the best trial's settings, ready to copy."""
    settings = {**study.settings, **best.user_attrs.get("settings", best.params)}
    return TrainConfig.from_keywords(**settings).command_line()


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


def tune(data: str | Path | None = None, *, trials: int = 20, timeout: str | float | None = None,
         space: str | Path | None = None, workers: int = 1, storage: str | None = None, study: str | None = None,
         pruner: str | None = None, resume: str | Path | None = None, report: str | Path | None = None,
         worker: int = 0, deadline: float | None = None, **settings) -> Study:
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
    for name, value in (("--trials", trials), ("--workers", workers)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise VisionpathError(tr("{flag} must be a whole number ≥ 1 (got {value!r}).", flag=name, value=value))
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
        found = new_study(str(data), space, settings, storage, study, pruner or "halving")
    if worker:
        search(found, trials, deadline, worker)
        return found
    say(tr("study {path}: {trials} trials of {model} on {data}, searching {space}; pruner {pruner}; stored in "
           "{storage}", path=found.path, trials=trials, model=found.model,
           data=found.settings["data"], space=", ".join(d.describe() for d in found.space.values()),
           pruner=found.pruner, storage=found.storage))
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


# ============================================================================================== the report

def trial_rows(shared, space: dict[str, Dimension]) -> list[dict]:
    """One row a trial: number, state, settings, best validation accuracy, epochs, seconds, and why it failed."""
    rows = []
    for t in shared.get_trials(deepcopy=False):
        values = list(t.intermediate_values.values())
        settings = t.user_attrs.get("settings", t.params)
        rows.append({tr("trial"): t.number, tr("state"): state_word(t.state.name),
                     **{k: shown(settings.get(k, "")) for k in space},
                     tr("validation accuracy"): f"{max(values):.2%}" if values else "",
                     tr("epochs"): t.user_attrs.get("epochs", ""),  # a pruned trial's: where it stopped
                     tr("seconds"): f"{t.user_attrs['seconds']:.0f}" if "seconds" in t.user_attrs else "",
                     tr("note"): t.user_attrs.get("error", "")})
    return rows


def state_word(state: str) -> str:
    """An Optuna trial state in the learner's words."""
    return {"COMPLETE": tr("complete"), "PRUNED": tr("pruned"), "FAIL": tr("failed"), "RUNNING": tr("running"),
            "WAITING": tr("waiting")}.get(state, state.lower())


def study_plots(study: Study, shared, complete: int) -> list[tuple[str, Path]]:
    """Optuna's own plots of the study as PNGs in its folder: the optimisation history, each setting's importance
    and the parallel coordinates (the last two once two trials are complete; `complete`: how many are)."""
    import matplotlib.pyplot as plt
    optuna = optuna_module()
    plots = optuna.visualization.matplotlib
    score = tr("validation accuracy")
    chosen = [(tr("Optimisation history"), "history.png",
               lambda s: plots.plot_optimization_history(s, target_name=score))] if complete else []
    if complete >= 2:  # importances without scikit-learn: PED-ANOVA, Optuna's own
        chosen += [(tr("Importance of each setting"), "importance.png", lambda s: plots.plot_param_importances(
                       s, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), target_name=score)),
                   (tr("Parallel coordinates"), "parallel.png",
                    lambda s: plots.plot_parallel_coordinate(s, target_name=score))]
    drawn = []
    for title, name, plot in chosen:
        # Optuna's plots switch matplotlib to its ggplot style for the whole process: kept inside this block
        with warnings.catch_warnings(), plt.rc_context():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental, every call
            axes = plot(shared)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            figure.set_size_inches(9, 4.5)
            figure.tight_layout()  # Optuna's long setting names otherwise fall off the edges
            save_figure(figure, study.path / name, dpi=100)
            plt.close(figure)
        drawn.append((title, study.path / name))
    return drawn


def write_study_report(study: Study, outcome: dict | None = None) -> Path:
    """study.html in the study folder: the best trial and its command line, the table of trials, and the plots."""
    shared = study.optuna_study()
    best = best_trial(shared)
    rows = trial_rows(shared, study.space)
    title = html.escape(study.path.name)
    out = [f"<!doctype html><html lang='{language()}'><head><meta charset='utf-8'><title>{title}</title>"
           f"<style>{STYLE}</style></head>"
           f"<body><h1>{title}</h1>",
           "<p class='muted'>" + html.escape(tr("{model} on {data} · {count} trials · pruner {pruner} · {when}",
                                                model=study.model, data=study.settings["data"],
                                                count=len(rows), pruner=study.pruner,
                                                when=time.strftime("%Y-%m-%d %H:%M"))) + "</p>"]
    if best is not None:
        outcome = outcome or (json.loads((study.path / "best.json").read_text())
                              if (study.path / "best.json").is_file() else None)
        test = outcome.get("test_accuracy") if outcome and outcome["trial"] == best.number else None
        out.append("<p style='font-size:1.2em'><b>" + html.escape(tr(
            "Best: trial {number}, validation accuracy {accuracy:.2%}", number=best.number, accuracy=best.value))
            + "</b>" + (html.escape(tr(" · test accuracy {accuracy:.2%} (measured once)", accuracy=test))
                        if test is not None else "") + "</p>")
        out.append("<p class='note'>" + html.escape(tr(
            "The best validation score of many trials is optimistic: it won on the same pictures it is measured on. "
            "The test split, which no trial saw, gives the honest score.")) + "</p>")
        out.append(f"<p><code>{html.escape(best_command(study, best))}</code></p>")
    out.append("<h2>" + html.escape(tr("Trials")) + "</h2>")
    if rows and not any(r[tr("note")] for r in rows):  # no trial failed: no column of blanks
        rows = [{k: v for k, v in r.items() if k != tr("note")} for r in rows]
    out.append(table_html(list(rows[0]), [list(r.values()) for r in rows]) if rows else "<p>—</p>")
    complete = sum(t.state.name == "COMPLETE" for t in shared.get_trials(deepcopy=False))
    for heading, path in study_plots(study, shared, complete):
        out.append(f"<h2>{html.escape(heading)}</h2>" + png_tag(path))
        if path.name == "importance.png" and complete < 10:  # a forest of a few points: shapes, not findings
            out.append("<p class='muted'>" + html.escape(tr(
                "Computed from the {count} trials that ran to the end (pruned ones have no final score): with so "
                "few, read it as a hint.", count=complete)) + "</p>")
    out.append("<p class='muted'>" + html.escape(tr("Live, in a browser: pip install optuna-dashboard; "
                                                    "optuna-dashboard {storage}", storage=study.storage))
               + "</p></body></html>")
    page = study.path / "study.html"
    atomic_write(page, "\n".join(out))
    say(tr("study report: {path}", path=page))
    return page
