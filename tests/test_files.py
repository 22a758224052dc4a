"""Atomic writes: a reader sees the old file or the new one, never part of one."""
import pytest

from visionpath import files
from visionpath.errors import VisionpathError


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.csv"
    files.atomic_write(target, "old\n")
    assert target.read_text() == "old\n"

    def full_disk(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(VisionpathError, match="disk holding .* is full: results.csv was not written"):
        files.atomic_write(target, "new, but cut off\n")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["results.csv"]
    monkeypatch.undo()
    files.atomic_write(target, b"bytes too\n")
    assert target.read_bytes() == b"bytes too\n"


def test_json_text_stays_valid_utf8_and_reads_back_names_that_are_not():
    """A name whose bytes are not UTF-8 (kept by Python as lone surrogates) is written as JSON escapes, so the file
    is valid UTF-8 for any tool and json.loads gives the same name back; other letters stay as they are."""
    import json
    import os
    from visionpath.files import json_text
    odd = os.fsdecode(b"caf\xe9")
    text = json_text({"classes": [odd, "ねこ"]})
    assert json.loads(text.encode("utf-8").decode("utf-8")) == {"classes": [odd, "ねこ"]}
    assert "\\udce9" in text and "ねこ" in text
