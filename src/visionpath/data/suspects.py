"""Training pictures whose label the model disputes: likely labelling mistakes, found from the frozen features stage 1
computes anyway.

Each training picture is predicted by a linear head that never saw it: the pictures are dealt into FOLDS folds,
and a head fitted on the other folds predicts each fold (out-of-fold predictions, seconds on a few thousand
pictures). A picture is disputed when that head gives another class at least the confidence it gives, on
average, the pictures labelled with that class (a per-class threshold, as "confident learning" sets it: Northcutt
et al. 2021), or CONFIDENT, whichever is lower, and the list is ranked by how little the head believes the given
label. A picture disputed is worth
a look, not proof of a mistake: an odd photo of its class is disputed too.
"""
from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Callable

import torch

from ..files import atomic_write

FOLDS = 5
TRUSTED = 0.8    # below this share of the labels agreed with, the list holds many correct labels: said so
HEAD_STEPS = 300  # full-batch steps of a linear head: converged on the benchmark folders (the loss moves < 1e-4 by then)
CONFIDENT = 0.8  # another class this likely is a confident dispute, even where its pictures average more
SUSPECTS_FILE = "suspects.csv"


def fit_head(features: torch.Tensor, labels: torch.Tensor, classes: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """A linear head fitted on frozen `features` (N×F, on the device) of pictures with `labels`: standardised
    features and a softmax with a little weight decay (logistic regression), full-batch from zero (the fit is
    convex: the same answer every time). Returns features -> class probabilities."""
    centre, spread = features.mean(0), features.std(0).clamp_min(1e-6)
    head = torch.nn.Linear(features.shape[1], classes).to(features.device)
    for parameter in head.parameters():
        torch.nn.init.zeros_(parameter)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=1e-3)
    standardised = (features - centre) / spread
    for _ in range(HEAD_STEPS):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(head(standardised), labels).backward()
        optimizer.step()

    def probabilities(pictures: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return head((pictures - centre) / spread).softmax(1)
    return probabilities


@dataclass(frozen=True)
class Disputed:
    """A training picture whose given label the out-of-fold head disputes."""
    path: str
    given: str
    predicted: str
    given_probability: float      # how much the head believes the given label (low: disputed hard)
    predicted_probability: float


def out_of_fold(features: torch.Tensor, labels: torch.Tensor, classes: int, seed: int = 0) -> torch.Tensor:
    """N×classes probabilities, each row from a head fitted on the folds the picture is not in."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    probabilities = torch.zeros(len(labels), classes)
    for fold in order.chunk(min(FOLDS, len(labels))):
        rest = torch.ones(len(labels), dtype=torch.bool)
        rest[fold] = False
        rest = rest.to(features.device)
        head = fit_head(features[rest], labels.to(features.device)[rest], classes)
        probabilities[fold] = head(features[fold.to(features.device)]).float().cpu()
    return probabilities


def disputed_labels(features: torch.Tensor, labels: torch.Tensor, classes: list[str], paths: list[str],
                    seed: int = 0) -> tuple[list[Disputed], float]:
    """(The training pictures whose label the out-of-fold head disputes, the most disputed first (see above); the
    share of the labels the head agrees with, which says how much the list can be trusted: where the frozen
    features fit the pictures poorly, the head is often confidently wrong about correct labels too.)"""
    with torch.random.fork_rng(devices=[]):  # the run's own random numbers are left as they were
        p = out_of_fold(features.float(), labels, len(classes), seed)
    given = p[torch.arange(len(labels)), labels]
    thresholds = torch.stack([p[labels == k, k].mean() if (labels == k).any() else torch.tensor(1.0)
                              for k in range(len(classes))])
    predicted = p.argmax(1)
    disputed = (predicted != labels) & (p.max(1).values >= thresholds.clamp_max(CONFIDENT)[predicted])
    order = [i for i in given.argsort().tolist() if disputed[i]]
    return [Disputed(paths[i], classes[labels[i]], classes[predicted[i]], round(given[i].item(), 4),
                     round(p[i, predicted[i]].item(), 4)) for i in order], (predicted == labels).float().mean().item()


def write_suspects(run_dir: Path, disputed: list[Disputed]) -> None:
    """run_dir/suspects.csv: one row per disputed picture, the most disputed first."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([f.name for f in fields(Disputed)])
    writer.writerows(astuple(d) for d in disputed)
    atomic_write(run_dir / SUSPECTS_FILE, text.getvalue())


def read_suspects(run_dir: Path) -> list[Disputed] | None:
    """What write_suspects wrote, or None for a run that did not look (a model from scratch, an older run)."""
    path = Path(run_dir) / SUSPECTS_FILE
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return [Disputed(r["path"], r["given"], r["predicted"], float(r["given_probability"]),
                         float(r["predicted_probability"])) for r in csv.DictReader(f)]
