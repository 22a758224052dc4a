"""Evaluation: loss, accuracy, per-class precision/recall/F1 and the confusion matrix of a model on one split."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import ImageSet
from .models import logits_in_batches
from .report import diagnose, plot_confusion


@dataclass
class Evaluation:
    split: str
    classes: list[str]
    loss: float
    accuracy: float
    confusion: torch.Tensor          # int64 K×K: true class on rows, predicted class on columns
    predictions: torch.Tensor        # predicted class of each image
    probabilities: torch.Tensor      # softmax of each image's scores

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
        lines = [f"{self.split}: loss {self.loss:.4f} · accuracy {self.accuracy:.2%} · balanced accuracy "
                 f"{self.balanced_accuracy:.2%} · macro-F1 {self.macro_f1:.4f} ({int(self.confusion.sum()):,} images)",
                 f"{'class':<{width}}  precision  recall     f1  support"]
        for r in self.per_class:
            lines.append(f"{r['class']:<{width}}  {r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:.4f}  "
                         f"{r['support']:7d}")
        return "\n".join(lines)

    def save(self, run_dir: Path) -> None:
        """<split>_metrics.json, confusion_matrix[_<split>].csv and .png in the run folder."""
        suffix = "" if self.split == "test" else f"_{self.split}"
        with open(run_dir / f"confusion_matrix{suffix}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted"] + self.classes)
            for name, row in zip(self.classes, self.confusion.tolist()):
                writer.writerow([name] + row)
        plot_confusion(self.confusion, self.classes, run_dir / f"confusion_matrix{suffix}.png",
                       title=f"{self.split}: accuracy {self.accuracy:.2%}")
        (run_dir / f"{self.split}_metrics.json").write_text(json.dumps(
            {"split": self.split, "loss": self.loss, "accuracy": self.accuracy,
             "balanced_accuracy": self.balanced_accuracy, "macro_f1": self.macro_f1,
             "per_class": self.per_class, "confusion": self.confusion.tolist()}, indent=2))


def evaluate_images(model: torch.nn.Module, images: ImageSet, classes: list[str], mean: list[float],
                    std: list[float], device: torch.device, split: str = "test", bf16: bool = False) -> Evaluation:
    logits = logits_in_batches(model, images.images, mean, std, device, bf16=bf16)
    return evaluate_logits(logits, images.labels, classes, split)


def evaluate_logits(logits: torch.Tensor, labels: torch.Tensor, classes: list[str], split: str) -> Evaluation:
    logits, labels = logits.float().cpu(), labels.cpu()
    predictions = logits.argmax(1)
    k = len(classes)
    confusion = torch.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    return Evaluation(split, classes, F.cross_entropy(logits, labels).item(),
                      (predictions == labels).float().mean().item(), confusion, predictions, logits.softmax(1))


def _evaluate_split(run, split: str | None, data_dir: str | Path | None):
    """(Evaluation, the split's ImageSet, the Dataset): a run's data reloaded with its own settings (so the same
    validation split), scored with its best weights. split None: test, or validation where there is no test."""
    from .errors import VisionpathError
    from .train import load_run_data

    settings = run.settings
    model, meta = run.load_model()
    dataset = load_run_data(settings, data_dir)
    if dataset.classes != meta["classes"]:
        raise VisionpathError(f"the classes of {settings['data']} ({', '.join(dataset.classes)}) are not the ones "
                              f"{run.path} was trained on ({', '.join(meta['classes'])}).")
    splits = {"test": dataset.test, "validation": dataset.validation, "train": dataset.train}
    split = split or ("test" if dataset.test is not None else "validation")
    if split not in splits:
        raise VisionpathError(f"unknown split '{split}'; choose test, validation or train.")
    images = splits[split]
    if images is None:
        raise VisionpathError(f"{settings['data']} has no test split; add a test/ folder, or evaluate with "
                              "--split validation (optimistic: it chose the best epoch).")
    evaluation = evaluate_images(model, images, dataset.classes, meta["mean"], meta["std"], torch.device("cpu"), split)
    return evaluation, images, dataset


def evaluate_run(run, split: str = "test", data_dir: str | Path | None = None) -> Evaluation:
    """Reload a run's data (same settings, same validation split) and its best weights; report on `split`."""
    from .console import say

    evaluation, _, _ = _evaluate_split(run, split, data_dir)
    evaluation.save(run.path)
    say(evaluation.table())
    if run.history:
        say(diagnose(run.history, run.settings).text)
    suffix = "" if split == "test" else f"_{split}"
    say(f"confusion matrix: {run.path / f'confusion_matrix{suffix}.png'} (and .csv)")
    return evaluation


def report_run(run, data_dir: str | Path | None = None) -> Path:
    """Write the run's report.html, on the test split (validation when there is none)."""
    from .console import say
    from .report_html import write_report

    evaluation, images, dataset = _evaluate_split(run, None, data_dir)
    path = write_report(run.path, run.settings, run.history, evaluation, images, dataset.validation_from_train)
    say(f"report: {path}")
    return path
