"""Downloading files into the cache: checksummed, atomic (temporary file, then rename) and retried.

Nothing here is needed when the data is already on disk: the built-in datasets look for local copies first.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..console import progress_bar
from ..errors import VisionpathError

CHUNK = 1 << 20


class DownloadError(VisionpathError):
    """Every mirror failed; the message says why for each."""


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_home() -> Path:
    """Where visionpath keeps downloads and caches: $VISIONPATH_HOME, else ~/.cache/visionpath (XDG_CACHE_HOME respected)."""
    if os.environ.get("VISIONPATH_HOME"):
        return Path(os.environ["VISIONPATH_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "visionpath"


def offline() -> bool:
    """VISIONPATH_OFFLINE=1 forbids network access: missing data is then an error at once, not after time-outs."""
    return os.environ.get("VISIONPATH_OFFLINE", "") not in ("", "0")


def _fetch_once(url: str, tmp: Path, md5: str, timeout: float) -> None:
    """One attempt: stream url into tmp, checking the length the server announced and the checksum."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        expected = response.headers.get("Content-Length")
        expected = int(expected) if expected is not None else None
        digest, received = hashlib.md5(), 0
        with open(tmp, "wb") as f, progress_bar() as bar:
            task = bar.add_task(f"downloading {Path(url).name}", total=expected, status="")
            while True:
                try:
                    block = response.read(CHUNK)
                except http.client.IncompleteRead as e:  # the connection closed before Content-Length bytes came
                    raise ConnectionError(f"the transfer was cut off after {received + len(e.partial)} bytes") from None
                if not block:
                    break
                f.write(block)
                digest.update(block)
                received += len(block)
                bar.update(task, advance=len(block))
            f.flush()
            os.fsync(f.fileno())
    if expected is not None and received != expected:
        raise ConnectionError(f"the transfer was cut off after {received} of {expected} bytes")
    if digest.hexdigest() != md5:
        raise ValueError(f"checksum mismatch (md5 {digest.hexdigest()}, expected {md5}): the file is corrupted")


def download(urls: list[str] | str, dest: Path, md5: str, retries: int = 3, timeout: float = 30.0) -> Path:
    """Fetch the first of `urls` that works into `dest`, verified against `md5`.

    A file already at `dest` with the right checksum is used as it is. Each URL is tried `retries` times, waiting
    a little longer each time; the file appears at `dest` only once complete and verified, so an interrupted run
    never leaves a half-written file behind to be mistaken for a good one.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    if dest.exists() and md5sum(dest) == md5:
        return dest
    if offline():
        raise DownloadError(f"{dest.name} is not in the cache and VISIONPATH_OFFLINE is set, so it was not downloaded.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    failures = []
    try:
        for url in urls:
            for attempt in range(1, retries + 1):
                try:
                    _fetch_once(url, tmp, md5, timeout)
                    os.replace(tmp, dest)
                    return dest
                except (OSError, ValueError, http.client.HTTPException) as e:
                    reason = e.reason if isinstance(e, urllib.error.URLError) else e
                    failures.append(f"{url} (try {attempt}): {reason}")
                    if isinstance(e, urllib.error.HTTPError) and e.code == 404:
                        break  # the file is not there: retrying will not make it appear
                    if attempt < retries:
                        time.sleep(0.5 * attempt)
    finally:
        tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {dest.name}: " + "; ".join(failures))
