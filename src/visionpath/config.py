"""The settings of a training run, each written once, here: its type, its default and what it means.

`TrainConfig` is what `visionpath.train` takes as keywords, what `visionpath train` takes as flags (the command
line is generated from it), what a run folder's config.json holds, and what the report's command line is rebuilt
from. A setting left as None is decided when the run starts, by `visionpath.defaults.resolve`: from the model's
recipe, from the photo defaults, or from the `fallback` written here. Each setting is an `Option` (options.py), as
every other command's options are: the one validator checks it whenever a TrainConfig is made (a bad value is one
sentence, before any data is loaded), and the checks between settings are here.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import shlex
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

from .augment import LIMITS, PRESETS
from .console import say
from .data.sets import UNBALANCED
from .devices import PRECISIONS, parse_device
from .errors import VisionpathError
from .files import atomic_write, json_text
from .i18n import tr
from .models import model_entry
from .optim import OPTIMIZERS, SCHEDULES
from .options import DEVICES, Option, check, flag

BALANCE = ("auto", "none", "weights", "sampler")
_SAME = object()  # `absent` not given: runs from older versions trained with the field's default


def setting(default, help: str, *, fallback=None, valid: str | None = None, choices=(), metavar: str | None = None,
            absent=_SAME, positional: bool = False):
    """A field of TrainConfig: its Option (help: one line, shown by `visionpath train --help`; valid: the allowed
    range; choices: the allowed values), and fallback: what a None becomes when neither the model's recipe nor the
    photo defaults decide; absent: the value a run made by an older version, which had no such setting, trained
    with (the default, unless said)."""
    return field(default=default, metadata=dict(
        option=Option(help, valid, tuple(choices), metavar, positional=positional), fallback=fallback,
        absent=default if absent is _SAME else absent))


@dataclass(frozen=True)
class TrainConfig:
    # ---- data
    data: str = setting("mnist", "built-in dataset (mnist, fashion-mnist, cifar10, cifar100) or a folder of class "
                        "subfolders", positional=True)
    data_dir: str | None = setting(None, "folder with local copies of the built-in datasets (default: "
                                   "$VISIONPATH_DATA_DIR, the cache, then a download)", metavar="DIR")
    labels: str | None = setting(None, "classes from a CSV of filename,label[,split] (file names relative to the "
                                 "folder) instead of class subfolders", metavar="CSV")
    validation_split: float = setting(0.1, "share of train held out for validation when the data has no "
                                      "validation split", valid="(0, 1)")
    image_size: int | None = setting(None, "resize folder pictures to this side (default: their own size if all "
                                     "agree; a folder of photos: chosen for the pictures and the machine)",
                                     valid="≥ 1", metavar="SIDE")
    strict: bool = setting(False, "stop at an unreadable picture file instead of skipping and listing it")
    balance: str = setting("auto", "unbalanced classes: none, weights (class-weighted loss), sampler (every class "
                           f"drawn equally often) or auto (weights when the largest class is over {UNBALANCED:g}x the "
                           "smallest)",
                           choices=BALANCE, absent="none")
    # ---- model
    model: str | None = setting(None, "model name, see `visionpath models` (default: mlp for a built-in dataset; "
                                "for a folder of photos, efficientnet_lite0 pretrained, head first then fine-tuning)",
                                fallback="mlp")
    width: int | None = setting(None, "model width (mlp: units per hidden layer; cnn, resnet9: filters of the first "
                                "block), see `visionpath models`", valid="≥ 1")
    depth: int | None = setting(None, "model depth (mlp: hidden layers; cnn: conv blocks)", valid="≥ 1")
    # ---- optimisation
    epochs: int | None = setting(None, "passes over the training images; with a pretrained backbone, the epochs "
                                 "of stage 1 (the new head alone)", fallback=6, valid="≥ 1")
    batch_size: int | None = setting(None, "images per step (one step = one iteration); with several processes "
                                     "(--devices, torchrun) the whole batch, shared out among them", fallback=128,
                                     valid="≥ 1")
    lr: float | None = setting(None, "peak learning rate", fallback=4e-3, valid="> 0")
    optimizer: str | None = setting(None, "adam (forgiving), adamw or sgd (Nesterov momentum 0.9)", fallback="adam",
                                    choices=OPTIMIZERS)
    schedule: str | None = setting(None, "learning-rate schedule: onecycle (warm-up over the first quarter, then "
                                   "cosine to zero), cosine (5% warm-up) or constant", fallback="onecycle",
                                   choices=SCHEDULES)
    # ---- regularisation
    weight_decay: float | None = setting(None, "L2 regularisation, decoupled (as in AdamW), on weights only: not "
                                         "biases or batch-norm parameters", fallback=0.0, valid="≥ 0")
    l1: float = setting(0.0, "L1 penalty on the weights (pushes unhelpful weights to exactly zero)", valid="≥ 0")
    label_smoothing: float | None = setting(None, "spread this share of the target probability over the other "
                                            "classes", fallback=0.0, valid="[0, 1)")
    dropout: float | None = setting(None, "dropout rate (see `visionpath models` for each model's default)",
                                    valid="[0, 1)")
    augment: str | None = setting(None, "augmentation preset: none, standard (crop with padding + flip) or strong "
                                  "(+ TrivialAugment + random erasing)", fallback="none", choices=PRESETS,
                                  absent="none")
    rotation: float | None = setting(None, "random rotation up to this many degrees (overrides the preset)",
                                     valid=f"[0, {LIMITS['rotation']}]", metavar="DEGREES")
    shift: float | None = setting(None, "random shift up to this fraction of the side (overrides the preset)",
                                  valid=f"[0, {LIMITS['shift']}]", metavar="FRACTION")
    zoom: float | None = setting(None, "random zoom in or out by up to this fraction (overrides the preset)",
                                 valid=f"[0, {LIMITS['zoom']}]", metavar="FRACTION")
    flip: bool | None = setting(None, "random horizontal flips (default: as the preset says; never for digits "
                                "unless forced)")
    early_stopping: int | None = setting(None, "stop after this many epochs without a better validation accuracy "
                                         "and keep the best; each stage of a pretrained backbone stops on its own "
                                         "(default: off; a folder of photos: 3)", valid="≥ 1",
                                         metavar="PATIENCE")
    # ---- transfer learning
    pretrained: bool | None = setting(None, "start a backbone (efficientnet_lite0, resnet18, timm:<name>...) from "
                                      "ImageNet weights: head first, then fine-tuning (default: on for "
                                      "efficientnet_lite0/1/2, whose weights install with visionpath, and for a "
                                      "folder of photos with no --model; off for a backbone whose weights come from "
                                      "the internet)", fallback=False, absent=False)
    weights: str | None = setting(None, "pretrained backbone weights from a file (.pth or .safetensors)",
                                  metavar="FILE")
    fine_tune_epochs: int | None = setting(None, "epochs of stage 2, fine-tuning the backbone (0: feature "
                                           "extraction only)", fallback=0, valid="≥ 0", absent=0)
    fine_tune_lr: float | None = setting(None, "stage 2's peak learning rate (default: --lr / 10; a folder of "
                                         "photos: chosen for it)", valid="> 0")
    unfreeze: int | None = setting(None, "fine-tune only the top N blocks (default: all; a folder of photos: chosen "
                                   "for it)",
                                   valid="≥ 1", metavar="N")
    layer_lr_decay: float | None = setting(None, "discriminative fine-tuning: each block learns at F × the rate "
                                           "of the block above it, the head at --fine-tune-lr (1: all the same; a "
                                           "folder of photos: chosen for it)", fallback=1.0, valid="(0, 1]",
                                           metavar="F", absent=1.0)
    feature_cache: bool = setting(True, "stage 1 trains the head on backbone features computed once")
    augmented_views: int = setting(0, "cache K augmented views of every training picture instead of the plain "
                                   "pictures", valid="≥ 0", metavar="K")
    # ---- the run
    budget: float | None = setting(None, "minutes a folder of photos may take, start to finish: the photo defaults "
                                   "choose resolution, stage lengths and fine-tuning to fit them (default: 5; a "
                                   "GPU fills them with more)", valid="> 0", metavar="MINUTES")
    fill_budget: bool | None = setting(None, "fine-tuning goes on, epoch by epoch, while validation accuracy still "
                                       "improves and the next epoch fits in --budget (timed by the epochs so far), "
                                       "the learning rate re-fitted to the epochs left; --fine-tune-epochs is then "
                                       "the first plan (default: on for a folder of photos whose --fine-tune-epochs "
                                       "is not given)", fallback=False, absent=False)
    seed: int = setting(0, "random seed: fixes initial weights, shuffling and dropout, so the same seed gives the "
                        "same run")
    device: str = setting("auto", DEVICES)
    precision: str = setting("auto", "auto (mixed precision where it is measured faster: bf16, or on a GPU without "
                             "it fp16 with loss scaling), fp32, bf16 or fp16",
                             choices=PRECISIONS)
    compile: bool = setting(False, "compile the model with torch.compile (slow start, faster steps on a GPU)")
    sync_bn: bool | None = setting(None, "with several GPUs, batch norm computes its statistics over the whole batch "
                                   "instead of each GPU's share (default: on when a GPU gets under 32 pictures a "
                                   "step)")
    tensorboard: bool = setting(False, "also write TensorBoard event files into the run folder's tensorboard/ "
                                "(each epoch's scores, a few training pictures, the curves): tensorboard --logdir "
                                "runs")
    score_test: bool = setting(True, "score the best epoch on the test split when training ends (--no-score-test: "
                               "leave the test split for settings chosen on validation, as `visionpath tune`'s "
                               "trials do)")
    project: str = setting("runs", "parent folder of run folders")
    name: str | None = setting(None, "run name (default: <dataset>-<model>); the folder is <project>/<name>-N")

    def __post_init__(self) -> None:
        for f in fields(self):  # paths are kept as text: config.json holds them, and commands print them
            if isinstance(getattr(self, f.name), Path):
                object.__setattr__(self, f.name, str(getattr(self, f.name)))
        self.check()

    # ------------------------------------------------------------------------------------------- validation
    def check(self) -> None:
        """Every value of the right type, in its range and among its choices, and the settings agreeing with
        each other; otherwise a VisionpathError that says which and how to fix it."""
        for f in fields(self):
            check(f.name, getattr(self, f.name), setting_type(f), option_of(f), _allows_none(f))
        if self.device != "auto":
            parse_device(self.device)  # an unknown device is one sentence (a missing one, when training starts)
        if self.fill_budget and self.budget is None and self.model is not None:
            raise VisionpathError(tr("--fill-budget needs --budget, the minutes to fill."))
        if self.model is not None:
            entry = model_entry(self.model)  # an unknown model is one sentence that lists the known ones
            if (self.pretrained or self.weights) and not entry.pretrained:
                raise VisionpathError(tr("--pretrained and --weights apply to pretrained backbones "
                                         "(efficientnet_lite0, resnet18, ..., timm:<name>); {model} is trained from "
                                         "scratch.",
                                         model=self.model))

    # ----------------------------------------------------------------------------- in and out of the program
    @classmethod
    def from_keywords(cls, **settings) -> "TrainConfig":
        """A config from `train`'s keywords; a misspelt one is a TypeError that suggests the right name."""
        names = [f.name for f in fields(cls)]
        for key in settings:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                raise TypeError(f"train() got an unexpected keyword argument '{key}'"
                                + (f"; did you mean '{close[0]}'?" if close else "; see help(visionpath.TrainConfig)."))
        return cls(**settings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def write(self, path: str | Path, **record) -> None:
        """config.json: {"settings": every setting, ...record} (the run's model arguments, classes and input shape)."""
        atomic_write(path, json_text({"settings": self.to_dict(), **record}))

    @classmethod
    def read(cls, path: str | Path) -> "TrainConfig":
        """The settings in a config.json. A run made by an older version lacks the newer settings: they are filled
        with what that version did (it trained without them), and the run says so."""
        path = Path(path)
        try:
            saved = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))["settings"]
            if not isinstance(saved, dict):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise VisionpathError(tr("{path} is not a readable visionpath config ({name}); the run folder is "
                                     "damaged or was not made by visionpath.",
                                     path=path, name=type(e).__name__)) from None
        missing = [f for f in fields(cls) if f.name not in saved]
        unknown = sorted(set(saved) - {f.name for f in fields(cls)})
        if missing:
            say(tr("{parent} was made by an older visionpath; the settings it did not have are filled in as that "
                   "version trained: {settings}", parent=path.parent,
                   settings=", ".join(f"{f.name} {f.metadata['absent']}" for f in missing)))
        if unknown:
            say(tr("{parent} was made by a newer visionpath; this one ignores its settings {unknown}",
                   parent=path.parent, unknown=', '.join(unknown)))
        return cls(**{k: v for k, v in saved.items() if k not in unknown},
                   **{f.name: f.metadata["absent"] for f in missing})

    def command_line(self) -> str:
        """The `visionpath train` command that repeats the run: every setting that differs from its default."""
        return " ".join(["visionpath", "train", *map(shlex.quote, self.arguments())])

    def arguments(self) -> list[str]:
        """`visionpath train`'s arguments for these settings: the data, then every setting that differs from its
        default."""
        parts = [self.data]
        for f in fields(self):
            value = getattr(self, f.name)
            if option_of(f).positional or value is None or value == f.default:
                continue
            if isinstance(value, bool):
                parts.append(flag(f.name) if value else flag(f.name).replace("--", "--no-", 1))
            else:
                parts += [flag(f.name), str(value)]
        return parts


