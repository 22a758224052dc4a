"""A study: its folder (tune.json), its Optuna storage and pruner, a new one made and checked against the data before
any trial, and its best trial as a command."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import TrainConfig
from ..defaults import resolve
from ..errors import VisionpathError
from ..files import atomic_write, json_text
from ..i18n import tr
from ..models import model_entry
from ..run_files import load_run_data, new_run_dir
from ..training.pictures import batch_for
from .space import Dimension, default_space, read_space
from .storage import HEARTBEAT, hidden_password, open_storage, optuna_module, quiet_optuna, unreachable


PRUNERS = ("median", "halving", "none")


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
    heartbeat: int = HEARTBEAT      # seconds between a running trial's heartbeats (storage.py)
    retries: int = 0                # how often a trial failed by the heartbeat is run again

    def open_storage(self):
        """Its Optuna storage, with the heartbeat (storage.py)."""
        return open_storage(self.storage, self.heartbeat, self.retries)

    def optuna_study(self, storage=None):
        """The Optuna study (made on first use, loaded after): TPE sampling, maximising validation accuracy.
        storage: its storage opened already (open_storage), else opened now."""
        optuna = optuna_module()
        from sqlalchemy.exc import SQLAlchemyError  # Optuna's database layer, installed with it
        # median: a trial below the median of the earlier ones at the same epoch stops, once four are in; halving:
        # at epochs 1, 4, 16... only the best quarter of the trials that got there goes on (Optuna's defaults)
        pruner = {"median": optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1),
                  "halving": optuna.pruners.SuccessiveHalvingPruner(),
                  "none": optuna.pruners.NopPruner()}[self.pruner]
        storage = storage or self.open_storage()
        try:
            with quiet_optuna():
                return optuna.create_study(storage=storage, study_name=self.name, direction="maximize",
                                           sampler=optuna.samplers.TPESampler(seed=0), pruner=pruner,
                                           load_if_exists=True)
        except (ValueError, RuntimeError, SQLAlchemyError) as e:  # the server gone since it was opened
            raise VisionpathError(unreachable(self.storage, e)) from None

    def best(self):
        """Its best complete trial so far (Optuna's FrozenTrial), or None when no trial has finished."""
        return best_trial(self.optuna_study())

    def save(self) -> None:
        atomic_write(self.path / "tune.json", json_text(self.to_dict()))

    def to_dict(self) -> dict:
        return {"settings": self.settings, "space": {k: d.to_dict() for k, d in self.space.items()},
                "storage": self.storage, "study": self.name, "pruner": self.pruner, "model": self.model,
                "heartbeat": self.heartbeat, "retries": self.retries}

    @classmethod
    def open(cls, path: str | Path) -> "Study":
        path = Path(path)
        try:
            saved = json.loads((path / "tune.json").read_text(encoding="utf-8"))
            space = {name: Dimension(name, spec.get("low"), spec.get("high"), spec.get("log", False),
                                     tuple(spec["choices"]) if "choices" in spec else None)
                     for name, spec in saved["space"].items()}
            return cls(path, saved["settings"], space, saved["storage"], saved["study"], saved["pruner"],
                       saved.get("model", ""), saved.get("heartbeat", HEARTBEAT), saved.get("retries", 0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise VisionpathError(tr("{path} is not a study folder made by `visionpath tune` (it has no readable "
                                     "tune.json).", path=path)) from None


def new_study(data: str, space: str | Path | None, settings: dict, storage: str | None, name: str | None,
              pruner: str, heartbeat: int = HEARTBEAT, retries: int = 0) -> Study:
    """A new study folder, <project>/<name>-N (name: tune-<data> unless given), and what it searches: the TOML
    file's space or the model's default one, less the settings fixed in `settings`. Machines joining one study
    through --storage must search the same space with the same settings: one sentence when they do not; a server
    that cannot be reached is said first, before the data is read."""
    opened = open_storage(storage, heartbeat, retries) if storage is not None else None
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
    # folder of photos the photo defaults size the batch to the folder unless a model other than a Lite backbone is
    # named); the trials' runs go in the study's folder, each named after its trial, and in the precision this
    # machine decided, whatever a later measurement on it would say
    derived = {"epochs": config.epochs, "batch_size": config.batch_size, "precision": config.precision}
    if model_entry(config.model).pretrained:
        derived["fine_tune_epochs"] = config.fine_tune_epochs
    fixed = {k: v for k, v in {**derived, **settings}.items() if k not in ("project", "name", *dimensions)}
    study = Study(path, {"data": str(data), **fixed}, dimensions,
                  storage or f"sqlite:///{(path / 'study.db').resolve()}", name or "visionpath", pruner, config.model,
                  heartbeat, retries)
    try:
        shared = study.optuna_study(opened)
        what = {"settings": study.settings, "space": study.to_dict()["space"], "pruner": pruner}
        if shared.user_attrs.get("visionpath", what) != what:
            raise VisionpathError(tr("the study '{name}' in {storage} searches other settings than this command: join "
                                     "it with the same data, settings and space, or name another --study.",
                                     name=study.name, storage=hidden_password(study.storage)))
        shared.set_user_attr("visionpath", what)
        study.save()
    except BaseException:  # no study: no folder left behind
        shutil.rmtree(path, ignore_errors=True)
        raise
    return study


def best_trial(shared):
    """The complete trial with the best validation accuracy (the earlier one of a tie), or None."""
    complete = [t for t in shared.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def best_command(study: Study, best) -> str:
    """The `visionpath train` command of the best trial's settings, ready to copy."""
    settings = {**study.settings, **best.user_attrs.get("settings", best.params)}
    return TrainConfig.from_keywords(**settings).command_line()
