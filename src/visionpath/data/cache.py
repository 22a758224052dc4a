"""Decoded pictures on disk, so a folder of photos is decoded once, not once per run; safe to share.

    $VISIONPATH_HOME/images/v2-<H>x<W>x<C>/
        seg-<id>.u8     pictures as fixed-size rows of uint8 pixels (C×H×W), one segment per split decoded;
                        written under a temporary name, then renamed: never changed again
        index.json      which segment and row holds each picture, and each segment's length and checksums
        lock            taken shared to read the index and map segments, exclusively to change them
    $VISIONPATH_HOME/images/headers.json   file key -> height, width, is grey (so choosing the size does not open
                                           every photo again)
    $VISIONPATH_HOME/images/hashes.json    file key -> sha256 of the file, for train's duplicate check
    $VISIONPATH_HOME/images/near-copies-1.json   sha256 -> the sha256s of its near copies that `data check`
                                           found, so that a score leaves them out as seen (data.leaks)

Several processes share this (runs, `predict`, `data check`). What makes that safe:
- A published segment is never modified: new pictures go to a new segment, written whole, flushed, and named by
  an atomic rename. A segment no entry refers to any more is deleted, but a process that has it memory-mapped
  keeps reading it (on POSIX an open file outlives its name), so no reader ever sees a row change under it.
- The index is changed under an exclusive lock and replaced atomically; readers take the lock shared while they
  read it and map the segments it names.
- Every reader checks what it uses: each index entry and each header carries a checksum of itself, and each
  segment its length, its stamp (size, modification and change time when published) and a CRC-32 of every
  CHECK_BYTES of rows, verified when the rows are mapped if the stamp changed (a write, a truncation), and all of
  them by `visionpath cache verify`. A damaged entry or segment is dropped, with one line saying so, and its
  pictures are decoded again.
- A picture's key is its absolute path, size, modification time and change time (ctime, which no program can set
  back): an edited or replaced photo gets a new row, even one given the old size and modification time.
Nothing is written to a photo folder: it may be read-only.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..console import say
from ..errors import VisionpathError
from ..files import locked, remove_leftovers, replacing, temporary_name
from ..i18n import tr
from .download import cache_home

DECODER_VERSION = 2  # bump when load_image or the layout here changes: old folders are then never read
CHECK_BYTES = 4 << 20  # rows covered by one CRC-32: a run checks only the chunks it maps, at about 3 GB/s
# the files of facts about files: headers and content hashes by file, and which files (by content hash) the data
# check found to be near copies of which (data.leaks; its number is the near check's version)
NEAR_COPIES = "near-copies-1"
FACT_FILES = ("headers", "hashes", NEAR_COPIES)


def images_home() -> Path:
    return Path(cache_home()) / "images"


def file_key(path: Path) -> str:
    """Absolute path, size, modification and change time: it changes whenever the file does."""
    try:
        stat = os.stat(path)
    except OSError:  # gone since the folder was listed: no cache entry matches, and decoding will say why
        return f"{os.path.abspath(path)}|missing"
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def image_key(path: Path, size: tuple[int, int], channels: int) -> str:
    return f"{file_key(path)}|{size[0]}x{size[1]}x{channels}"


def seal(key: str, value) -> str:
    """A checksum of one entry, stored beside it: an entry edited or damaged on disk no longer matches it."""
    return f"{zlib.crc32(json.dumps([key, value]).encode()):08x}"  # ASCII: \u-escapes even for undecodable names


_said: set[str] = set()


def say_once(text: str) -> None:
    """Damage is reported once per process, not once per split that meets it."""
    if text not in _said:
        _said.add(text)
        say(text)


def _write_json(path: Path, document: dict) -> None:
    with replacing(path) as f:
        f.write(json.dumps(document).encode("ascii"))


def _read_json(path: Path) -> tuple[dict | None, bool]:
    """(the document, or None; whether a file was there but could not be read as one)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, False
    except (OSError, ValueError):
        return None, True
    return (document, False) if isinstance(document, dict) else (None, True)


