"""Writing files so that nothing half-written is ever read back as good."""
from __future__ import annotations

import io
import os
from pathlib import Path


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename: readers see the old file or the new,
    never part of one (a crash, a full disk or a Ctrl-C in between leaves the old one)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_figure(fig, path, dpi: int) -> None:
    """A matplotlib figure as a PNG: to a file, written atomically, or to a binary stream."""
    if not isinstance(path, (str, os.PathLike)):
        fig.savefig(path, dpi=dpi, format="png")
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    atomic_write(path, buffer.getvalue())
