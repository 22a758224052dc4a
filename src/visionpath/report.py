"""Pictures and words about a run: the diagnosis of its learning curves, the curves and the confusion matrix drawn,
the end-of-training summary, and several runs compared.

Figures are drawn on matplotlib's `Figure` directly, never through pyplot: nothing here changes matplotlib's
backend or keeps figures open, so a notebook's own plots stay as they are.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from .checkpoint import load_tensors
from .config import TrainConfig
from .console import printable
from .defaults import FEATURES_FIT
from .errors import VisionpathError
from .files import atomic_write, save_figure
from .i18n import drawn_in_language, plural, tr
from .options import Option, check_output, checked
from .run_files import kept_epoch, read_history, standard_error


@dataclass
class Diagnosis:
    verdict: str            # "overfitting", "underfitting", "healthy" or "too short to tell"
    began: int | None       # overfitting: the first epoch after validation loss was lowest
    gap: float              # training accuracy minus validation accuracy, last epoch
    text: str               # the plain-language account, remedies included


def overfitting_remedies(history: list[dict], best_acc: int, config: TrainConfig, began: int) -> list[str]:
    """The flags that fight overfitting (from epoch `began`) and are not yet in use; for a pretrained backbone
    whose best epoch early stopping kept, none of them (measured worse) but more photos."""
    if (config.pretrained or config.weights) and config.early_stopping:
        # a pretrained backbone, its best epoch kept: on the photo folders of benchmarks/photo_defaults.py
        # --augment strong lost 0.5 and 3.6 points, --dropout 0.3 0.1 and 0, --weight-decay 5e-4 gained 0.4 on
        # one and lost 0.5 on the other; none is told
        kept = kept_epoch(history)["epoch"]
        return [tr("more photos a class: early stopping kept epoch {epoch}, {which}, and stronger augmentation, "
                   "dropout and weight decay, measured on photo folders, did not help a pretrained backbone",
                   epoch=kept, which=tr("from before it set in") if kept < began else
                   tr("the best on validation"))]
    remedies = []
    augment = config.augment or "none"
    if augment != "strong":
        remedies.append(tr("--augment {value} (new variations of the training pictures every epoch)",
                           value='standard' if augment == 'none' else 'strong'))
    if not config.dropout:
        remedies.append(tr("--dropout 0.3 (switch off random units while training)"))
    if not config.weight_decay:
        remedies.append(tr("--weight-decay 5e-4 (keep weights small)"))
    if not config.early_stopping:
        remedies.append(tr("--early-stopping 3 (stop when validation stops improving; the best epoch is kept), "
                           "or {shorter}", shorter=shorter(history, best_acc, config)))
    return remedies


def diagnose(history: list[dict], config: TrainConfig | None = None) -> Diagnosis:
    """Read the learning curves the way a teacher would.

    overfitting: validation loss has risen well above its lowest point while training loss kept falling, or
        training accuracy pulled more than 8 points ahead of a validation accuracy that stopped improving.
    underfitting: training accuracy itself is low (under 90%) and validation is about as good: the model has not
        learned what the training pictures show, so there is nothing yet to generalise.
    healthy: neither. Training accuracy is measured on augmented pictures with dropout on, so it understates.
    The remedies name flags, and skip what `config` shows is already in use.
    """
    config = config or TrainConfig()
    n = len(history)
    last = history[-1]
    gap = last["train_accuracy"] - last["val_accuracy"]
    if n < 3:
        return Diagnosis("too short to tell", None, gap, tr("diagnosis: too few epochs ({epochs}) to tell "
                                                            "overfitting from underfitting; train for at least 3.",
                                                            epochs=n))
    low = min(range(n), key=lambda i: history[i]["val_loss"])  # index of the lowest validation loss
    at_low = history[low]
    best_acc = max(range(n), key=lambda i: history[i]["val_accuracy"])
    # a validation loss that rises while validation accuracy still reaches its best at the last epoch is the
    # network growing confident, not memorising (fine-tuning at the end of its schedule): not overfitting
    loss_rose = (low <= n - 2 and last["val_loss"] > 1.05 * at_low["val_loss"]
                 and last["train_loss"] < 0.95 * at_low["train_loss"] and best_acc <= n - 2)
    gap_grew = gap > 0.08 and best_acc <= n - 2 and last["train_accuracy"] > at_low["train_accuracy"]
    if loss_rose or gap_grew:
        began = history[min(low + 1, n - 1)]["epoch"]
        remedies = overfitting_remedies(history, best_acc, config, began)
        what = (tr("validation loss was lowest at epoch {epoch} ({val_loss:.3f}) and rose to {val_loss2:.3f} while "
                   "training loss kept falling",
                   epoch=at_low['epoch'], val_loss=at_low['val_loss'], val_loss2=last['val_loss']) if loss_rose else
                tr("validation accuracy stopped improving after epoch {epoch} while training accuracy kept rising",
                   epoch=history[best_acc]['epoch']))
        return Diagnosis("overfitting", began, gap, (
            tr("diagnosis: overfitting from epoch {began}: {what}. At the end training accuracy is "
               "{train_accuracy:.1%} against {val_accuracy:.1%} on validation, a gap of {value:.1f} points: the "
               "network memorises the training pictures instead of learning what generalises. Try: {value2}.",
               began=began, what=what, train_accuracy=last['train_accuracy'], val_accuracy=last['val_accuracy'],
               value=gap * 100, value2='; '.join(remedies[:3]) or tr("more training data"))))
    regularised = (config.augment or "none") != "none" or config.dropout or config.weight_decay
    more, stages = longer(history, config), stage_notes(history, config)
    if last["train_accuracy"] < 0.9 and gap < 0.03 and regularised and more:
        return Diagnosis("healthy", None, gap, (
            tr("diagnosis: healthy fit, still improving: training accuracy ({train_accuracy:.1%}, measured on "
               "augmented pictures with dropout on) is not above validation's ({val_accuracy:.1%}), so the "
               "regularisation keeps overfitting away, and validation accuracy was still rising at the end: {more} "
               "should help.{stages}",
               train_accuracy=last['train_accuracy'], val_accuracy=last['val_accuracy'], more=more, stages=stages)))
    if last["train_accuracy"] < 0.9 and gap < 0.03:
        gain = fine_tuning_gain(history)
        if gain is None:
            remedies = [more, tr("a bigger model (--width, --depth, or --model resnet9)"),
                        less_regularisation(config) or "a higher --lr"]
        else:  # fine-tuning that helped may go further; one that hurt is named in the stage notes (a higher rate
            # is not told: measured to lower accuracy, see stage_notes)
            remedies = [more, more_groups(config) if gain > 0 else ""]
        return Diagnosis("underfitting", None, gap, (
            tr("diagnosis: underfitting: training accuracy is only {train_accuracy:.1%} (validation "
               "{val_accuracy:.1%}): the model has not yet learned the training pictures, so there is nothing to "
               "generalise.{value}{stages}",
               train_accuracy=last['train_accuracy'], val_accuracy=last['val_accuracy'],
               value=tr(" Try: {remedies}.", remedies="; ".join(r for r in remedies if r)) if any(remedies) else "",
               stages=stages)))
    still = tr(" Validation accuracy was still rising at the end: {more} may help.", more=more) if more else ""
    return Diagnosis("healthy", None, gap, (
        tr("diagnosis: healthy fit: validation follows training (gap {value:.1f} points at the end) and validation "
           "loss was lowest at epoch {epoch} of {epoch2}.{still}{stages}",
           value=gap * 100, epoch=at_low['epoch'], epoch2=last['epoch'], still=still, stages=stages)))


def verdict_words(verdict: str) -> str:
    """A Diagnosis's verdict (a fixed English word that programs compare) in the learner's language."""
    return {"overfitting": tr("overfitting"), "underfitting": tr("underfitting"), "healthy": tr("healthy"),
            "too short to tell": tr("too short to tell")}[verdict]


def _stage_rows(history: list[dict]) -> dict[int, list[dict]]:
    """The history split by stage (1: the only stage, or the head on a frozen backbone; 2: fine-tuning)."""
    rows: dict[int, list[dict]] = {}
    for row in history:
        rows.setdefault(int(row.get("stage", 1)), []).append(row)
    return rows


def more_groups(config: TrainConfig) -> str:
    """The remedy that fine-tunes one block group more, as a command to type; "" where every group trained
    already (no --unfreeze), or on a --budget (a folder of photos): there more groups cost epochs or resolution, and
    nothing measured says they pay it back (the plan chose its groups from the head's error: defaults.after_head)."""
    if not config.unfreeze or config.budget:
        return ""
    return tr("fine-tuning more of the backbone (--unfreeze {value})", value=config.unfreeze + 1)


def surely_rising(rows: list[dict], before: list[dict]) -> bool:
    """Whether validation accuracy was surely still rising at the stage's last epoch: the best of the run so far
    (the stage and the epochs `before` it: a fine-tuning stage that climbs back towards the head's accuracy after a
    fall has not improved on the head), and up on the epoch before by more than the validation pictures can tell
    by chance (two standard errors; 0.3 points for a run of an older version, which did not record how many). A
    stage of one epoch rises over the best epoch `before` it: fine-tuning's only epoch (a plan whose budget held no
    more) over the head."""
    if len(rows) < 2 and not (rows and before):
        return False
    last, previous = rows[-1], rows[-2]["val_accuracy"] if len(rows) > 1 else max(r["val_accuracy"] for r in before)
    rise = last["val_accuracy"] - previous
    # benchmarks/results/longer_budget.md, the CIFAR-10 subset (500 validation pictures, a standard error of 1.5
    # points): twice the budget at the same side after a last epoch up 3.6 points gained 0.4 on test, after one up
    # 2.8 lost 1.2 (its validation 88.4% against 87.0%: what 500 pictures cannot tell apart)
    noise = 2 * standard_error(last["val_accuracy"], last["val_pictures"]) if last.get("val_pictures") else 0.003
    return last["val_accuracy"] >= max(r["val_accuracy"] for r in before + rows) and rise > noise


def same_side(config: TrainConfig) -> str:
    """What a remedy for a folder of photos adds so that it keeps the run's resolution: told to train longer or
    otherwise, the plan would choose the side again, and shrink the pictures to fit more epochs."""
    return f" --image-size {config.image_size}" if config.budget and config.image_size else ""


def longer(history: list[dict], config: TrainConfig) -> str:
    """The "train longer" remedy for the stage that was still improving when it ended, with the flag that
    lengthens that stage; "" when no stage was (lengthening a stage that had stopped improving wastes time)."""
    stages = _stage_rows(history)
    for stage, rows in sorted(stages.items(), reverse=True):
        if surely_rising(rows, stages[1] if stage == 2 else []):
            side = same_side(config)
            if stage == 2 and config.fill_budget and config.budget:  # it ran until the budget was spent
                return tr("a longer budget at the same resolution (--budget {value:g}{side})",
                          value=2 * config.budget, side=side)
            if stage == 2:
                return tr("more fine-tuning epochs (--fine-tune-epochs {value}{side})", value=2 * len(rows), side=side)
            return tr("more epochs{value} (--epochs {value2})",
                      value=tr(" of stage 1, the head") if config.fine_tune_epochs else "", value2=2 * len(rows))
    return ""


def shorter(history: list[dict], best: int, config: TrainConfig) -> str:
    """The flag that would have ended the run at its best epoch."""
    row = history[best]
    if row.get("stage", 1) == 2:  # fine-tuning follows stage 1, however long that was
        return f"--fine-tune-epochs {sum(1 for r in history[:best + 1] if r.get('stage', 1) == 2)}"
    return f"--epochs {row['epoch']}"


def fine_tuning_gain(history: list[dict]) -> float | None:
    """Fine-tuning's best validation accuracy minus the head's (None for a run in one stage)."""
    stages = _stage_rows(history)
    if 2 not in stages:
        return None
    return max(r["val_accuracy"] for r in stages[2]) - max(r["val_accuracy"] for r in stages[1])


def stage_notes(history: list[dict], config: TrainConfig) -> str:
    """For a run in two stages: a stage that stopped improving well before its end, and what fine-tuning did."""
    stages = _stage_rows(history)
    if 2 not in stages:
        return ""
    head, tuned = stages[1], stages[2]
    notes = []
    best = max(range(len(head)), key=lambda i: head[i]["val_accuracy"])
    if len(head) - 1 - best >= 2 and not config.early_stopping:  # with early stopping, stage 1 ends by itself
        notes.append(tr("stage 1 (the head) stopped improving after epoch {epoch} of {n_head}: the epochs after it "
                        "changed nothing (--epochs {epoch} saves them for fine-tuning)",
                        epoch=head[best]['epoch'], n_head=len(head)))
    gain = fine_tuning_gain(history)
    rate = config.fine_tune_lr
    side = same_side(config)
    kept = kept_epoch(history)
    if gain <= 0 and kept.get("stage", 1) == 2:  # as accurate within what the validation pictures tell, a lower loss
        notes.append(tr("fine-tuning matched the head's {val_accuracy:.1%} within what the validation pictures can "
                        "tell, at a lower validation loss ({loss:.3f} against {head_loss:.3f}): the run kept "
                        "fine-tuning's epoch {epoch}", val_accuracy=head[best]["val_accuracy"],
                        loss=kept["val_loss"], head_loss=head[best]["val_loss"], epoch=kept["epoch"]))
    # fine-tuning after a head this accurate: asked for (--fine-tune-epochs), or too few validation pictures to skip it
    elif gain <= 0 and head[best]["val_accuracy"] >= FEATURES_FIT:
        # measured on cats-vs-dogs (the head 99.6% on validation): fine-tuning at a third of the rate edged past
        # the head on validation and scored 1.5 points lower on test; with nothing to correct, no remedy is told
        notes.append(tr("fine-tuning did not beat the head's {val_accuracy:.1%}: the frozen features already fit "
                        "these pictures, and the run kept the head's epoch; fine-tuning has little left to add here "
                        "(--fine-tune-epochs 0 skips it)", val_accuracy=head[best]['val_accuracy']))
    elif gain <= 0:
        # each remedy a command to type: a third of the rate, or one block group fewer (three of all of them)
        fewer = max(1, config.unfreeze - 1) if config.unfreeze else 3
        lower = tr("a lower rate (--fine-tune-lr {value:.1g}{side}, now {rate:g})", value=rate / 3, side=side,
                   rate=rate) if rate else tr("a lower --fine-tune-lr")
        notes.append(tr("fine-tuning did not beat the head's {val_accuracy:.1%}: {lower} or fewer blocks "
                        "(--unfreeze {fewer}{side}) keeps more of the pretrained features",
                        val_accuracy=head[best]['val_accuracy'], lower=lower, fewer=fewer, side=side))
    elif surely_rising(tuned, head):
        # no "higher rate" remedy: on the CIFAR-10 subset, still rising at 1e-3, 3e-3 scored 4 points lower on test
        # where a longer budget at the same rate gained 1 (README: Remedies, run as printed)
        notes.append(tr("fine-tuning added {value:.1f} points and was still rising", value=gain * 100))
    return "".join(f" {note[0].upper()}{note[1:]}." for note in notes)


def less_regularisation(config: TrainConfig) -> str:
    """The underfitting remedy that undoes what this run used, or '' when it used none."""
    used = ([tr("a lower --dropout (now {dropout})", dropout=config.dropout)] if config.dropout else []) + \
        ([tr("a lower --weight-decay (now {weight_decay})", weight_decay=config.weight_decay)]
         if config.weight_decay else []) + \
        ([tr("--augment standard instead of strong")] if config.augment == "strong" else [])
    return tr("less regularisation ({used})", used=', '.join(used)) if used else ""


@drawn_in_language
def plot_curves(history: list[dict], path: Path, config: TrainConfig | None = None) -> None:
    """Loss and accuracy per epoch, training against validation, with the best epoch marked and, when the run
    overfits, the epochs where validation got worse while training improved shaded."""
    epochs = [r["epoch"] for r in history]
    best = kept_epoch(history)
    diagnosis = diagnose(history, config)
    fig = Figure(figsize=(11, 4.2))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, label in ((ax_loss, "loss", tr("loss (cross-entropy)")), (ax_acc, "accuracy", tr("accuracy"))):
        if diagnosis.verdict == "overfitting":
            ax.axvspan(diagnosis.began - 0.5, epochs[-1] + 0.3, color="tab:red", alpha=0.08,
                       label=tr("overfitting: validation worse,\ntraining still improving"))
        ax.plot(epochs, [r[f"train_{key}"] for r in history], "o-", label=tr("training"), color="tab:blue")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "o-", label=tr("validation"), color="tab:orange")
        ax.axvline(best["epoch"], color="grey", linestyle=":", label=tr("epoch kept ({epoch})", epoch=best['epoch']))
        switch = next((r["epoch"] for r in history if r.get("stage") == 2), None)
        if switch is not None:
            ax.axvline(switch - 0.5, color="tab:green", linestyle="--", label=tr("fine-tuning starts"))
        ax.set_xlabel(tr("epoch"))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
    fig.suptitle(tr("learning curves · the epoch kept: {epoch}, validation accuracy {val_accuracy:.2%} · {verdict}",
                    val_accuracy=best['val_accuracy'], epoch=best['epoch'], verdict=verdict_words(diagnosis.verdict)))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


