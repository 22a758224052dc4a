"""Decoded pictures on disk, so a folder of photos is decoded once, not once per run.

    $VISIONPATH_HOME/images/<H>x<W>x<C>/
        rows.u8       every cached picture as one fixed-size row of uint8 pixels (C×H×W), appended
        index.json    "path|bytes|mtime|HxWxC" -> row
    $VISIONPATH_HOME/images/headers.json    "path|bytes|mtime" -> [height, width, is grey], so choosing the size
                                            does not open every photo again
    $VISIONPATH_HOME/images/hashes.json     "path|bytes|mtime" -> sha256 of the file, for train's duplicate check

A picture's key is its absolute path, file size, modification time and the size it is decoded at: an edited
or replaced photo gets a new row, and nothing is ever read from the photo folder's own disk but the photos
(it may be read-only). Rows are appended first and the index is replaced atomically after them, so a crash or
a full disk leaves rows the index does not name, which the next writer cuts off: a half-written picture is
never read back.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ..console import say
from ..errors import VisionpathError
from .download import cache_home

DECODER_VERSION = 1  # bump when load_image changes what a file decodes to: old rows are then never read


def file_key(path: Path) -> str:
    """Absolute path, size and modification time: it changes whenever the file does."""
    try:
        stat = os.stat(path)
    except OSError:  # gone since the folder was listed: no cache entry matches, and decoding will say why
        return f"{os.path.abspath(path)}|missing"
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


def image_key(path: Path, size: tuple[int, int], channels: int) -> str:
    return f"{file_key(path)}|{size[0]}x{size[1]}x{channels}"


def read_file_cache(name: str) -> dict:
    """$VISIONPATH_HOME/images/<name>.json: facts about files (headers, content hashes) by file_key."""
    try:
        return json.loads((Path(cache_home()) / "images" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}


def write_file_cache(name: str, facts: dict) -> None:
    """Replace <name>.json atomically; a cache that cannot be written is only a slower next run."""
    path = Path(cache_home()) / "images" / f"{name}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(facts))
        os.replace(tmp, path)
    except OSError:
        pass


class ImageStore:
    """The cached rows of one decoded size (height, width, channels)."""

    def __init__(self, size: tuple[int, int], channels: int, root: Path | None = None):
        self.shape = (channels, *size)
        self.row_bytes = channels * size[0] * size[1]
        self.dir = Path(root or cache_home()) / "images" / f"v{DECODER_VERSION}-{size[0]}x{size[1]}x{channels}"
        self.rows_path, self.index_path = self.dir / "rows.u8", self.dir / "index.json"

    def index(self) -> dict[str, int]:
        try:
            return json.loads(self.index_path.read_text())
        except (OSError, ValueError):  # none yet, or unreadable: start again (the rows are only valid with it)
            return {}

    def read_all(self) -> np.ndarray:
        """Every stored row, memory-mapped copy-on-write: writable (as torch wants) while the file never changes."""
        count = os.path.getsize(self.rows_path) // self.row_bytes if self.rows_path.exists() else 0
        if count == 0:
            return np.empty((0, *self.shape), np.uint8)
        return np.memmap(self.rows_path, np.uint8, "c", shape=(count, *self.shape))

    @staticmethod
    def consecutive(rows: list[int]) -> bool:
        return len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1 and bool((np.diff(rows) == 1).all())

    def read(self, rows: list[int]) -> np.ndarray:
        """The pictures in `rows`, as one N×C×H×W array: rows stored one after another are memory-mapped, read
        from disk as they are used; others (rare: two runs appended at once) are copied into memory."""
        if not rows:
            return np.empty((0, *self.shape), np.uint8)
        stored = self.read_all()
        return stored[rows[0]: rows[-1] + 1] if self.consecutive(rows) else np.array(stored[np.asarray(rows)])

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs caching at once take turns
            yield

    def add(self, items: dict[str, np.ndarray]) -> bool:
        """Append pictures (key -> C×H×W array) and then name them in the index; False if the cache cannot be
        written (the caller keeps the pictures itself). A key stored before is pointed at its new row."""
        if not items:
            return True
        try:
            with self._locked():
                index = self.index()
                known = len(index) and max(index.values()) + 1
                with open(self.rows_path, "ab") as f:
                    f.truncate(known * self.row_bytes)  # rows a crashed writer left unnamed
                    for i, (key, array) in enumerate(items.items()):
                        f.write(np.ascontiguousarray(array, np.uint8).tobytes())
                        index[key] = known + i
                    f.flush()
                    os.fsync(f.fileno())
                tmp = self.index_path.with_name(f".index.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(index))
                os.replace(tmp, self.index_path)
            return True
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise VisionpathError(f"the disk holding {self.dir} filled up while caching decoded pictures; "
                                      "nothing half-written will be used. Free some space, or point "
                                      "$VISIONPATH_HOME at a disk with room.") from None
            say(f"warning: cannot write the picture cache in {self.dir} ({e.strerror}); the pictures are kept in "
                "memory and will be decoded again next time. Set $VISIONPATH_HOME to a writable folder.")
            return False
