"""Where visionpath talks to the person: one rich console, and progress bars only when someone is watching."""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(highlight=False)


def printable(text: str) -> str:
    """File names that are not valid UTF-8 reach Python with their bytes kept as lone surrogates, which no
    terminal can print: shown with U+FFFD in their place."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def silent() -> bool:
    """True in every process but the first of a run that torchrun started: one process speaks for them all."""
    return os.environ.get("RANK", "0") != "0" and "LOCAL_RANK" in os.environ


_quiet = threading.local()  # how many `quietly` blocks this thread has open


@contextmanager
def quietly() -> Iterator[None]:
    """say() prints nothing inside, in this thread (progress bars still show): a search's trials, each told in one
    line instead of a run's whole account; the studio's data check, in its own thread, while the server speaks."""
    _quiet.depth = getattr(_quiet, "depth", 0) + 1
    try:
        yield
    finally:
        _quiet.depth -= 1


def say(message: str) -> None:
    if not silent() and not getattr(_quiet, "depth", 0):
        console.print(printable(message), markup=False, soft_wrap=True)


def padded(text: str, width: int) -> str:
    """`text` left-aligned in `width` columns of a terminal, where a Japanese character takes two."""
    return text + " " * max(0, width - cell_len(text))


def interactive() -> bool:
    """True when stdout is a terminal: then we draw progress bars; otherwise we log one line per epoch."""
    return sys.stdout.isatty() and console.is_terminal


def progress_bar(transient: bool = True, enabled: bool = True) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not (enabled and interactive()) or silent(),
    )

