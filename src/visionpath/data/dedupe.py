"""`visionpath data dedupe`: a clean copy of a folder whose splits leak, the original untouched.

Every group of the same picture that crosses splits (the same file, or a near duplicate: what `data check` calls a
leak) goes to train, in its classes, so that validation and test hold only pictures training never sees; the extra
copies of a file within one class of one split are left out. Pictures of one file under two classes are copied as
they are: which label is right is for a person to say (`data check` lists them).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

from ..console import quietly
from ..errors import VisionpathError
from ..i18n import tr
from ..options import Option, checked
from .check import check_data
from .layout import find_splits


@checked
def dedupe_folder(source: Annotated[str | Path, Option("a folder of train/ validation/ test/ class folders",
                                                       positional=True)],
                  destination: Annotated[str | Path, Option("a new folder for the clean copy", positional=True)]
                  ) -> dict[str, int]:
    """Copy the folder `source` (train/ validation/ test/ of class folders) to `destination` with each group of
    duplicates that crosses splits moved into train, and the extra copies of a file within one class left out.
    Returns how many pictures were copied, moved to train, and left out."""
    source, destination = Path(source), Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise VisionpathError(tr("{destination} already exists and is not empty; choose a new folder, so nothing in "
                                 "it is overwritten.", destination=destination))
    if destination.resolve().is_relative_to(source.resolve()):
        raise VisionpathError(tr("{destination} is inside {source}; choose a folder outside it, so the copy is not "
                                 "read as part of the folder.", destination=destination, source=source))
    splits = find_splits(source)
    with quietly():
        report = check_data(source)
    to_train = {p for f in report.findings if f.kind in ("exact-leak", "near-leak") for p in f.paths}
    extra = {p for f in report.findings if f.kind == "exact-within" for p in sorted(f.paths)[1:]}
    counts = {"copied": 0, "moved to train": 0, "left out": len(extra)}
    for record in report.pictures:
        path = Path(record["path"])
        if record["path"] in extra:
            continue
        relative = path.relative_to(splits[record["split"]])  # <class>/<file>
        if record["path"] in to_train and record["split"] != "train":
            target = destination / splits["train"].relative_to(source) / relative
            target = target.with_name(f"{target.stem}.from-{record['split']}{target.suffix}")  # no clash
            counts["moved to train"] += 1
        else:
            target = destination / splits[record["split"]].relative_to(source) / relative
            counts["copied"] += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return counts

