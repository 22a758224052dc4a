"""How a folder of photos fits a time budget: the sides a plan chooses from, what each part of a run is expected to
take, the largest plan that fits, and what its forecasts add to their minutes. The speeds come from speed.py, the
choices from defaults.py.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .data.folder import Survey
from .i18n import tr
from .speed import Speed

# Sides the photo defaults choose from, largest first: the largest that fits the budget wins. Above 224: the backbone
# was trained on random crops, which enlarge objects, so it recognises whole pictures best a little above its
# training resolution ("FixRes", Touvron et al. 2019). Measured on hymenoptera (frozen Lite0 features, same head):
# 144/153 right at 224 px, 146 at 256, 148 at 288 and 148 at 320; with the head run to convergence and fine-tuned
# at 1e-5, the best epoch 148 at 288 and 149 at 320.
PHOTO_SIDES = (320, 288, 256, 224, 192, 160, 128, 112, 96, 64)


@dataclass(frozen=True)
class Plan:
    """How a folder of photos will be trained within its budget, and what each part is expected to take."""
    side: int
    fine_tune_epochs: int
    seconds: dict[str, float]   # expected seconds: start, reading, features, fine-tuning, evaluation

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


# What the run spends besides the backbone, measured on 2 cores (AVX2): starting (imports, checks, the probe) and
# writing the report.
START_SECONDS, REPORT_SECONDS = 12.0, 8.0
# Reading a picture into the picture cache at a side: 0.6 ms, 10 ns a pixel of its shorter side squared (decoding)
# and 16 ns a pixel of the side squared (resizing, storing). Measured from an empty cache on an AVX2-only EPYC:
# 11,000 CIFAR-10 pictures of 32 px in 7.4 s at 64 px, 9.4 s at 128, 14.8 s at 224 and 22.2 s at 320; 1,802 photos
# of median side 350 px in 4.5 s at 224 and 6.3 s at 320; 398 of 370 px in 1.1 s at 224.
READ_SECONDS, DECODE_PIXEL_SECONDS, STORE_PIXEL_SECONDS = 6e-4, 10e-9, 16e-9
# Filling a budget ends on a whole epoch, within half of one of the budget: an epoch of at most a fifth of the budget
# leaves at most a tenth of it unused (the CIFAR-10 subset at 224 px, 68 s epochs: the run ended at 89%)
EPOCH_SHARE = 0.2
# Fine-tuning does not shrink pictures below this side (or their own, if smaller) while the head alone fits at a
# larger one (benchmarks/results/short_budget.md, an AVX2-only EPYC): in a 1-minute budget cats-vs-dogs fine-tuned
# at the 112 px that fitted two epochs scored 96.30% test, the head alone at 224 px 99.26%; hymenoptera, fine-tuned
# at 288 px, 96.08% against the head alone's 94.12%. Low on purpose: at 2 minutes cats-vs-dogs fine-tuned at 160 px
# scored 97.78% and the head alone at 288 px 100.00%, but its frozen features nearly fit, and where they fall short
# (the CIFAR subset's head 77%, fine-tuned 87%) fine-tuning is what pays, which the plan cannot know before stage 1.
SMALLEST_FINE_TUNED = 128


def fine_tuning_floor(folder: Survey) -> int:
    """The side under which fitting fine-tuning costs the pictures detail (SMALLEST_FINE_TUNED)."""
    return min(SMALLEST_FINE_TUNED, folder.median_side)


def photo_sides(folder: Survey, native: int = 224, smallest: int = 0) -> list[int]:
    """The sides a plan chooses from, largest first: above the backbone's `native` resolution only for pictures
    that large, none under `smallest`."""
    return [s for s in sorted({*PHOTO_SIDES, native}, reverse=True) if smallest <= s <= max(native, folder.median_side)]


def reading_seconds(folder: Survey, side: int) -> float:
    """The seconds it takes to read every picture of `folder` into the picture cache at `side` px."""
    per_picture = READ_SECONDS + DECODE_PIXEL_SECONDS * folder.median_side ** 2 + STORE_PIXEL_SECONDS * side ** 2
    return (folder.train + folder.validation + folder.test) * per_picture


def fine_tuning_epoch(train: int, validation: int, speed: Speed, mpx: float) -> float:
    """The seconds of a fine-tuning epoch at `speed`: a step over each training picture and a forward pass over each
    validation one, of `mpx` million pixels each."""
    return (train * speed.fine_tune + validation * speed.forward) * mpx


def validation_pictures(folder: Survey) -> int:
    """The pictures a run of `folder` validates on: its validation split, else the share of train held out."""
    return folder.validation or round(folder.held_out * folder.train)


def plan_photo_run(folder: Survey, speed: Speed, budget: float, side: int | None, epochs: int | None,
                   fewest: int, most: int, native: int = 224, smallest: int = 0) -> Plan:
    """The largest side (unless given) at which at least `fewest` fine-tuning epochs fit in `budget` seconds, each
    at most EPOCH_SHARE of it (unless the epochs are given), and as many epochs as fit there, up to `most` (unless
    given), from photo_sides. Fine-tuning does not shrink the pictures under fine_tuning_floor while the head alone
    fits at a larger side: then that plan, with no fine-tuning. When even the smallest side cannot fit `fewest`, the
    smallest side (or the side given) and the epochs that fit there, or the one a run fine-tunes in any case (its
    first epoch runs, the next only where it fits the budget: training.stages.replan); the plan then says it runs
    over. Planned as `fewest`, a run cut to one epoch at its peak rate (forced to bf16 on an AVX2-only CPU, the
    CIFAR-10 subset's plan said 15.8 minutes of 5, the run took 12.2 and kept the head's epoch, fine-tuning's
    4.6 points below it on validation; planned as one, 70.46% test against 62.89%)."""
    validation = validation_pictures(folder)
    train = folder.train - (0 if folder.validation else validation)
    scored = folder.test or validation  # the report scores test, else validation
    sides = [side] if side else photo_sides(folder, native, smallest)
    detail = fine_tuning_floor(folder)
    plan = alone = None  # alone: the head on frozen features without fine-tuning, at the largest side it fits
    for s in sides:
        if alone is not None and s < detail:
            return alone
        mpx = s * s / 1e6
        seconds = {"start": START_SECONDS + REPORT_SECONDS, "reading": reading_seconds(folder, s),
                   "features": (train + validation) * mpx * speed.forward,
                   "evaluation": scored * mpx * speed.forward}
        per_epoch = fine_tuning_epoch(train, validation, speed, mpx)
        fits = int((budget - sum(seconds.values())) // per_epoch)
        n = epochs if epochs is not None else min(fits, most) if fits >= fewest else fewest
        plan = Plan(s, n, {**seconds, "fine-tuning": n * per_epoch})
        if plan.total <= budget and (side or epochs is not None or per_epoch <= EPOCH_SHARE * budget):
            return plan
        if alone is None and not side and epochs is None and sum(seconds.values()) <= budget:
            alone = Plan(s, 0, {**seconds, "fine-tuning": 0.0})
    held = max(1, fits)  # at the smallest side: the epochs that fit there, or the one a run fine-tunes in any case
    if epochs is None and plan.fine_tune_epochs > held:  # `fewest` do not fit there
        plan = replace(plan, fine_tune_epochs=held, seconds={**plan.seconds, "fine-tuning": held * per_epoch})
    return plan


def probe_seconds(plan: Plan, folder: Survey, side: int) -> float:
    """What asking whether Lite0's frozen features fall short (frozen_probe) costs, from Lite0's `plan`: reading the
    folder and Lite0's features at `side` px. Spent whatever the answer (CIFAR-10 at 90 a class in fp32: Lite2's
    plan, 290 s, fitted 5 minutes alone; the question took 21 s more, and fine-tuning was cut to one epoch)."""
    return reading_seconds(folder, side) + plan.seconds["features"] * (side / plan.side) ** 2


def read_by_question(plan: Plan, side: int) -> Plan:
    """`plan` once the question has read the folder at `side` px into the picture cache: a run at that side reads it
    from there, in no time (CIFAR-10 at 90 a class: 11,000 pictures, 15 s, read once)."""
    return replace(plan, seconds={**plan.seconds, "reading": 0.0}) if plan.side == side else plan


def once_outside(measuring: float) -> str:
    """What a forecast adds for the seconds its run spent measuring the machine (once, off the budget)."""
    return tr("; measuring this machine {seconds:.0f}s, once, outside the budget", seconds=measuring) \
        if measuring > 1 else ""


def over_budget(plan: Plan, budget: float) -> str:
    """What the plan's line adds where the plan runs over `budget` seconds: a plan that fitted with the time allowed
    for the question of a larger backbone runs over only because the question took longer (CIFAR-10 at 90 a class
    on an AVX2 CPU: 29 s, in which it read all 11,000 pictures at 240 px), which is not its smallest plan running
    over."""
    over, asked = plan.total - budget, plan.seconds.get("probe", 0.0)
    if over <= 0:
        return ""
    if smallest_runs_over(plan, budget):
        return tr("; even the smallest plan runs over the budget")
    return tr("; the head on Lite0's frozen features took {seconds:.0f}s, longer than the plan allowed for it, and the "
              "plan runs {over:.0f}s over the budget", seconds=asked, over=over)


def smallest_runs_over(plan: Plan, budget: float) -> bool:
    """Whether `plan` is over `budget` seconds because not even the smallest side fits (plan_photo_run), not because a
    larger backbone's question took longer than the plan allowed for it."""
    return plan.total - budget > plan.seconds.get("probe", 0.0)


def longer_while_improving(fills: bool, expected: float, longest: float, epoch: float) -> str:
    """What a forecast of `expected` seconds adds where filling the budget may stretch the run to `longest` seconds
    (the budget, and measuring the machine outside it), when that holds at least half an `epoch` more: a small
    folder plans 3 fine-tuning epochs, and hymenoptera's plan forecast 2.3 minutes, the run took 2.8."""
    if not fills or longest - expected < epoch / 2:
        return ""
    return tr(", longer while validation improves and the budget holds it: up to about {minutes:.1f} minutes in all",
              minutes=longest / 60)


def if_head_alone(plan: Plan, measuring: float, fit: float) -> str:
    """What the plan's line adds where stage 1 may find the head alone enough and skip the fine-tuning it timed
    (defaults.after_head), which the plan cannot know: cats-vs-dogs forecast 5.1 minutes and took 1.3."""
    return tr("; about {minutes:.1f} minutes if the head alone reaches {fit:.0%} on validation in stage 1, which skips "
              "fine-tuning", minutes=(plan.total - plan.seconds["fine-tuning"] + measuring) / 60, fit=fit)