# ------------------------------------------------------------------------------ facts about files (headers, hashes)

def read_file_cache(name: str) -> dict:
    """$VISIONPATH_HOME/images/<name>.json: facts about files (headers, content hashes) by file_key. Entries whose
    checksum does not match are left out (they are read again from the files), with one line saying so."""
    path = images_home() / f"{name}.json"
    document, damaged = _read_json(path)
    entries = (document or {}).get("entries") if (document or {}).get("format") == DECODER_VERSION else {}
    if not isinstance(entries, dict):
        entries, damaged = {}, True
    facts = {key: value[0] for key, value in entries.items()
             if isinstance(value, list) and len(value) == 2 and value[1] == seal(key, value[0])}
    if damaged or len(facts) < len(entries):
        bad = len(entries) - len(facts)
        say_once(f"picture cache: {path} was damaged ({'unreadable' if damaged else f'{bad} bad entries'}); what it "
                 "held is read again from the pictures")
    return facts


def write_file_cache(name: str, new_facts: dict) -> None:
    """Add facts to <name>.json (merged with what other processes wrote meanwhile, under the lock); a cache that
    cannot be written is only a slower next run."""
    if not new_facts:
        return
    home = images_home()
    try:
        with locked(home):
            document, _ = _read_json(home / f"{name}.json")
            entries = (document or {}).get("entries") if (document or {}).get("format") == DECODER_VERSION else {}
            entries = entries if isinstance(entries, dict) else {}
            entries.update({key: [value, seal(key, value)] for key, value in new_facts.items()})
            _write_json(home / f"{name}.json", {"format": DECODER_VERSION, "entries": entries})
    except OSError:
        pass