@drawn_in_language
def plot_confusion(confusion: torch.Tensor, classes: list[str], path, scored: tuple[str, float] | None = None,
                   normalised: bool = False) -> None:
    """True class on rows, predicted class on columns; each cell shows its count (or with `normalised`, its share
    of the true class: the recall on the diagonal), coloured by the row's share. `path`: a file or a binary
    stream. The title: the split and its accuracy (`scored`), else what the cells show."""
    k, classes = len(classes), [printable(name) for name in classes]  # matplotlib draws no undecodable bytes
    counts = confusion.float()
    shares = counts / counts.sum(1, keepdim=True).clamp_min(1)
    side = min(20, max(5, 0.55 * k + 2.5))
    fig = Figure(figsize=(side, side * 0.9))
    ax = fig.subplots()
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                value = int(counts[i, j])
                text = (f"{shares[i, j]:.0%}" if value else "0") if normalised else str(value)
                ax.text(j, i, text, ha="center", va="center", fontsize=8 if k > 12 else 10,
                        color="white" if shares[i, j] > 0.5 else ("black" if value else "lightgrey"))
    tilt = k > 5 and max(len(c) for c in classes) > 3  # tilt long names only: digits read better upright
    ax.set_xticks(range(k), classes, rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel(tr("predicted class"))
    ax.set_ylabel(tr("true class"))
    ax.set_title(tr("{split}: accuracy {accuracy:.2%}", split=scored[0], accuracy=scored[1]) if scored else
                 tr("share of each true class (recall on the diagonal)") if normalised else tr("counts"))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=tr("share of the true class"))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def training_summary(run_dir: Path, config: TrainConfig, history: list[dict], best: dict, test,
                     validation_from_train: bool) -> str:
    """The plain-text account printed at the end of training and kept as summary.txt (`test`: the Evaluation of
    the test split, or None)."""
    last = history[-1]
    lines = [tr("run {run_dir}: {model} on {data}, {epochs} in {time:.1f}s ({value:.2f}s per epoch)",
                run_dir=run_dir, model=config.model, data=config.data, epochs=plural(len(history), "epoch"),
                time=last['time'], value=last['time'] / len(history)),
             tr("best epoch {epoch}: validation accuracy {val_accuracy:.2%}, loss {val_loss:.4f} (these weights are "
                "in best.safetensors)",
                epoch=best['epoch'], val_accuracy=best['val_accuracy'], val_loss=best['val_loss']),
             tr("last epoch: training accuracy {train_accuracy:.2%}, validation accuracy {val_accuracy:.2%}",
                train_accuracy=last['train_accuracy'], val_accuracy=last['val_accuracy']),
             diagnose(history, config).text]
    if test is not None:
        lines.append(test.table())
        lines.append(tr("confusion matrix: {value} (and .csv); learning curves: {value2}",
                        value=run_dir / 'confusion_matrix.png', value2=run_dir / 'curves.png'))
    elif not config.score_test:
        lines.append(tr("the test split is not scored (--no-score-test): compare runs on validation, then score the "
                        "chosen one once with `visionpath evaluate {run_dir}`. Learning curves: {value}",
                        run_dir=run_dir, value=run_dir / 'curves.png'))
    else:
        note = tr(" (held out from train)") if validation_from_train else ""
        lines.append(tr("no test split: validation accuracy{note} is the only score, and it is optimistic because "
                        "it chose the best epoch. Learning curves: {value}",
                        note=note, value=run_dir / 'curves.png'))
    return "\n".join(lines)


