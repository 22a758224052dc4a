"""What a run chooses for the settings it was not given, and why: one function, `resolve`.

For each setting left as None, in this order: the model's recipe (`visionpath models` lists them), then the photo
defaults (a folder of photos with no --model: chosen for the pictures and the machine), then the setting's own
fallback (`TrainConfig`). Every choice comes with its reason; the run prints those that are not plain defaults.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .config import TrainConfig, fallback
from .console import say
from .data import DATASETS
from .data.folder import survey
from .devices import pick_device
from .models import model_entry

PHOTO_MODEL = "efficientnet_lite0"  # the backbone whose ImageNet weights ship with visionpath (works offline)
# Sides the photo defaults choose from. Above 224: the backbone was trained on random crops, which enlarge objects,
# so it recognises whole pictures best a little above its training resolution ("FixRes", Touvron et al. 2019).
# Measured on hymenoptera (frozen Lite0 features, same head): 144/153 right at 224 px, 146 at 256, 148 at 288 and
# 148 at 320.
PHOTO_SIDES = (288, 256, 224, 192, 160, 128, 96, 64)
# On a CPU, the largest side whose fine-tuning epoch stays near a minute: measured on 2 cores without bf16, the top
# of Lite0 fine-tunes at about 1.7 million pixels a second (245 photos at 288 px: 12 s).
CPU_PIXELS_PER_EPOCH = 1e8
# Fine-tuning for photos: the top blocks only (the lower ones hold generic edges and textures; leaving them saves
# about a third of the time), at a hundredth of the head's rate (Keras's transfer-learning guide uses 1e-5).
# Measured on hymenoptera: at 1e-4 one epoch memorised the 245 training photos and validation fell from 96.1% to
# 94.8%; at 1e-5 validation loss fell (0.147 -> 0.122) and accuracy held.
PHOTO_UNFREEZE = 3
PHOTO_FINE_TUNE_LR = 1e-5
PHOTO_PATIENCE = 3


@dataclass(frozen=True)
class Choice:
    """A setting the run decided: its value, where it came from, and the line the run prints about it."""
    value: object
    source: str      # "recipe", "photos", "fallback" or "derived"
    why: str         # what the run prints ("" for a plain fallback, which goes unsaid)


def resolve(config: TrainConfig) -> tuple[TrainConfig, dict[str, Choice]]:
    """The config with every setting left as None decided, and how each was. A setting given stays as given; the
    model's recipe comes before the photo defaults, and both before a setting's fallback."""
    photo = config.model is None and is_photo_folder(config.data)
    model = config.model or (PHOTO_MODEL if photo else fallback("model"))
    recipe = {k: v for k, v in model_entry(model).recipe.items() if getattr(config, k) is None}
    recipe_line = f"{model}'s recipe: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in recipe.items())
    chosen: dict[str, Choice] = {}  # in the order the run prints them
    if photo:
        line = _PHOTO_LINE.format("weights from " + str(config.weights) if config.weights else
                                  "its weights ship with visionpath: no download")
        chosen.update({k: Choice(v, "photos", line) for k, v in (("model", model), ("pretrained", True))
                       if getattr(config, k) is None})
        chosen.update({k: c for k, c in photo_defaults(config).items() if k not in recipe})
    chosen.update({k: Choice(v, "recipe", recipe_line) for k, v in recipe.items()})
    for f in fields(TrainConfig):
        if f.metadata["fallback"] is not None and getattr(config, f.name) is None and f.name not in chosen:
            chosen[f.name] = Choice(f.metadata["fallback"], "fallback", "")
    decided = replace(config, **{k: c.value for k, c in chosen.items()})
    if decided.fine_tune_lr is None and (decided.pretrained or decided.weights):
        chosen["fine_tune_lr"] = Choice(decided.lr / 10, "derived", "")  # ten times gentler than the head's
        decided = replace(decided, fine_tune_lr=decided.lr / 10)
    return decided, chosen


def announce(chosen: dict[str, Choice]) -> None:
    """Print what the run chose and why, one line each (a line shared by several settings once)."""
    for line in dict.fromkeys(c.why for c in chosen.values() if c.why):
        say(line)


def is_photo_folder(data: str | Path) -> bool:
    """A folder (not a built-in dataset's name): with no --model it gets the pretrained backbone and photo defaults."""
    return str(data) not in DATASETS and Path(data).is_dir()


_PHOTO_LINE = (f"no --model: a folder of photos trains {PHOTO_MODEL}, pretrained on ImageNet ({{}}), the new head "
               "first on frozen features, then fine-tuning")


def photo_defaults(config: TrainConfig) -> dict[str, Choice]:
    """Resolution, batch size, fine-tuning and early stopping for a folder of photos, chosen for its pictures and the
    machine; only for the settings the config leaves as None."""
    n_train, median_side = survey(Path(config.data), config.labels)
    chosen: dict[str, Choice] = {}
    side = config.image_size
    if side is None:
        # pictures smaller than the backbone's resolution are enlarged to it, but no further: that adds no detail
        sides = [s for s in PHOTO_SIDES if s <= max(224, median_side)]
        fits = [s for s in sides if n_train * s * s <= CPU_PIXELS_PER_EPOCH]
        if pick_device(config.device).type == "cpu" and fits[:1] != sides[:1]:
            side = fits[0] if fits else sides[-1]
            why = f"the largest that keeps a fine-tuning epoch of {n_train:,} pictures near a minute on this CPU"
        else:
            side = sides[0]
            why = ("a little above the backbone's 224, where its features are best" if side > 224 else
                   "the backbone's own resolution (the pictures are smaller: enlarging them further adds no detail)")
        chosen["image_size"] = Choice(side, "photos", f"resolution {side}×{side}: {why} (pictures' median shorter "
                                      f"side {median_side} px; change with --image-size)")
    if config.batch_size is None:
        # memory for fine-tuning grows with batch × side²: 32 pictures at 224 px (about 2 GB), more when smaller;
        # small batches also give a small folder more fine-tuning steps per epoch
        batch = min(128, max(16, 2 ** round(math.log2(32 * 224 ** 2 / side ** 2))))
        batch = min(batch, max(1, int(0.85 * n_train)))  # a small folder: leave room for validation
        chosen["batch_size"] = Choice(batch, "photos", f"batch size {batch}: fits fine-tuning at {side}×{side} in a "
                                      "few GB of memory (change with --batch-size)")
    if config.unfreeze is None or config.fine_tune_lr is None:
        unfreeze = config.unfreeze or PHOTO_UNFREEZE
        rate = config.fine_tune_lr or PHOTO_FINE_TUNE_LR
        line = (f"fine-tuning: the top {unfreeze} blocks at lr {rate:g}, gently, so a few hundred photos adjust the "
                "pretrained features instead of being memorised (change with --unfreeze, --fine-tune-lr)")
        chosen.update({k: Choice(v, "photos", line) for k, v in (("unfreeze", unfreeze), ("fine_tune_lr", rate))
                       if getattr(config, k) is None})
    if config.early_stopping is None:
        chosen["early_stopping"] = Choice(PHOTO_PATIENCE, "photos", (
            f"early stopping: fine-tuning stops after {PHOTO_PATIENCE} epochs without a better validation accuracy, "
            "and the best epoch is kept (change with --early-stopping)"))
    return chosen