def file_hashes(paths: list[str | Path]) -> list[str]:
    """Each file's SHA-256, kept in the picture cache: a second run does not read every photo again."""
    known = read_file_cache("hashes")
    learnt = {}
    for path in paths:
        key = file_key(Path(path))
        if key not in known:
            known[key] = learnt[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    write_file_cache("hashes", learnt)
    return [known[file_key(Path(path))] for path in paths]


# ------------------------------------------------------------------------------------------------ decoded pictures

@dataclass
class Found:
    """What the index knows of some pictures: for each, (segment, row) or None, and the segments mapped."""
    located: list[tuple[str, int] | None]
    maps: dict[str, np.ndarray] = field(default_factory=dict)


class ImageStore:
    """The cached rows of one decoded size (height, width, channels)."""

    def __init__(self, size: tuple[int, int], channels: int, root: Path | None = None):
        self.shape = (channels, *size)
        self.row_bytes = channels * size[0] * size[1]
        self.rows_per_check = max(1, CHECK_BYTES // self.row_bytes)
        self.dir = Path(root or images_home()) / f"v{DECODER_VERSION}-{size[0]}x{size[1]}x{channels}"
        self.index_path = self.dir / "index.json"

    # ---- reading
    def _index(self, quiet: bool = False) -> dict:
        """{"segments": {name: {"rows", "crc", "seal"}}, "entries": {key: [segment, row, seal]}}, with every entry
        that fails its checksum, or names a missing or damaged segment, left out (and said, unless quiet)."""
        document, damaged = _read_json(self.index_path)
        document = document or {}
        segments, entries = document.get("segments"), document.get("entries")
        if not isinstance(segments, dict) or not isinstance(entries, dict):
            segments, entries, damaged = {}, {}, damaged or bool(document)
        good_segments = {}
        for name, meta in segments.items():
            ok = isinstance(meta, dict) and \
                meta.get("seal") == seal(name, [meta.get("rows"), meta.get("crc"), meta.get("stamp")])
            if ok and self._segment_path(name).is_file() and \
                    os.path.getsize(self._segment_path(name)) == meta["rows"] * self.row_bytes:
                good_segments[name] = meta
            else:
                damaged = True
        good = {key: value for key, value in entries.items()
                if isinstance(value, list) and len(value) == 3 and value[0] in good_segments
                and value[2] == seal(key, value[:2]) and 0 <= value[1] < good_segments[value[0]]["rows"]}
        if (damaged or len(good) < len(entries)) and not quiet:
            what = f"{len(entries) - len(good)} of {len(entries)} entries unusable" if entries else "unreadable"
            say_once(f"picture cache: {self.index_path} was damaged ({what}); the pictures it named are decoded "
                     "again")
        return {"segments": good_segments, "entries": good}

    def _segment_path(self, name: str) -> Path:
        return self.dir / f"{name}.u8"

    def _map(self, name: str, rows: int, path: Path | None = None) -> np.ndarray:
        """A segment memory-mapped copy-on-write: writable (as torch wants) while the file never changes."""
        return np.memmap(path or self._segment_path(name), np.uint8, "c", shape=(rows, *self.shape))

    def find(self, keys: list[str]) -> Found:
        """Where the pictures with these keys are stored, with their segments mapped (under the shared lock, so
        no segment is deleted in between) and the chunks holding them checked against their CRCs."""
        if not self.index_path.exists():
            return Found([None] * len(keys))
        with locked(self.dir, shared=True):
            index = self._index()
            found = Found([None if (e := index["entries"].get(key)) is None else (e[0], e[1]) for key in keys])
            for name in {spot[0] for spot in found.located if spot}:
                found.maps[name] = self._map(name, index["segments"][name]["rows"])
        for name, rows in self._damaged(found, index).items():
            say_once(f"picture cache: {self._segment_path(name)} does not match its checksums (rows "
                     f"{rows[0]}-{rows[-1]} changed on disk); it is dropped and its pictures are decoded again")
            self.drop(name)
            found.located = [None if spot and spot[0] == name else spot for spot in found.located]
            del found.maps[name]
        return found

    def _damaged(self, found: Found, index: dict) -> dict[str, list[int]]:
        """{segment: [rows of a chunk that fails its CRC]} among the chunks holding the pictures found. A segment
        whose size, modification and change time are still those it was published with has not been written to
        since (no program can set a change time back), so its CRCs are checked only when that stamp differs, and
        by `visionpath cache verify`: a cached second load then costs no pass over its rows."""
        damaged = {}
        chunks = sorted({(spot[0], spot[1] // self.rows_per_check) for spot in found.located if spot})
        unchanged = {name for name in found.maps
                     if _stamp(self._segment_path(name)) == index["segments"][name]["stamp"]}
        for name, chunk in chunks:
            if name in damaged or name in unchanged:
                continue
            start = chunk * self.rows_per_check
            rows = found.maps[name][start: start + self.rows_per_check]
            if zlib.crc32(rows) != index["segments"][name]["crc"][chunk]:
                damaged[name] = [start, start + len(rows) - 1]
        return damaged

    @staticmethod
    def consecutive(found: Found) -> bool:
        """Whether the pictures are rows one after another of one segment (then they are mapped, not copied)."""
        spots = found.located
        return bool(spots) and all(spots) and len({s[0] for s in spots}) == 1 and \
            spots[-1][1] - spots[0][1] == len(spots) - 1 and all(b[1] - a[1] == 1 for a, b in zip(spots, spots[1:]))

    # ---- writing
    def new_segment(self) -> "SegmentWriter":
        return SegmentWriter(self)

    def publish(self, writer: "SegmentWriter", keys: list[str]) -> None:
        """Name the writer's rows in the index (key i -> row i), and delete segments nothing refers to any more."""
        with locked(self.dir):
            index = self._index(quiet=True)
            os.replace(writer.tmp, self._segment_path(writer.name))
            stamp = _stamp(self._segment_path(writer.name))  # after the rename, which may set the change time
            index["segments"][writer.name] = {"rows": writer.rows, "crc": writer.crcs, "stamp": stamp,
                                              "seal": seal(writer.name, [writer.rows, writer.crcs, stamp])}
            index["entries"].update({key: [writer.name, row, seal(key, [writer.name, row])]
                                     for row, key in enumerate(keys)})
            self._write_index(index)

    def drop(self, name: str) -> None:
        """Forget a damaged segment (its entries go with it)."""
        with locked(self.dir):
            index = self._index(quiet=True)
            index["segments"].pop(name, None)
            self._write_index(index)

    def _write_index(self, index: dict) -> None:
        """Write the index without entries of missing segments, then delete the segments it no longer names, and
        temporary files of writers that are gone. Called with the exclusive lock held."""
        used = {value[0] for value in index["entries"].values()}
        index["entries"] = {k: v for k, v in index["entries"].items() if v[0] in index["segments"]}
        index["segments"] = {name: meta for name, meta in index["segments"].items() if name in used}
        _write_json(self.index_path, index)
        for path in self.dir.glob("seg-*.u8"):
            if path.stem not in index["segments"]:
                path.unlink(missing_ok=True)
        if leftovers := remove_leftovers(self.dir):
            say_once(f"picture cache: removed {leftovers} half-written file(s) in {self.dir} left by a process that "
                     "was stopped while writing (they were never used)")

    def summary(self) -> dict:
        """Entries, segments and bytes in use, and bytes no entry refers to (what prune would reclaim)."""
        with locked(self.dir, shared=True):
            index = self._index(quiet=True)
            files = [p for p in self.dir.iterdir() if p.suffix in (".u8", ".tmp")]
        used = sum(meta["rows"] for meta in index["segments"].values()) * self.row_bytes
        total = sum(p.stat().st_size for p in files if p.exists())
        return {"entries": len(index["entries"]), "segments": len(index["segments"]), "bytes": total,
                "unused_bytes": max(0, total - used)}

    def verify(self) -> list[str]:
        """Check every segment's every chunk; drop the damaged ones. Returns what was dropped."""
        with locked(self.dir, shared=True):
            index = self._index()
            maps = {name: self._map(name, meta["rows"]) for name, meta in index["segments"].items()}
        bad = []
        for name, rows in maps.items():
            crcs = index["segments"][name]["crc"]
            if any(zlib.crc32(rows[i * self.rows_per_check: (i + 1) * self.rows_per_check]) != crc
                   for i, crc in enumerate(crcs)):
                bad.append(name)
                self.drop(name)
        self.prune()  # segments the index could not vouch for (wrong length, bad checksum of their entry) go too
        return bad

    def prune(self) -> None:
        with locked(self.dir):
            self._write_index(self._index(quiet=True))


def _stamp(path: Path) -> list[int] | None:
    """Size, modification and change time: any write to the file through the file system changes them."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


class SegmentWriter:
    """Rows appended to a private temporary file, checksummed as they go; `ImageStore.publish` names them."""

    def __init__(self, store: ImageStore):
        self.store = store
        self.name = f"seg-{uuid.uuid4().hex}"
        store.dir.mkdir(parents=True, exist_ok=True)
        self.tmp = temporary_name(store.dir / self.name)
        self.file = open(self.tmp, "wb")
        self.rows = 0
        self.crcs: list[int] = []

    def append(self, pictures: np.ndarray) -> None:
        """Write N×C×H×W uint8 pictures after the ones before."""
        per = self.store.rows_per_check
        pictures = np.ascontiguousarray(pictures, np.uint8)
        start = 0
        while start < len(pictures):
            room = per - self.rows % per  # rows left in the current checksum chunk
            part = pictures[start: start + room]
            if self.rows % per == 0:
                self.crcs.append(0)
            self.crcs[-1] = zlib.crc32(part, self.crcs[-1])
            self.file.write(part.tobytes())
            self.rows += len(part)
            start += len(part)

    def finish(self) -> np.ndarray:
        """Flush to disk and map the rows (before publishing: the map holds the file whatever happens to its name)."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if not self.rows:
            return np.empty((0, *self.store.shape), np.uint8)
        return self.store._map(self.name, self.rows, self.tmp)

    def read_back(self) -> np.ndarray:
        """The rows written so far, in memory (when the cache fails midway), and the temporary file removed."""
        self.file.close()
        rows = np.fromfile(self.tmp, np.uint8, count=self.rows * self.store.row_bytes)
        self.discard()
        return rows.reshape(self.rows, *self.store.shape)

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


def cache_write_failed(error: OSError, where: Path) -> None:
    """A full disk is one sentence that stops the load; other write failures (a read-only home) are a warning, and
    the caller keeps the pictures in memory instead."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        raise VisionpathError(tr("the disk holding {where} filled up while caching decoded pictures; nothing "
                                 "half-written will be used. Free some space, or point $VISIONPATH_HOME at a disk "
                                 "with room.",
                                 where=where)) from None
    say(tr("warning: cannot write the picture cache in {where} ({strerror}); the pictures are kept in memory and "
           "will be decoded again next time. Set $VISIONPATH_HOME to a writable folder.",
           where=where, strerror=error.strerror))


# ------------------------------------------------------------------------------------------- the whole cache

def stores() -> list[ImageStore]:
    """The picture stores of every decoded size, from the folder names."""
    found = []
    for folder in sorted(images_home().glob(f"v{DECODER_VERSION}-*x*x*")):
        try:
            h, w, c = (int(x) for x in folder.name.split("-", 1)[1].split("x"))
        except ValueError:
            continue
        found.append(ImageStore((h, w), c))
    return found


def stale_folders() -> list[Path]:
    """Folders of older cache formats: never read, safe to remove."""
    return [p for p in images_home().glob("v*-*x*x*") if p.is_dir() and not p.name.startswith(f"v{DECODER_VERSION}-")]


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def remove_stale_folders() -> int:
    """Remove the folders of older cache formats; returns the bytes freed."""
    freed = 0
    for folder in stale_folders():
        freed += _bytes_under(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return freed


def clear_cache() -> int:
    """Remove every decoded picture, header, hash and near copy known (each store under its exclusive lock: a run
    that has mapped rows keeps reading them). Returns the bytes freed."""
    freed = 0
    for store in stores():
        with locked(store.dir):
            for path in store.dir.iterdir():
                if path.name != "lock":
                    freed += path.stat().st_size
                    path.unlink(missing_ok=True)
    freed += remove_stale_folders()
    home = images_home()
    if home.is_dir():
        with locked(home):
            for name in FACT_FILES:
                path = home / f"{name}.json"
                if path.exists():
                    freed += path.stat().st_size
                    path.unlink()
    return freed


def size_text(n: int) -> str:
    return f"{n / 1e3:,.1f} kB" if n < 1e6 else f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


def describe_cache() -> str:
    """What the picture cache holds, size by size, and what `prune` would reclaim."""
    lines = [f"picture cache in {images_home()}:"]
    reclaim = 0
    for store in stores():
        facts = store.summary()
        reclaim += facts["unused_bytes"]
        if not facts["bytes"]:
            continue
        c, h, w = store.shape
        lines.append(f"  {h}×{w} {'grey' if c == 1 else 'colour'}: {facts['entries']:,} pictures in "
                     f"{facts['segments']} segment(s), {size_text(facts['bytes'])}")
    for folder in stale_folders():
        size = _bytes_under(folder)
        reclaim += size
        lines.append(f"  {folder.name}: an older format, never read, {size_text(size)}")
    for name in FACT_FILES:
        path = images_home() / f"{name}.json"
        if path.is_file():
            lines.append(f"  {name}.json: {size_text(path.stat().st_size)}")
    if len(lines) == 1:
        lines.append("  empty")
    lines.append(f"`visionpath cache prune` would free {size_text(reclaim)}; `visionpath cache clear` empties it "
                 "(both are safe while runs are reading it)")
    return "\n".join(lines)


def prune_cache() -> int:
    """Remove rows no entry refers to, writers' leftovers and older formats. Returns the bytes freed."""
    freed = 0
    for store in stores():
        before = store.summary()["bytes"]
        store.prune()
        freed += before - store.summary()["bytes"]
    freed += remove_stale_folders()
    return freed


def verify_cache() -> list[str]:
    """Check every row of every store against its checksums; damaged segments are dropped (decoded again when
    next needed). Returns the damaged segments' paths."""
    return [str(store.dir / f"{name}.u8") for store in stores() for name in store.verify()]