@checked
def compare_runs(runs: Annotated[list[str | os.PathLike], Option("run folders", positional=True)],
                 output: Annotated[str | Path, Option("where to write <output>.md, .csv and .png")] = "comparison"
                 ) -> list[dict]:
    """Test accuracy, training time, epochs and parameters of several run folders (or Runs), side by side: written
    as <output>.md, <output>.csv and <output>.png (accuracy against training time)."""
    check_output("--output", Path(output).with_suffix(".md"))
    rows = [_comparison_row(Path(run)) for run in runs]
    output = Path(output)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(output.with_suffix(".csv"), text.getvalue())
    fmt = lambda a: f"{a:.2%}" if a is not None else tr("no test split")  # noqa: E731
    lines = [tr("| run | model | data | epochs | training time | parameters | validation (epoch kept) | test "
                "accuracy |"), "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['model']} | {r['data']} | {r['epochs']} | {r['training_seconds']:.0f} s | "
              f"{r['parameters']:,} | {r['best_val_accuracy']:.2%} ({r['kept_epoch']}) | {fmt(r['test_accuracy'])} |"
              for r in rows]
    atomic_write(output.with_suffix(".md"), "\n".join(lines) + "\n")
    plot_comparison(rows, output.with_suffix(".png"))
    return rows


