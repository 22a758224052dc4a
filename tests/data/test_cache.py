"""The picture cache: damage of every kind is detected and repaired, never used; nothing mapped ever changes."""
import io
import json
import os
import time

import numpy as np
import torch
from PIL import Image

from conftest import make_folder
from visionpath.data import load_dataset
from visionpath.data.cache import (ImageStore, clear_cache, describe_cache, images_home, prune_cache, read_file_cache,
                                   verify_cache)
from visionpath.data.images import load_image


def decoded_fresh(data) -> bool:
    """Whether every picture of every split equals a fresh decode of its file."""
    size = tuple(data.train.images.shape[2:])
    return all(torch.equal(image, load_image(path, size, 3))
               for _, split in data.splits() for image, path in zip(split.images, split.paths))


def segments(store: ImageStore) -> list:
    return sorted(store.dir.glob("seg-*.u8"))


def test_a_second_load_maps_what_the_first_wrote(tiny_folder, capsys):
    load_dataset(tiny_folder)  # decodes, and writes the cache
    second = load_dataset(tiny_folder)
    assert second.folder.from_cache == 54 and decoded_fresh(second)
    assert "damaged" not in capsys.readouterr().out


def test_a_garbage_index_loses_nothing_and_never_touches_rows_in_use(tmp_path, capsys):
    """The reported bug: a run that cannot read index.json used to cut the rows file another run had mapped."""
    a = make_folder(tmp_path / "a", seed=1)
    b = make_folder(tmp_path / "b", seed=2)
    first = load_dataset(a)  # maps its rows and keeps them, as a long run does
    before = first.train.images.clone()
    store = ImageStore((12, 12), 3)
    store.index_path.write_text("{garbage")
    other = load_dataset(b)  # another folder, same size: the index is rebuilt
    assert "index.json was damaged (unreadable)" in capsys.readouterr().out
    assert torch.equal(first.train.images, before) and decoded_fresh(first) and decoded_fresh(other)
    assert load_dataset(b).folder.from_cache == 54


def test_a_truncated_segment_is_detected_and_rebuilt(tiny_folder, capsys):
    load_dataset(tiny_folder)
    store = ImageStore((12, 12), 3)
    victim = segments(store)[0]
    os.truncate(victim, victim.stat().st_size // 2)
    again = load_dataset(tiny_folder)
    assert "was damaged" in capsys.readouterr().out
    assert again.folder.from_cache < 54 and decoded_fresh(again)
    assert load_dataset(tiny_folder).folder.from_cache == 54


def test_zeroed_rows_are_detected_by_their_checksum_and_rebuilt(tiny_folder, capsys):
    load_dataset(tiny_folder)
    store = ImageStore((12, 12), 3)
    for victim in segments(store):
        with open(victim, "r+b") as f:
            f.seek(432)  # the second picture
            f.write(bytes(432))
    again = load_dataset(tiny_folder)
    assert "does not match its checksums" in capsys.readouterr().out
    assert again.folder.from_cache < 54 and decoded_fresh(again)


def test_edited_index_and_header_entries_fail_their_checksums(tiny_folder, capsys):
    load_dataset(tiny_folder)
    store = ImageStore((12, 12), 3)
    index = json.loads(store.index_path.read_text())
    key = next(iter(index["entries"]))
    index["entries"][key][1] += 1  # points at a neighbour's row: wrong pixels if it were believed
    store.index_path.write_text(json.dumps(index))
    headers_path = images_home() / "headers.json"
    headers = json.loads(headers_path.read_text())
    for value in headers["entries"].values():
        value[0] = [16, 16, True]  # wrong sizes: training would run at 16×16 grey
    headers_path.write_text(json.dumps(headers))
    again = load_dataset(tiny_folder)
    out = capsys.readouterr().out
    assert "headers.json was damaged" in out and "1 of 54 entries unusable" in out
    assert again.input_shape == (3, 12, 12) and decoded_fresh(again)
    assert len(read_file_cache("headers")) == 54  # read again and stored whole


def test_a_photo_replaced_with_the_same_size_and_time_is_decoded_again(tiny_folder):
    load_dataset(tiny_folder)
    photo = tiny_folder / "train" / "ant" / "0.png"
    stat = photo.stat()
    buffer = io.BytesIO()
    Image.fromarray(np.full((12, 12, 3), 200, np.uint8)).save(buffer, format="PNG")
    other = buffer.getvalue()
    photo.write_bytes(other + bytes(stat.st_size - len(other)))  # other pixels, padded to the same length
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and given the old modification time
    assert (photo.stat().st_size, photo.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    again = load_dataset(tiny_folder)
    assert again.folder.from_cache == 53 and decoded_fresh(again)
    assert int(again.train.images[again.train.paths.index(str(photo))].float().mean()) == 200


def test_prune_clear_and_verify_are_safe_while_rows_are_mapped(tmp_path):
    root = make_folder(tmp_path / "grows")
    first = load_dataset(root)
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(root / "train" / "ant" / "new.png")
    load_dataset(root)  # the train split is written again whole: its old segment is no longer named
    store = ImageStore((12, 12), 3)
    assert len(segments(store)) == 3  # the superseded one was deleted as soon as nothing named it
    assert decoded_fresh(first)  # ... while `first` still reads it through its map
    assert "54 pictures" not in describe_cache() and "55 pictures" in describe_cache()
    assert verify_cache() == []
    prune_cache()
    assert clear_cache() > 0 and segments(store) == []
    assert decoded_fresh(first)
    assert load_dataset(root).folder.from_cache == 0


def test_verify_finds_damage_that_no_run_has_met_yet(tiny_folder):
    load_dataset(tiny_folder)
    store = ImageStore((12, 12), 3)
    victim = segments(store)[-1]
    with open(victim, "r+b") as f:
        f.write(b"\x07" * 10)  # the first picture's top-left corner was 255
    assert verify_cache() == [str(victim)] and not victim.exists()


def test_leftovers_of_a_killed_writer_are_removed_and_said(tiny_folder, capsys):
    load_dataset(tiny_folder)
    store = ImageStore((12, 12), 3)
    dead = store.dir / ".seg-0123.999999999.abcd.tmp"  # no process has that pid
    dead.write_bytes(b"half a picture")
    time.sleep(0.01)
    make_folder(tiny_folder.parent / "other", seed=3)
    load_dataset(tiny_folder.parent / "other")
    assert not dead.exists() and "left by a process that was stopped" in capsys.readouterr().out


def test_a_segment_touched_but_intact_is_checked_and_kept(tiny_folder, capsys):
    load_dataset(tiny_folder)
    for segment in segments(ImageStore((12, 12), 3)):
        os.utime(segment, ns=(1, 1))  # its stamp no longer matches: the CRCs decide
    again = load_dataset(tiny_folder)
    assert again.folder.from_cache == 54 and "damaged" not in capsys.readouterr().out and decoded_fresh(again)
