"""Checks of the settings that every command shares: numbers in range, places to write to. Each failure is one
sentence naming the flag, raised before any work starts (TrainConfig checks training's own settings)."""
from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import VisionpathError


def check_number(flag: str, value, kind: type = int, low: float | None = None, high: float | None = None) -> None:
    """`value` is a finite number of `kind` (int: a whole number) within [low, high]."""
    whole = kind is int
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        raise VisionpathError(f"{flag} must be {'a whole number' if whole else 'a number'} (got {value!r}).")
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        span = (f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}") if low is not None \
            else "finite"
        raise VisionpathError(f"{flag} must be {span} (got {value}).")


def check_output(flag: str, path: str | Path, make_folder: bool = False) -> None:
    """A file about to be written: its folder exists (or, with make_folder, is made now) and is writable, and it is
    not itself a folder."""
    path = Path(path)
    folder = path.parent
    if make_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise VisionpathError(f"{flag} {path}: cannot make the folder {folder} ({e.strerror}).") from None
    if path.is_dir():
        raise VisionpathError(f"{flag} {path} is a folder; give the name of a file to write.")
    if not folder.is_dir():
        raise VisionpathError(f"{flag} {path}: the folder {folder} does not exist; create it first, or write "
                              "somewhere else.")
    if not os.access(folder, os.W_OK):
        raise VisionpathError(f"{flag} {path}: the folder {folder} is not writable; write somewhere else.")


def check_folder(flag: str, path: str | Path) -> None:
    """A folder to read from exists."""
    if not Path(path).is_dir():
        raise VisionpathError(f"{flag} {path} is not a folder.")


def check_project(project: str | Path) -> None:
    """The folder that will hold run folders: a folder (or nothing yet, under a writable folder)."""
    path = Path(project)
    if path.exists() and not path.is_dir():
        raise VisionpathError(f"--project {path} is a file; give a folder to hold the run folders.")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise VisionpathError(f"--project {path}: {existing} is not writable; give a folder you can write in.")
