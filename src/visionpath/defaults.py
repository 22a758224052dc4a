"""What a run chooses for the settings it was not given, and why: one function, `resolve`.

For each setting left as None, in this order: the photo defaults (a folder of photos with no --model: chosen for
the folder, the machine and the --budget), then the model's recipe (`visionpath models` lists them), then the
setting's own fallback (`TrainConfig`). Every choice comes with its reason; the run prints those that are not
plain defaults.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

import torch

from .augment import Augmentation, make_augmentation
from .config import TrainConfig, fallback
from .console import say
from .data import DATASETS
from .data.folder import Survey, survey
from .devices import measuring_seconds, pick_device, pick_precision
from .frozen_probe import frozen_accuracy
from .i18n import plural, tr
from .models import OFFLINE_WEIGHTS, has_offline_weights, model_entry, offline_weights
from .photo_plan import (REPORT_SECONDS, Plan, fine_tuning_epoch, fine_tuning_floor, if_head_alone,
                         longer_while_improving, once_outside, over_budget, photo_sides, plan_photo_run,
                         probe_seconds, read_by_question, smallest_runs_over, validation_pictures)
from .speed import Speed, backbone_speed

PHOTO_MODEL = "efficientnet_lite0"  # the backbone whose ImageNet weights ship with visionpath (works offline)
# Larger backbones, largest first, that the plan takes (where the lite extra is installed) when the budget has time
# to spare and the frozen features fall short; only those measured to win (benchmarks/results/larger_backbones.md).
# The CIFAR-10 subset at 90 a class, its frozen Lite0 features 23 points short: on a 2-core Xeon, --budget 15, Lite2
# at 260 px 82.6% test, Lite0 79.0% at 260 px and 79.2% at 224; on an AVX2-only EPYC in fp32, the default budget,
# each in Lite0's place: Lite2 81.0% at 224 px, Lite0 78.7%, and Lite1 77.3% at 240 px, below Lite0, as on
# hymenoptera (Lite1 96.1%, Lite2 96.7%, Lite0 97.4% validation): Lite1 is trained only when named.
LARGER_BACKBONES = ("efficientnet_lite2",)
PROBE_SIDE = 224            # the side the backbone's speed is first measured at (then at the side planned)
PHOTO_BUDGET_MINUTES = 5.0  # what a person waits for on a laptop CPU; a GPU fills it with more
PHOTO_HEAD_EPOCHS = 20      # stage 1's most: it ends sooner once converged, and its epochs (on cached features)
                            # take a fraction of a second each
PHOTO_PATIENCE = 3          # epochs without a better validation accuracy that end a stage


@dataclass(frozen=True)
class Choice:
    """A setting the run decided: its value, where it came from, and the line the run prints about it."""
    value: object
    source: str      # "machine", "photos", "recipe", "fallback" or "derived"
    why: str         # what the run prints ("" for a plain fallback, which goes unsaid)


def resolve(config: TrainConfig, parallel: int = 1) -> tuple[TrainConfig, dict[str, Choice]]:
    """The config with every setting left as None decided, and how each was. A setting given stays as given; the
    photo defaults come before the model's recipe, and both before a setting's fallback. parallel: how many devices
    share the training (GPUs, or machines of CPU processes), each as fast as this one."""
    named_lite = config.model is not None and planned_like_lite0(config)
    photo = is_photo_folder(config.data) and (config.model is None or named_lite)
    model = config.model or (PHOTO_MODEL if photo else fallback("model"))
    if named_lite and config.weights is None:
        offline_weights(model_entry(model).timm_name)  # the lite extra missing: its sentence now, before any work
    device = pick_device(config.device)
    chosen: dict[str, Choice] = {}  # in the order the run prints them
    if config.precision == "auto":  # first: the photo defaults time the backbone in the precision it will train in
        precision, why = pick_precision("auto", device)
        chosen["precision"] = Choice(precision, "machine", tr(
            "precision {precision}: {why} (decided once for this machine; `visionpath devices` shows it, --precision "
            "sets it)", precision=precision, why=why))
        config = replace(config, precision=precision)
    if photo:
        planned = photo_defaults(config, parallel)  # chosen for this folder: before the model's general recipe
        backbone = planned.pop("model", Choice(model, "photos", ""))
        model = backbone.value
        weights = (tr("weights from {weights}", weights=config.weights) if config.weights else
                   offline_weights_line(model))
        line = (tr("no --model: a folder of photos trains {model}, pretrained on ImageNet ({weights}), the new head "
                   "first on frozen features, then fine-tuning", model=model, weights=weights) if config.model is None
                else tr("--model {model} on a folder of photos: pretrained on ImageNet ({weights}; --no-pretrained "
                        "trains it from scratch), the new head first on frozen features, then fine-tuning, planned "
                        "for this folder as with no --model", model=model, weights=weights))
        line += tr("; {why}", why=backbone.why) if backbone.why else ""
        if planned or config.pretrained is None:  # a resumed run has decided everything already
            # the model too, when named: its line, and the mark of a run the photo defaults planned (config.json)
            chosen["model"] = Choice(model, "photos", line)
            if config.pretrained is None:
                chosen["pretrained"] = Choice(True, "photos", line)
        chosen.update(planned)
    if config.pretrained is None and config.weights is None and "pretrained" not in chosen and \
            model_entry(model).timm_name in OFFLINE_WEIGHTS:  # a Lite backbone named for a built-in dataset: from
        # scratch Lite0 reached 33% on the CIFAR-10 subset at 90 a class (README); its weights need no internet
        chosen["pretrained"] = Choice(True, "recipe", tr(
            "{model} starts from ImageNet weights ({weights}; --no-pretrained trains it from scratch)", model=model,
            weights=offline_weights_line(model)))
    if config.batch_size is None and "batch_size" not in chosen and device.type == "cpu" and \
            (config.pretrained or config.weights or "pretrained" in chosen):  # chosen only ever as True
        # a backbone fine-tuned on a CPU, with no batch of its own: the fallback, 128 whole pictures, took 11.2 GB
        # for Lite0 at 224 px (32: 3.4 GB, and 1.5× faster a picture) and 20 GB for Lite2 at 260 (32: 5.8 GB)
        side = config.image_size or model_entry(model).resolution
        chosen["batch_size"] = batch_choice(side, device, parallel, None, "derived")
    recipe = {k: v for k, v in model_entry(model).recipe.items() if getattr(config, k) is None and k not in chosen}
    recipe_line = tr("{model}'s recipe: {settings}", model=model,
                     settings=", ".join(f"{k.replace('_', ' ')} {v}" for k, v in recipe.items()))
    chosen.update({k: Choice(v, "recipe", recipe_line) for k, v in recipe.items()})
    for f in fields(TrainConfig):
        if f.metadata["fallback"] is not None and getattr(config, f.name) is None and f.name not in chosen:
            chosen[f.name] = Choice(f.metadata["fallback"], "fallback", "")
    decided = replace(config, **{k: c.value for k, c in chosen.items()})
    if decided.fine_tune_lr is None and (decided.pretrained or decided.weights):
        chosen["fine_tune_lr"] = Choice(decided.lr / 10, "derived", "")  # ten times gentler than the head's
        decided = replace(decided, fine_tune_lr=decided.lr / 10)
    return decided, chosen


def planned_like_lite0(config: TrainConfig) -> bool:
    """Whether a Lite backbone is named, starting from its ImageNet weights (not --no-pretrained): for a folder of
    photos the photo defaults plan it as they plan Lite0 (measured in Lite0's place: benchmarks/larger_backbones.py),
    where its model's general recipe (a batch of 128 whole pictures) fine-tuned Lite2 at 260 px out of 24 GB."""
    entry = model_entry(config.model)
    return entry.timm_name in OFFLINE_WEIGHTS and config.pretrained is not False


def offline_weights_line(model: str) -> str:
    """Where a Lite backbone's ImageNet weights come from, said in the run's first lines."""
    return (tr("its weights ship with visionpath: no download") if model == PHOTO_MODEL else
            tr("its weights come with the lite extra: no download"))


def announce(chosen: dict[str, Choice]) -> None:
    """Print what the run chose and why, one line each (a line shared by several settings once)."""
    for line in dict.fromkeys(c.why for c in chosen.values() if c.why):
        say(line)


def is_photo_folder(data: str | Path) -> bool:
    """A folder (not a built-in dataset's name): with no --model it gets the pretrained backbone and photo defaults."""
    return str(data) not in DATASETS and Path(data).is_dir()


def photo_defaults(config: TrainConfig, parallel: int = 1) -> dict[str, Choice]:
    """Resolution, batch size, stage lengths, fine-tuning and early stopping for a folder of photos, chosen for
    what the folder is and for the machine's measured speed, within the --budget; only for the settings the
    config leaves as None.

    The rules: the more photos a class has, the more of the network fine-tuning may change before it memorises
    them (Howard & Ruder 2018; Kornblith et al. 2019): a small folder fine-tunes its top blocks gently and briefly,
    a larger one more blocks, harder and longer, lower blocks slower than higher ones. Stage 1 (the head on cached
    features) costs little and ends when converged. Resolution is the largest that leaves room for enough
    fine-tuning in the budget, as measured on this machine."""
    folder = survey(Path(config.data), config.labels, config.validation_split)
    small = folder.per_class < SMALL_FOLDER
    device = pick_device(config.device)
    chosen = fine_tuning_choices(config, folder, small)
    if config.epochs is None:
        chosen["epochs"] = Choice(PHOTO_HEAD_EPOCHS, "photos", (
            tr("stage 1: the head on cached features, up to {PHOTO_HEAD_EPOCHS} epochs (a fraction of a second "
               "each); it ends when converged, once its validation loss has not fallen for {value} epochs (change "
               "with --epochs)",
               PHOTO_HEAD_EPOCHS=PHOTO_HEAD_EPOCHS, value=config.early_stopping or PHOTO_PATIENCE)))
    if config.early_stopping is None:
        chosen["early_stopping"] = Choice(PHOTO_PATIENCE, "photos", (
            tr("early stopping: fine-tuning ends after {PHOTO_PATIENCE} epochs without a better validation "
               "accuracy, and the best epoch of the run is kept (change with --early-stopping)",
               PHOTO_PATIENCE=PHOTO_PATIENCE)))
    if config.image_size is None or config.fine_tune_epochs is None:
        unfreeze = chosen["unfreeze"].value if "unfreeze" in chosen else config.unfreeze
        chosen.update(budget_choices(config, folder, small, unfreeze, device, parallel))
    side = chosen["image_size"].value if "image_size" in chosen else config.image_size
    if config.batch_size is None:
        chosen["batch_size"] = batch_choice(side, device, parallel, folder.train, "photos")
    return chosen


def batch_choice(side: int, device: torch.device, parallel: int, train: int | None, source: str) -> Choice:
    """The batch for fine-tuning a backbone at `side` px (photo_batch), and the line that says why."""
    batch = photo_batch(side, device, parallel, train)
    cpu = device.type == "cpu"
    return Choice(batch, source, (
        tr("batch size {batch}: fits fine-tuning at {side}×{side} in a few GB of memory", batch=batch, side=side)
        + (tr(" on each of the {parallel} GPUs", parallel=parallel) if parallel > 1 and not cpu else "")
        + (tr(", and gives fine-tuning more steps where larger batches are no faster (a CPU)") if cpu else "")
        + tr(" (change with --batch-size)")))


def photo_batch(side: int, device: torch.device, parallel: int, train: int | None) -> int:
    """The batch (all devices' together) for fine-tuning at `side` px on `train` training pictures (None: many)."""
    # memory for fine-tuning grows with batch × side²: 32 pictures at 224 px take about 2 GB. On a CPU a larger
    # batch is no faster a picture, and a few epochs of fine-tuning need many steps: at most 32 there
    batch = min(128, max(16, 2 ** round(math.log2(32 * 224 ** 2 / side ** 2))))
    cpu = device.type == "cpu"
    # several GPUs: --batch-size is the whole batch, so each GPU's share stays this size
    per_device = min(batch, 32) if cpu else batch
    # a tiny folder: a batch smaller than its training pictures, leaving room for validation
    return min(per_device * (1 if cpu else parallel), max(1, int(0.85 * train)) if train else per_device)


@dataclass(frozen=True)
class Tuning:
    """How much of the backbone fine-tuning changes, and how hard: three of TrainConfig's settings, by name."""
    unfreeze: int           # the top block groups that train (of Lite0's 8)
    fine_tune_lr: float     # the head's peak rate
    layer_lr_decay: float   # each group below at this × the rate of the one above


# Lite0's lowest block groups hold edges and colours that suit any photo: at most the top 4 of 8 train.
# GENTLE: on hymenoptera (122 photos a class) 1e-4 memorised the photos in an epoch and 2e-5 lowered validation
#   accuracy; 1e-5 moves the features without wrecking them (cats-vs-dogs: no dip at all, where 1e-3 fell to 80%).
# MODERATE: the CIFAR-10 subset at 90 photos a class, whose head falls 23 points short: 1e-5 top 3 scored 76.4%
#   test, 1e-4 top 3 78.8%, 1e-4 top 4 at 0.7 × a group 80.1%, 1e-3 top 4 72.8% (memorised).
# HARD: the CIFAR-10 subset at 450 a class, 2 epochs at 112 px: top 3 at 3e-4 81.7%, top 5 at 3e-4 83.8% but a
#   tenth slower than top 4, which at 1e-3 reached 84.3% (fastai's fine_tune also tops at 1e-3); 1e-5 moved 600
#   a class of flowers by only 2.8 points in 3 epochs.
GENTLE, MODERATE, HARD = Tuning(3, 1e-5, 1.0), Tuning(4, 1e-4, 0.7), Tuning(4, 1e-3, 0.7)
SMALL_FOLDER = 300     # photos a class below which a folder is soon memorised
# How far the frozen features fall short of the pictures is the head's own validation error after stage 1
FEATURES_FIT = 0.99    # a head this accurate leaves fine-tuning nothing it can be shown to fix (cats-vs-dogs: the
                       # head's 99.6% on validation; fine-tuning at 1e-3 or 1e-5 gained nothing on test): skipped,
                       # where validation has the pictures to tell (its error surely under 1 - FEATURES_NEAR)
FEATURES_NEAR = 0.95   # from here to FEATURES_FIT the features nearly fit: fine-tuning only nudges them (GENTLE)


def tuning_line(tuning: Tuning) -> str:
    """'the top 4 of the backbone's 8 block groups at lr 0.0001, each group below at 0.7 × ...'."""
    if tuning.layer_lr_decay == 1:
        return tr("the top {unfreeze} of the backbone's 8 block groups at lr {rate:g}", unfreeze=tuning.unfreeze,
                  rate=tuning.fine_tune_lr)
    return tr("the top {unfreeze} of the backbone's 8 block groups at lr {rate:g}, each group below at {decay} × the "
              "rate of the one above", unfreeze=tuning.unfreeze, rate=tuning.fine_tune_lr, decay=tuning.layer_lr_decay)


def fine_tuning_choices(config: TrainConfig, folder: Survey, small: bool) -> dict[str, Choice]:
    """How much of the network fine-tuning changes, and how hard, as first planned: from the photos a class has.
    Stage 1 then shows how far the frozen features fall short, and fine-tuning is chosen again (after_head)."""
    tuning = with_given(GENTLE if small else HARD, config)
    how = (tr(", gently, so that few photos adjust the pretrained features instead of being memorised") if small else
           tr(", enough photos to move the features further before they are memorised"))
    why = tr("{per_class:.0f} training photos a class: fine-tuning planned for {tuning}{how}; chosen again once "
             "stage 1 shows how far the frozen features fall short (change with --unfreeze, --fine-tune-lr, "
             "--layer-lr-decay)",
             per_class=folder.per_class, tuning=tuning_line(tuning), how=how)
    return {k: Choice(v, "photos", why) for k, v in asdict(tuning).items() if getattr(config, k) is None}


def with_given(tuning: Tuning, config: TrainConfig, decided: set[str] | None = None) -> Tuning:
    """The tuning with the config's own value for each of its settings that was given (not None, or not among
    `decided`)."""
    given = {f.name: getattr(config, f.name) for f in fields(Tuning)
             if (getattr(config, f.name) is not None if decided is None else f.name not in decided)}
    return replace(tuning, **given)


def surely_below(errors: float, pictures: int, bound: float) -> bool:
    """Whether an error rate seen as `errors` wrong of `pictures` is below `bound` with 95% confidence (the upper
    end of the Wilson score interval): none wrong of 12 pictures could still be an error of 24%."""
    z, rate = 1.96, errors / pictures
    centre = rate + z * z / (2 * pictures)
    spread = z * math.sqrt(rate * (1 - rate) / pictures + z * z / (4 * pictures ** 2))
    return (centre + spread) / (1 + z * z / pictures) < bound


def features_fit(accuracy: float, validation: int) -> bool:
    """Whether a head this accurate on `validation` pictures shows that the frozen features fit them, with nothing
    left that fine-tuning could be shown to fix (its error surely under 1 - FEATURES_NEAR)."""
    return accuracy >= FEATURES_FIT and surely_below(round((1 - accuracy) * validation), validation, 1 - FEATURES_NEAR)


def after_head(head_accuracy: float, validation: int, per_class: float, config: TrainConfig, decided: set[str]
               ) -> tuple[dict[str, object], str]:
    """Fine-tuning chosen again from what stage 1 shows, for a folder of photos: the head's best validation
    accuracy (on `validation` pictures) says how far the frozen features fall short. Only the settings in
    `decided` (those the photo defaults chose) change; those given stay as `config` has them. Returns the new
    values and the line that says why."""
    accuracy = round(head_accuracy, 6)  # as results.csv keeps it: a resumed run decides the same
    if features_fit(accuracy, validation) and "fine_tune_epochs" in decided:
        values = {"fine_tune_epochs": 0, "fill_budget": False}
        why = tr("stage 1: the head alone reached {accuracy:.1%} on {validation} validation pictures: the frozen "
                 "features already fit these pictures, so fine-tuning, with nothing left it could be shown to fix, is "
                 "skipped (--fine-tune-epochs N runs it)", accuracy=accuracy, validation=validation)
    else:
        near = accuracy >= FEATURES_NEAR
        tuning = with_given(GENTLE if near else MODERATE if per_class < SMALL_FOLDER else HARD, config, decided)
        values = asdict(tuning)  # its fields are TrainConfig's settings
        why = (tr("stage 1: the head reached {accuracy:.1%} on validation: the frozen features nearly fit, so "
                  "fine-tuning only nudges them: {tuning} (change with --unfreeze, --fine-tune-lr, --layer-lr-decay)",
                  accuracy=accuracy, tuning=tuning_line(tuning)) if near else
               tr("stage 1: the head reached {accuracy:.1%} on validation, {points:.0f} points short: the frozen "
                  "features need to move; with {per_class:.0f} photos a class, fine-tuning {tuning} (change with "
                  "--unfreeze, --fine-tune-lr, --layer-lr-decay)", accuracy=accuracy, points=100 * (1 - accuracy),
                  per_class=per_class, tuning=tuning_line(tuning)))
    return {k: v for k, v in values.items() if k in decided}, why


def forecast_after_head(config: TrainConfig, pictures: tuple[int, int, int], device: torch.device, parallel: int
                        ) -> tuple[float, float]:
    """(the seconds of a fine-tuning epoch, of scoring and the report) at the kept speed of what `config` trains:
    `pictures` (training, validation, scored) on every device together. An epoch's last, partial batch is timed
    as a whole one: on a CPU it takes as long (hymenoptera's first 40 photos a class at 320 px: five steps of
    0.46-0.55 s, the fifth of 8 pictures, the others of 16)."""
    train, validation, scored = pictures
    speed = backbone_speed(device, config.unfreeze, config.precision, config.image_size,
                           max(1, config.batch_size // parallel), photo_augmentation(config), config.model)
    mpx = config.image_size ** 2 / 1e6 / parallel
    stepped = math.ceil(train / config.batch_size) * config.batch_size
    return fine_tuning_epoch(stepped, validation, speed, mpx), scored * speed.forward * mpx + REPORT_SECONDS


def rest_after_head(config: TrainConfig, pictures: tuple[int, int, int], device: torch.device, parallel: int,
                    spent: float, outside: float = 0.0) -> str:
    """The run forecast again once stage 1 has chosen fine-tuning (after_head): the rest of it at the speed of the
    block groups fine-tuning will train (measured once on this machine and kept, as the plan's speeds are; the plan
    timed the groups it first chose), and the whole run with the `spent` seconds so far by the clock on the wall,
    `outside` of them off the budget (measuring the machine). `pictures`: (training, validation, scored) on every
    device together."""
    before = measuring_seconds()
    epoch, scoring = forecast_after_head(config, pictures, device, parallel)
    measuring = measuring_seconds() - before  # the groups chosen, timed here where no run has timed them yet
    spent, rest = spent + measuring, config.fine_tune_epochs * epoch + scoring
    if not config.fine_tune_epochs:
        return tr("forecast again: the run ends after scoring and the report, about {minutes:.1f} minutes in all "
                  "({rest:.0f}s from now)", minutes=(spent + rest) / 60, rest=rest) + once_outside(measuring)
    blocks = tr("the top {unfreeze} blocks", unfreeze=config.unfreeze) if config.unfreeze else tr("the whole network")
    longest = 60 * (config.budget or PHOTO_BUDGET_MINUTES) + outside + measuring
    return tr("forecast again: {epochs} of fine-tuning {blocks} at about {epoch:.0f}s each, then scoring and the "
              "report ({scoring:.0f}s): about {minutes:.1f} minutes in all ({rest:.0f}s from now){more}",
              epochs=plural(config.fine_tune_epochs, "epoch"), blocks=blocks, epoch=epoch,
              scoring=scoring, minutes=(spent + rest) / 60, rest=rest,
              more=longer_while_improving(bool(config.fill_budget), spent + rest, longest, epoch)
              ) + once_outside(measuring)


def photo_augmentation(config: TrainConfig) -> Augmentation:
    """The augmentation a photo run trains with (its recipe's, unless given): the backbone's speed is timed with it."""
    return make_augmentation(config.augment or model_entry(config.model or PHOTO_MODEL).recipe["augment"],
                             config.rotation, config.shift, config.zoom, config.flip)


def budget_choices(config: TrainConfig, folder: Survey, small: bool, unfreeze: int | None, device: torch.device,
                   parallel: int = 1) -> dict[str, Choice]:
    """The backbone, resolution and fine-tuning epochs that fit the --budget at this device's measured speed
    (times `parallel` devices sharing the work), and the plan."""
    budget = config.budget or PHOTO_BUDGET_MINUTES
    most = 3 if small else 8
    augmentation = photo_augmentation(config)

    def planned(model: str, smallest: int = 0) -> tuple[Plan, Speed]:
        return backbone_plan(model, config, folder, unfreeze, augmentation, most, device, parallel, smallest)

    before = measuring_seconds()  # measuring: some seconds the first time on this machine; nothing once kept
    model = config.model or PHOTO_MODEL
    plan, one = planned(model)
    larger = (larger_backbone(config, folder, plan, one, most, planned)
              if config.model is None and config.weights is None else None)
    model, plan, one, asked, why = larger or (model, plan, one, 0.0, "")
    if config.unfreeze is None and plan.fine_tune_epochs:  # stage 1 may choose other block groups (after_head):
        for groups in {t.unfreeze for t in (GENTLE, MODERATE, HARD)} - {unfreeze}:  # timed in the measuring said
            photo_speed(model, groups, plan.side, config, folder, augmentation, device, parallel)
    measuring = measuring_seconds() - before
    if asked:
        plan = replace(plan, seconds={"probe": asked, **plan.seconds})
    chosen = {"model": Choice(model, "photos", why)} if config.model is None else {}
    if config.image_size is None:
        enlarged, over = plan.side > folder.median_side, smallest_runs_over(plan, 60 * budget)
        chosen["image_size"] = Choice(plan.side, "photos", (
            (tr("resolution {side}×{side}: the smallest the plan goes to, and even there the run is longer than the "
                "{budget:g}-minute budget", side=plan.side, budget=budget) if over else
             tr("resolution {side}×{side}: the largest that leaves time for fine-tuning within the {budget:g}-minute "
                "budget", side=plan.side, budget=budget) if plan.fine_tune_epochs else
             tr("resolution {side}×{side}: the largest at which the head on frozen features fits the {budget:g}-minute "
                "budget", side=plan.side, budget=budget))
            + (tr(" (the pictures are smaller: enlarging them further adds no detail)")
               if enlarged and plan.side == model_entry(model).resolution else "")
            + tr(" (pictures' median shorter side {median_side} px; change with --image-size)",
                 median_side=folder.median_side)))
    if config.fine_tune_epochs is None:
        fill, line = fine_tuning_line(plan, config, fine_tuning_floor(folder), budget)
        chosen["fine_tune_epochs"] = Choice(plan.fine_tune_epochs, "photos", line)
        if config.fill_budget is None:
            chosen["fill_budget"] = Choice(fill, "photos", line)
    parts = {"probe": tr("a head on Lite0's frozen features"), "start": tr("start"), "reading": tr("reading"),
             "features": tr("features"), "evaluation": tr("evaluation"), "fine-tuning": tr("fine-tuning")}
    expected = ", ".join(f"{parts[k]} {v:.0f}s" for k, v in plan.seconds.items())
    expected += once_outside(measuring)  # later runs read what it measured, and plan the same
    fills = chosen["fill_budget"].value if "fill_budget" in chosen else bool(config.fill_budget)
    epoch = plan.seconds.get("fine-tuning", 0.0) / max(plan.fine_tune_epochs, 1)
    # stage 1 may skip fine-tuning where a head right on every validation picture would show it (after_head)
    skippable = "fine_tune_epochs" in chosen and plan.fine_tune_epochs > 0 and features_fit(
        1.0, validation_pictures(folder))
    minutes = plural(int(budget), "minute") if budget == int(budget) else tr("{budget:g} minutes", budget=budget)
    chosen["budget"] = Choice(budget, "photos", (  # given or not: the plan within it is said
        tr("budget {minutes} (--budget): expected about {value:.1f} minutes ({expected}){longer}; the backbone "
           "reads {value2:.2g} and fine-tunes {value3:.2g} million pixels a second on {type} in {precision} at "
           "{side}×{side} (measured once on this machine and kept: `visionpath devices` shows it)",
           minutes=minutes, value=(plan.total + measuring) / 60, expected=expected,
           longer=longer_while_improving(fills and plan.fine_tune_epochs > 0, plan.total + measuring,
                                         60 * budget + measuring, epoch)
           + (if_head_alone(plan, measuring, FEATURES_FIT) if skippable else ""), value2=1 / one.forward,
           value3=1 / one.fine_tune, type=device.type, precision=config.precision, side=plan.side)
        + (tr(", {parallel} of them sharing the work", parallel=parallel) if parallel > 1 else "")
        + over_budget(plan, 60 * budget)))
    return chosen


def fine_tuning_line(plan: Plan, config: TrainConfig, detail: int, budget: float) -> tuple[bool, str]:
    """Whether fine-tuning fills the budget, and what the plan says of stage 2; `detail`: the side under which
    fitting fine-tuning would have cost the pictures detail (photo_plan.plan_photo_run)."""
    if plan.fine_tune_epochs == 0:
        return False, tr(
            "stage 2: no fine-tuning: in the {budget:g}-minute budget two epochs of it fit only on pictures smaller "
            "than {detail} px, which loses more than fine-tuning gives back (cats-vs-dogs in 1 minute: the head alone "
            "at 224 px 99.3% test, fine-tuned at 112 px 96.3%); the head alone trains, at {side}×{side} "
            "(--fine-tune-epochs or a longer --budget fine-tunes)", budget=budget, detail=detail, side=plan.side)
    if plan.fine_tune_epochs == 1:  # only where no side fits two (plan_photo_run)
        return False, tr("stage 2: 1 epoch of fine-tuning, its learning rate warmed up and brought down within it: no "
                         "more fits the {budget:g}-minute budget at {side}×{side} (--fine-tune-epochs fixes the "
                         "number)", budget=budget, side=plan.side)
    if config.fill_budget is False:
        return False, tr("stage 2: up to {fine_tune_epochs} epochs of fine-tuning (change with --fine-tune-epochs)",
                         fine_tune_epochs=plan.fine_tune_epochs)
    return True, tr("stage 2: {fine_tune_epochs} epochs of fine-tuning planned; it goes on while validation accuracy "
                    "improves and the next epoch fits in the budget, timed by the epochs so far, the learning rate "
                    "re-fitted to the epochs left (--fine-tune-epochs fixes the number)",
                    fine_tune_epochs=plan.fine_tune_epochs)


def backbone_plan(model: str, config: TrainConfig, folder: Survey, unfreeze: int | None,
                  augmentation: Augmentation, most: int, device: torch.device, parallel: int, smallest: int = 0
                  ) -> tuple[Plan, Speed]:
    """`model`'s plan within the budget, at no side under `smallest`, at the speed measured at one side, then again
    at the speed of the side chosen (a million pixels cost up to a fifth less in larger steps), so that the forecast
    is made at the speed that will run; and that speed."""
    budget, native = config.budget or PHOTO_BUDGET_MINUTES, model_entry(model).resolution

    def speed_at(side: int) -> Speed:
        return photo_speed(model, unfreeze, side, config, folder, augmentation, device, parallel)

    def plan_at(speed: Speed, side: int | None, epochs: int | None = config.fine_tune_epochs) -> Plan:
        return plan_photo_run(folder, Speed(speed.forward / parallel, speed.fine_tune / parallel), 60 * budget,
                              side, epochs, fewest=2, most=most, native=native, smallest=smallest)

    first = config.image_size or max(PROBE_SIDE, native)
    one = speed_at(first)
    plan = plan_at(one, config.image_size)
    if plan.side != first:
        one = speed_at(plan.side)
        again = plan_at(one, None)
        if again.side != plan.side:  # its own speed moved the choice: the side it moved to, at that side's speed
            one = speed_at(again.side)  # (with the head alone where that is what it moved to)
            again = plan_at(one, again.side, config.fine_tune_epochs if again.fine_tune_epochs else 0)
        plan = again
    return plan, one


def photo_speed(model: str, unfreeze: int | None, side: int, config: TrainConfig, folder: Survey,
                augmentation: Augmentation, device: torch.device, parallel: int) -> Speed:
    """One device's speed fine-tuning the top `unfreeze` groups of `model` at `side` px, at its share of the batch
    the run has there."""
    batch = config.batch_size or photo_batch(side, device, parallel, folder.train)
    return backbone_speed(device, unfreeze, config.precision, side, max(1, batch // parallel), augmentation, model)


def larger_backbone(config: TrainConfig, folder: Survey, plan: Plan, speed: Speed, most: int,
                    planned: Callable[[str, int], tuple[Plan, Speed]]) -> tuple[str, Plan, Speed, float, str] | None:
    """A larger backbone where the budget buys it: when Lite0's `plan` (at `speed`) has time to spare (its largest
    side and its most fine-tuning epochs fit), the largest installed backbone whose own plan fits as many epochs with
    the time the question takes, if a linear head on Lite0's frozen features (frozen_probe) shows that they fall
    short. Its plan is at its own resolution or above, or at Lite0's side where that is lower (Lite2 at 224 px beat
    Lite0 at 224 by 2.3 points on CIFAR-10 at 90 a class), never at fewer pixels than Lite0 would read. Returns (the
    backbone, its plan, its speed, the probe's seconds, why), Lite0's own once probed, or None when there was nothing
    to ask."""
    budget = 60 * (config.budget or PHOTO_BUDGET_MINUTES)
    spare = plan.total <= budget and plan.fine_tune_epochs >= (config.fine_tune_epochs or most) and \
        plan.side >= (config.image_size or photo_sides(folder)[0])
    candidates = [m for m in LARGER_BACKBONES if has_offline_weights(model_entry(m).timm_name)] if spare else []
    for model in candidates:
        smallest = min(model_entry(model).resolution, plan.side)
        theirs, their_speed = planned(model, smallest)
        theirs = read_by_question(theirs, theirs.side)  # the question reads the folder at its side first
        if theirs.side < smallest or theirs.fine_tune_epochs < plan.fine_tune_epochs or \
                theirs.total + probe_seconds(plan, folder, theirs.side) > budget:
            continue
        asking = time.perf_counter()
        accuracy = frozen_accuracy(config, PHOTO_MODEL, theirs.side)
        asked = time.perf_counter() - asking
        if accuracy >= FEATURES_NEAR:
            return PHOTO_MODEL, read_by_question(plan, theirs.side), speed, asked, tr(
                "the budget would buy {model}, but a head on {PHOTO_MODEL}'s frozen features reached {accuracy:.1%} "
                "on validation: they nearly fit, and a larger backbone measured no better there", model=model,
                PHOTO_MODEL=PHOTO_MODEL, accuracy=accuracy)
        return model, theirs, their_speed, asked, tr(
            "larger than {PHOTO_MODEL}, because the budget buys it and the features fall short: {PHOTO_MODEL}'s plan "
            "left time to spare, {model}'s fits at {side}×{side} with {epochs} epochs of fine-tuning, and a head on "
            "{PHOTO_MODEL}'s frozen features reached only {accuracy:.1%} on validation (--model {PHOTO_MODEL} "
            "trains the smaller one, planned the same way)",
            PHOTO_MODEL=PHOTO_MODEL, model=model, side=theirs.side,
            epochs=theirs.fine_tune_epochs, accuracy=accuracy)
    return None