TrainConfig.__doc__ = ("Every setting of a training run, in the order a reader meets them: data, model, optimisation, "
                       "regularisation, transfer learning, the run. None: decided when the run starts.\n\n"
                       + "\n".join(f"    {f.name} ({f.type}, default {f.default!r}): {f.metadata['option'].help}"
                                   for f in fields(TrainConfig)))


def option_of(f: dataclasses.Field) -> Option:
    """A setting's Option: its help, range and choices."""
    return f.metadata["option"]


def fallback(name: str):
    """What the setting `name` becomes when left as None and neither a recipe nor the photo defaults decide it."""
    return next(f for f in fields(TrainConfig) if f.name == name).metadata["fallback"]


def default_text(f: dataclasses.Field) -> str:
    """What `--help` says a setting defaults to ("" where its help says it)."""
    if "(default:" in option_of(f).help:
        return ""
    if f.metadata["fallback"] is not None:
        return f"the model's recipe, else {f.metadata['fallback']}"
    if isinstance(f.default, bool):
        return "on" if f.default else "off"
    return "" if f.default is None else str(f.default)


# --------------------------------------------------------------------------------------- types and ranges

@functools.cache
def _hints() -> dict[str, object]:
    return typing.get_type_hints(TrainConfig)


def setting_type(f: dataclasses.Field) -> type:
    """int for `int | None`, and so on."""
    hint = _hints()[f.name]
    return next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))


def _allows_none(f: dataclasses.Field) -> bool:
    return type(None) in typing.get_args(_hints()[f.name])
