"""Checks of the settings that every command shares: numbers in range, places to write to. Each failure is one
sentence naming the flag, raised before any work starts (TrainConfig checks training's own settings)."""
from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import VisionpathError
from .i18n import tr


def check_number(flag: str, value, kind: type = int, low: float | None = None, high: float | None = None) -> None:
    """`value` is a finite number of `kind` (int: a whole number) within [low, high]."""
    whole = kind is int
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        raise VisionpathError(tr("{flag} must be {value} (got {value2!r}).",
                                 flag=flag, value=tr('a whole number') if whole else tr('a number'), value2=value))
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        span = (tr("between {low:g} and {high:g}", low=low, high=high) if high is not None
                else tr("at least {low:g}", low=low)) if low is not None \
            else tr("finite")
        raise VisionpathError(tr("{flag} must be {span} (got {value}).", flag=flag, span=span, value=value))


def check_output(flag: str, path: str | Path, make_folder: bool = False) -> None:
    """A file about to be written: its folder exists (or, with make_folder, is made now) and is writable, and it is
    not itself a folder."""
    path = Path(path)
    folder = path.parent
    if make_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise VisionpathError(tr("{flag} {path}: cannot make the folder {folder} ({strerror}).",
                                     flag=flag, path=path, folder=folder, strerror=e.strerror)) from None
    if path.is_dir():
        raise VisionpathError(tr("{flag} {path} is a folder; give the name of a file to write.",
                                 flag=flag, path=path))
    if not folder.is_dir():
        raise VisionpathError(tr("{flag} {path}: the folder {folder} does not exist; create it first, or write "
                                 "somewhere else.",
                                 flag=flag, path=path, folder=folder))
    if not os.access(folder, os.W_OK):
        raise VisionpathError(tr("{flag} {path}: the folder {folder} is not writable; write somewhere else.",
                                 flag=flag, path=path, folder=folder))


def check_folder(flag: str, path: str | Path) -> None:
    """A folder to read from exists."""
    if not Path(path).is_dir():
        raise VisionpathError(tr("{flag} {path} is not a folder.", flag=flag, path=path))


def check_project(project: str | Path) -> None:
    """The folder that will hold run folders: a folder (or nothing yet, under a writable folder)."""
    path = Path(project)
    if path.exists() and not path.is_dir():
        raise VisionpathError(tr("--project {path} is a file; give a folder to hold the run folders.", path=path))
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise VisionpathError(tr("--project {path}: {existing} is not writable; give a folder you can write in.",
                                 path=path, existing=existing))
