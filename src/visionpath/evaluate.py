"""Evaluation: loss, accuracy, per-class precision/recall/F1 and the confusion matrix of a model on one split.

Metrics are computed from tensors (a model's scores and the true labels), so the same code scores training's
validation epochs, the test split at the end, `visionpath evaluate` and the report.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import ImageSet
from .data.leaks import Seen
from .files import atomic_write
from .i18n import tr
from .models import logits_in_batches
from .report import plot_confusion


@dataclass
class Evaluation:
    split: str
    classes: list[str]
    loss: float
    accuracy: float
    confusion: torch.Tensor          # int64 K×K: true class on rows, predicted class on columns
    predictions: torch.Tensor        # predicted class of each image
    probabilities: torch.Tensor      # softmax of each image's scores
    # the same scores on the pictures of this split that training did not see (the same file, or a near copy a
    # data check found, in train), where it saw some: the score a leak does not inflate; `seen` counts the others,
    # `seen_near` those of them it saw only as a near copy; `near_looked_for`: whether a data check had looked for
    # near copies (before one has, only the same file counts)
    unseen: Evaluation | None = None
    seen: int = 0
    seen_near: int = 0
    near_looked_for: bool = True
    _confusion_png: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def per_class(self) -> list[dict]:
        """precision (of the images predicted as the class, how many are it), recall (of the images of the class,
        how many were found), F1 (their harmonic mean) and support (images of the class)."""
        rows = []
        for k, name in enumerate(self.classes):
            tp = self.confusion[k, k].item()
            predicted, actual = self.confusion[:, k].sum().item(), self.confusion[k].sum().item()
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append({"class": name, "precision": precision, "recall": recall, "f1": f1, "support": actual})
        return rows

    @property
    def macro_f1(self) -> float:
        present = [r for r in self.per_class if r["support"]]
        return sum(r["f1"] for r in present) / max(1, len(present))

    @property
    def balanced_accuracy(self) -> float:
        present = [r for r in self.per_class if r["support"]]
        return sum(r["recall"] for r in present) / max(1, len(present))

    def table(self) -> str:
        width = max(12, *(len(c) for c in self.classes))
        lines = [tr("{split}: loss {loss:.4f} · accuracy {accuracy:.2%} · balanced accuracy {balanced_accuracy:.2%} "
                    "· macro-F1 {macro_f1:.4f} ({sum:,} images)",
                    split=self.split, loss=self.loss, accuracy=self.accuracy,
                    balanced_accuracy=self.balanced_accuracy, macro_f1=self.macro_f1, sum=int(self.confusion.sum())),
                 tr("  precision  recall     f1  support")]
        for r in self.per_class:
            lines.append(f"{r['class']:<{width}}  {r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:.4f}  "
                         f"{r['support']:7d}")
        if self.seen:
            lines.append(self.leak_line())
        return "\n".join(lines)

    def leak_line(self) -> str:
        """What the pictures also in train did to the score (only when some are)."""
        how = (tr("the same file") if not self.seen_near else
               tr("{exact:,} the same file, {near:,} a near copy that `visionpath data check` found",
                  exact=self.seen - self.seen_near, near=self.seen_near))
        if not self.near_looked_for:
            how += tr("; near copies not looked for yet: `visionpath data check` finds them, and scores leave them "
                      "out once it has")
        if self.unseen is None:
            return tr("every one of the {seen:,} {split} pictures is also in train ({how}): this score says nothing "
                      "about new pictures; `visionpath data split` makes a clean split.",
                      seen=self.seen, split=self.split, how=how)
        return tr("{seen:,} {split} pictures are also in train ({how}), so the score above may be inflated: on the "
                  "{n:,} not seen in training, accuracy {accuracy:.2%} · balanced accuracy {balanced_accuracy:.2%} "
                  "(`visionpath data check` lists them)",
                  seen=self.seen, split=self.split, how=how, n=int(self.unseen.confusion.sum()),
                  accuracy=self.unseen.accuracy, balanced_accuracy=self.unseen.balanced_accuracy)

    def confusion_png(self) -> bytes:
        """The confusion matrix drawn (counts, titled with the split's accuracy), once: the run folder's PNG and the
        report's first matrix are the same picture."""
        if self._confusion_png is None:
            buffer = io.BytesIO()
            plot_confusion(self.confusion, self.classes, buffer, scored=(self.split, self.accuracy))
            self._confusion_png = buffer.getvalue()
        return self._confusion_png

    def save(self, run_dir: Path) -> None:
        """<split>_metrics.json, confusion_matrix[_<split>].csv and .png in the run folder."""
        suffix = "" if self.split == "test" else f"_{self.split}"
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["true \\ predicted"] + self.classes)
        for name, row in zip(self.classes, self.confusion.tolist()):
            writer.writerow([name] + row)
        atomic_write(run_dir / f"confusion_matrix{suffix}.csv", text.getvalue())
        atomic_write(run_dir / f"confusion_matrix{suffix}.png", self.confusion_png())
        atomic_write(run_dir / f"{self.split}_metrics.json", json.dumps(
            {"split": self.split, "loss": self.loss, "accuracy": self.accuracy,
             "balanced_accuracy": self.balanced_accuracy, "macro_f1": self.macro_f1,
             "per_class": self.per_class, "confusion": self.confusion.tolist(),
             **({"seen_in_training": self.seen, "seen_as_near_copy": self.seen_near,
                 "near_copies_looked_for": self.near_looked_for,
                 "unseen": None if self.unseen is None else {
                 "pictures": int(self.unseen.confusion.sum()), "accuracy": self.unseen.accuracy,
                 "balanced_accuracy": self.unseen.balanced_accuracy, "macro_f1": self.unseen.macro_f1}}
                if self.seen else {})}, indent=2))


def evaluate_images(model: torch.nn.Module, images: ImageSet, classes: list[str], mean: list[float],
                    std: list[float], device: torch.device, split: str = "test", bf16: bool = False,
                    seen: Seen | None = None) -> Evaluation:
    """The model's evaluation on a split of pictures (uint8, scaled with mean and std as it was trained); `seen`:
    which of them training saw (data.leaks.seen_in_training), to score the others apart."""
    logits = logits_in_batches(model, images.images, mean, std, device, bf16=bf16)
    return evaluate_logits(logits, images.labels, classes, split, seen)


def evaluate_logits(logits: torch.Tensor, labels: torch.Tensor, classes: list[str], split: str,
                    seen: Seen | None = None) -> Evaluation:
    """The evaluation of scores (one row per picture) against the true labels; with `seen` (which pictures
    training saw), also of the pictures not seen in training, where some were."""
    evaluation = _evaluation(logits, labels, classes, split)
    if seen is not None and bool(seen.mask.any()):
        mask = seen.mask
        evaluation.seen, evaluation.seen_near = int(mask.sum()), seen.near
        evaluation.near_looked_for = seen.near_looked_for
        if not bool(mask.all()):
            evaluation.unseen = _evaluation(logits[~mask.to(logits.device)], labels[~mask.to(labels.device)],
                                            classes, split)
    return evaluation


def _evaluation(logits: torch.Tensor, labels: torch.Tensor, classes: list[str], split: str) -> Evaluation:
    logits, labels = logits.float().cpu(), labels.cpu()
    predictions = logits.argmax(1)
    k = len(classes)
    confusion = torch.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    return Evaluation(split, classes, F.cross_entropy(logits, labels).item(),
                      (predictions == labels).sum().item() / len(labels),  # counted: a float32 mean is off by 1e-8
                      confusion, predictions, logits.softmax(1))
