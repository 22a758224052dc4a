"""What training learns about its data in seconds, from the files' bytes: exact duplicates within and across
splits (the same photo trained on and scored on is a leak), and which pictures of a split training saw, so that a
score can be given on the pictures it never saw. The full check (near duplicates too) is check.py."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from ..i18n import tr
from .sets import imbalance
from .cache import file_hashes


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


def seen_in_training(train, images) -> torch.Tensor | None:
    """For each picture of the ImageSet `images`, whether the same file (the same bytes) is also among the
    ImageSet `train`'s: a leak, trained on and then scored on. None for pictures with no files (built-in
    datasets)."""
    if images is None or images.paths is None or train.paths is None:
        return None
    trained = set(file_hashes(train.paths))
    return torch.tensor([digest in trained for digest in file_hashes(images.paths)], dtype=torch.bool)