def _comparison_row(run_dir: Path) -> dict:
    if not (run_dir / "config.json").is_file():
        raise VisionpathError(tr("{run_dir} is not a visionpath run folder (it has no config.json).",
                                 run_dir=run_dir))
    history = read_history(run_dir)
    if not history:
        raise VisionpathError(tr("{run_dir} has no finished epoch (results.csv is missing or empty).",
                                 run_dir=run_dir))
    config = TrainConfig.read(run_dir / "config.json")
    metrics = run_dir / "test_metrics.json"
    try:
        test = json.loads(metrics.read_text())["accuracy"] if metrics.is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        raise VisionpathError(tr("{metrics} is damaged (not the JSON visionpath wrote); run `visionpath evaluate "
                                 "{run_dir}` to write it again.",
                                 metrics=metrics, run_dir=run_dir)) from None
    weights = load_tensors(run_dir / "best.safetensors", "model.")
    kept = kept_epoch(history)  # the epoch of best.safetensors, which the test accuracy scored
    return {"run": run_dir.name, "model": config.model, "data": Path(config.data).name, "epochs": len(history),
            "training_seconds": history[-1]["time"], "parameters": sum(t.numel() for t in weights.values()),
            "best_val_accuracy": kept["val_accuracy"], "kept_epoch": kept["epoch"], "test_accuracy": test}


@drawn_in_language
def plot_comparison(rows: list[dict], path: Path) -> None:
    """Each run's test accuracy (validation where it has no test split) against its training time."""
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    for r in rows:
        accuracy = r["test_accuracy"] if r["test_accuracy"] is not None else r["best_val_accuracy"]
        ax.scatter(r["training_seconds"] / 60, accuracy, s=60)
        ax.annotate(f"{r['run']}\n{accuracy:.1%}", (r["training_seconds"] / 60, accuracy), fontsize=8,
                    xytext=(6, 4), textcoords="offset points")
    ax.set_xlabel(tr("training time (minutes)"))
    ax.set_ylabel(tr("test accuracy (validation where no test split)"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.margins(y=0.15)
    # time from zero, so runs of about the same length look it; the extra third on the right holds the labels
    ax.set_xlim(0, max(r["training_seconds"] for r in rows) / 60 * 1.35 or 1)
    ax.set_title(tr("accuracy against training time"))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
