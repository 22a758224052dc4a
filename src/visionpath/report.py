"""Pictures and words about a run: learning curves, the confusion matrix, and the end-of-training summary."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no window, works on a server
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def plot_curves(history: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch, training against validation, with the best epoch marked."""
    epochs = [r["epoch"] for r in history]
    best = max(history, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((ax_loss, "loss", "loss (cross-entropy)"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], "o-", label="training", color="tab:blue")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "o-", label="validation", color="tab:orange")
        ax.axvline(best["epoch"], color="grey", linestyle=":", label=f"best epoch ({best['epoch']})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    fig.suptitle(f"learning curves · best validation accuracy {best['val_accuracy']:.2%} at epoch {best['epoch']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(confusion: torch.Tensor, classes: list[str], path: Path, title: str = "") -> None:
    """True class on rows, predicted class on columns; each cell shows its count, coloured by the row's share."""
    k = len(classes)
    counts = confusion.float()
    shares = counts / counts.sum(1, keepdim=True).clamp_min(1)
    side = min(20, max(5, 0.55 * k + 2.5))
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                value = int(counts[i, j])
                ax.text(j, i, str(value), ha="center", va="center", fontsize=8 if k > 12 else 10,
                        color="white" if shares[i, j] > 0.5 else ("black" if value else "lightgrey"))
    tilt = k > 5 and max(len(c) for c in classes) > 3  # tilt long names only: digits read better upright
    ax.set_xticks(range(k), classes, rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_summary(run_dir: Path, settings: dict, history: list[dict], best: dict, test, validation_from_train: bool
                     ) -> str:
    """The plain-text account printed at the end of training and kept as summary.txt."""
    last = history[-1]
    lines = [f"run {run_dir}: {settings['model']} on {settings['data']}, {len(history)} epochs in {last['time']:.1f}s "
             f"({last['time'] / len(history):.2f}s per epoch)",
             f"best epoch {best['epoch']}: validation accuracy {best['val_accuracy']:.2%}, loss {best['val_loss']:.4f} "
             f"(these weights are in best.safetensors)",
             f"last epoch: training accuracy {last['train_accuracy']:.2%}, validation accuracy {last['val_accuracy']:.2%}"]
    if test is not None:
        lines.append(test.table())
        lines.append(f"confusion matrix: {run_dir / 'confusion_matrix.png'} (and .csv); "
                     f"learning curves: {run_dir / 'curves.png'}")
    else:
        note = " (held out from train)" if validation_from_train else ""
        lines.append(f"no test split: validation accuracy{note} is the only score, and it is optimistic because it "
                     f"chose the best epoch. Learning curves: {run_dir / 'curves.png'}")
    return "\n".join(lines)
