"""What a search varies: one Dimension a setting, the model's default space around its recipe, and a space read from
a TOML file, each value checked as the training settings check it."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import torch

from ..config import TrainConfig, setting_type
from ..errors import VisionpathError
from ..i18n import tr
from ..models import create_model, model_entry


# what a search may not vary: what the data is, where runs go, how the machine is used, and the seed (every trial
# trains with the same one, so that trials differ by their settings alone)
NOT_SEARCHED = {"data", "data_dir", "labels", "project", "name", "device", "precision", "compile", "tensorboard",
                "seed", "strict", "sync_bn", "score_test", "budget"}


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
