"""Writing files so that nothing half-written is ever read back as good, and the lock that keeps two processes
from changing one folder at once (the picture cache, a study's workers)."""
from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import VisionpathError
from .i18n import tr


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file opened for writing whose contents replace `path` when the block ends: written under a temporary name
    beside it, flushed to disk, then renamed, so readers see the old file or the new, never part of one. If the
    block fails (or the process dies), the temporary file goes and `path` is as it was; OSError passes through."""
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Replace `path` with `data` atomically (see `replacing`); a write that fails is one sentence."""
    path = Path(path)
    try:
        with replacing(path) as f:
            # surrogateescape: a file name that is not valid UTF-8 is written back as the bytes it was read from
            f.write(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
    except OSError as e:
        raise write_error(path, e) from None


def json_text(value: object, indent: int | None = 2) -> str:
    """`value` as JSON that stays valid UTF-8 and readable (non-ASCII letters as they are): a name that is not valid
    UTF-8 (its bytes kept as lone surrogates, U+DC80-U+DCFF) is written as the JSON escape of each, which
    json.loads reads back to the same name, where its raw bytes would make the whole file unreadable to other tools."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return UNDECODED.sub(lambda m: f"\\u{ord(m[0]):04x}", text)  # only inside strings: JSON's syntax is ASCII


UNDECODED = re.compile("[\udc80-\udcff]")


def temporary_name(path: Path) -> Path:
    """A private name beside `path` to write it under: .<name>.<pid>.<random>.tmp (the pid tells whether the writer
    is still alive, so that a stopped writer's leftover can be told from a file being written)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def writer_gone(tmp: Path) -> bool:
    """Whether the process that was writing this temporary file has ended (killed, or crashed, before renaming)."""
    try:
        os.kill(int(tmp.name.split(".")[-3]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return True
    except PermissionError:
        return False
    return False


def remove_leftovers(folder: Path) -> int:
    """Delete the temporary files of writers that were stopped before they finished; returns how many."""
    gone = [p for p in Path(folder).glob(".*.tmp") if writer_gone(p)]
    for path in gone:
        path.unlink(missing_ok=True)
    return len(gone)


def write_error(path: Path, error: OSError) -> VisionpathError:
    """The sentence for a file that could not be written: a full disk, a missing or read-only folder."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return VisionpathError(tr("the disk holding {parent} is full: {name} was not written (any earlier version "
                                  "of it is kept whole). Free some space and run the command again.",
                                  parent=path.parent, name=path.name))
    return VisionpathError(tr("cannot write {path} ({strerror}); check that the folder exists and is writable.",
                              path=path, strerror=error.strerror))


def save_figure(fig, path, dpi: int) -> None:
    """A matplotlib figure as a PNG: to a file, written atomically, or to a binary stream."""
    if not isinstance(path, (str, os.PathLike)):
        fig.savefig(path, dpi=dpi, format="png")
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    atomic_write(path, buffer.getvalue())


@contextmanager
def locked(folder: Path, shared: bool = False) -> Iterator[None]:
    """The folder's lock file, taken shared (readers) or exclusively (writers). A reader of a cache it cannot
    write (a read-only home) reads without the lock: nobody can be changing it through this file system."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / "lock", "a")
    except OSError:
        if not shared:
            raise
        lock = None
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        if lock is not None:
            lock.close()
