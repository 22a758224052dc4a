"""What training learns about its data in seconds, from the files' bytes: exact duplicates within and across
splits (the same photo trained on and scored on is a leak), and which pictures of a split training saw, so that a
score can be given on the pictures it never saw: the same file, or a near copy of one that the full check
(check.py, minutes on thousands of pictures) found and kept in the picture cache."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from ..i18n import tr
from .sets import imbalance
from .cache import NEAR_COPIES, file_hashes, read_file_cache, write_file_cache


def quick_check(dataset) -> str:
    """The fast part of the check, for the start of training: one line on what loading found, plus exact
    duplicates (same bytes) within and across splits, which a content hash finds in seconds."""
    named = {split: images.paths for split, images in (("train", dataset.train), ("validation", dataset.validation),
                                                       ("test", dataset.test))
             if images is not None and images.paths is not None}
    digests = file_hashes([path for paths in named.values() for path in paths])  # one read of the cache
    where = defaultdict(list)
    for split, digest in zip([split for split, paths in named.items() for _ in paths], digests):
        where[digest].append(split)
    repeated = [splits for splits in where.values() if len(splits) > 1]
    across = sum(1 for splits in repeated if len(set(splits)) > 1)
    counts = np.bincount(dataset.train.labels.numpy(), minlength=len(dataset.classes)).tolist()
    parts = [tr("{sum:,} pictures read", sum=sum(len(s) for s in where.values())),
             tr("{count} skipped", count=len(dataset.folder.unreadable)),
             tr("classes {value:.1f}:1 (largest to smallest)", value=imbalance(counts)),
             tr("{value} exact duplicate group(s) within a split", value=len(repeated) - across),
             tr("{across} across splits", across=across)
             + (tr(" (a leak: the same photo trained on and scored on)") if across else "")]
    return (tr("data check: {parts}. `visionpath data check {root}` also looks for near duplicates, tiny and odd "
               "files.",
               parts=tr("; ").join(parts), root=dataset.folder.root))


@dataclass
class Seen:
    """Which pictures of a split training saw: the same file is in train, or a near copy of one (the same picture
    resized, re-encoded or slightly edited) that `visionpath data check` found on this machine."""
    mask: torch.Tensor  # a bool per picture
    near: int           # how many of them training saw only as a near copy
    # whether a data check on this machine looked at every picture of the split and of train for near copies:
    # before one has, only the same file counts as seen
    near_looked_for: bool = True


def seen_in_training(train, images) -> Seen | None:
    """For each picture of the ImageSet `images`, whether training saw it: the same file (the same bytes) among
    the ImageSet `train`'s, or a near copy of one of them that a data check found (remember_near_copies). A leak,
    trained on and then scored on. None for pictures with no files (built-in datasets)."""
    if images is None or images.paths is None or train.paths is None:
        return None
    trained = set(file_hashes(train.paths))
    copies = read_file_cache(NEAR_COPIES)
    digests = file_hashes(images.paths)
    exact = [digest in trained for digest in digests]
    near = [not same and any(other in trained for other in copies.get(digest, ()))
            for digest, same in zip(digests, exact)]
    looked_for = all(digest in copies for digest in [*digests, *trained])
    return Seen(torch.tensor([a or b for a, b in zip(exact, near)], dtype=torch.bool), sum(near), looked_for)


def remember_near_copies(looked_at: Iterable[str], groups: Iterable[Iterable[str]]) -> None:
    """Keep in the picture cache which files (by content hash) are near copies of which: each group is one
    picture's files, and every file the check looked at has an entry (empty: no near copy), so that a score knows
    whether near copies were looked for. A score then leaves out a test picture whose near copy is in train."""
    known = read_file_cache(NEAR_COPIES)
    learnt = {digest: [] for digest in looked_at if digest not in known}
    for group in groups:
        members = set(group)
        for digest in members:
            together = sorted(members - {digest} | set(known.get(digest, ())))
            if together != known.get(digest):
                learnt[digest] = together
    write_file_cache(NEAR_COPIES, learnt)
