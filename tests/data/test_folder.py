"""Folder datasets: layouts, matching classes by name, junk, every layout mistake, unreadable files, the on-disk
picture cache, labels from a CSV, and splitting a folder."""
import errno
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_folder
from visionpath.data import folder, load_dataset, sample_folder, stratified_split
from visionpath.data.cache import ImageStore, SegmentWriter
from visionpath.data.layout import scan_folder
from visionpath.data.split import split_folder
from visionpath.data.images import load_image
from visionpath.errors import VisionpathError


def test_split_layout(tiny_folder):
    data = load_dataset(tiny_folder)
    assert data.classes == ["ant", "bee", "cat"]
    assert (len(data.train), len(data.validation), len(data.test)) == (30, 12, 12)
    assert data.input_shape == (3, 12, 12) and not data.validation_from_train


def test_val_and_valid_are_validation(tmp_path):
    for name in ("val", "valid"):
        root = make_folder(tmp_path / name, per_class={"train": 3, name: 2})
        assert len(load_dataset(root).validation) == 6


def test_plain_class_folders_get_a_stratified_seeded_validation_split(tmp_path):
    root = make_folder(tmp_path / "flat", per_class={"": 10})
    a, b = load_dataset(root, validation_split=0.2, seed=3), load_dataset(root, validation_split=0.2, seed=3)
    assert a.validation_from_train and len(a.validation) == 6
    assert torch.bincount(a.validation.labels).tolist() == [2, 2, 2]  # stratified
    assert a.validation.paths == b.validation.paths  # seeded
    assert not set(a.validation.paths) & set(a.train.paths)


def test_stratified_split_keeps_a_sample_of_every_class_on_both_sides():
    keep, held = stratified_split(torch.tensor([0] * 50 + [1] * 3), 0.1, seed=0)
    labels = torch.tensor([0] * 50 + [1] * 3)
    assert torch.bincount(labels[held]).tolist() == [5, 1] and torch.bincount(labels[keep]).tolist() == [45, 2]


def test_a_split_missing_a_class_does_not_shift_the_labels(tmp_path):
    root = make_folder(tmp_path / "p", per_class={"train": 3})
    make_folder(tmp_path / "p", classes=("ant", "cat"), per_class={"test": 2})
    # test/ lacks "bee": its cat pictures must keep label 2 (cat), not 1 (the second folder)
    classes, samples = scan_folder(root)
    labels = {p.parent.name: label for p, label in samples["test"]}
    assert classes == ["ant", "bee", "cat"] and labels == {"ant": 0, "cat": 2}


def test_junk_is_never_a_class_or_an_image(tiny_folder):
    (tiny_folder / "train" / ".ipynb_checkpoints").mkdir()
    (tiny_folder / "train" / "__MACOSX").mkdir()
    (tiny_folder / "train" / "ant" / ".DS_Store").write_bytes(b"\0\0")
    (tiny_folder / "train" / "ant" / "Thumbs.db").write_bytes(b"\0\0")
    (tiny_folder / "train" / "ant" / "._0.png").write_bytes(b"\0\0")  # macOS resource fork
    (tiny_folder / "train" / "ant" / "notes.txt").write_text("not an image")
    classes, samples = scan_folder(tiny_folder)
    assert classes == ["ant", "bee", "cat"] and len(samples["train"]) == 30


def test_mixed_sizes_and_grey(tmp_path):
    root = tmp_path / "mixed"
    for label, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for i, size in enumerate([(40, 30), (20, 50), (33, 33)]):
            Image.new("L", size, 50 * label).save(root / name / f"{i}.png")
    data = load_dataset(root)
    assert data.input_shape == (1, 64, 64)  # grey pictures stay one channel
    assert load_dataset(root, image_size=16).input_shape == (1, 16, 16)


@pytest.mark.parametrize("make, message", [
    (lambda r: r.mkdir(), "no class subfolders"),
    (lambda r: (r / "only").mkdir(parents=True) or Image.new("L", (4, 4)).save(r / "only" / "0.png"), "one class only"),
    (lambda r: make_folder(r, per_class={"train": 2}) and (r / "train" / "empty").mkdir(), "has no images"),
    (lambda r: make_folder(r, per_class={"train": 2}) and make_folder(r, classes=("dog",), per_class={"validation": 2}),
     "dog"),
    (lambda r: make_folder(r, per_class={"validation": 2}), "no train/"),
])
def test_layout_mistakes_get_a_clear_error(tmp_path, make, message):
    root = tmp_path / "bad"
    make(root)
    with pytest.raises(VisionpathError, match=message):
        load_dataset(root)


def broken_files(folder: Path) -> list[Path]:
    """A non-image with an image name, a truncated JPEG (its header reads fine) and random bytes."""
    picture = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(picture, "JPEG")
    paths = [folder / "notes.jpg", folder / "cut.jpg", folder / "noise.png"]
    paths[0].write_text("not a picture")
    paths[1].write_bytes(picture.getvalue()[:400])
    paths[2].write_bytes(bytes(range(256)) * 4)
    return paths


def test_unreadable_files_are_skipped_and_listed_or_stop_with_strict(tiny_folder, capsys):
    broken = broken_files(tiny_folder / "train" / "bee")
    data = load_dataset(tiny_folder)
    assert len(data.train) == 30 and sorted(p for p, _ in data.folder.unreadable) == sorted(map(str, broken))
    assert "skipped 3 unreadable file(s)" in capsys.readouterr().out
    with pytest.raises(VisionpathError, match="(?s)3 file\\(s\\) cannot be read.*--strict.*cut.jpg"):
        load_dataset(tiny_folder, strict=True)


def test_a_class_whose_pictures_are_all_unreadable_is_an_error(tmp_path):
    root = make_folder(tmp_path / "p", per_class={"train": 2})
    for f in (root / "train" / "cat").iterdir():
        f.write_text("garbage")
    with pytest.raises(VisionpathError, match="cat have no readable training pictures"):
        load_dataset(root)


def test_decoded_pictures_are_cached_on_disk_and_edits_invalidate_them(tiny_folder):
    first = load_dataset(tiny_folder)
    assert first.folder.from_cache == 0
    second = load_dataset(tiny_folder)
    assert second.folder.from_cache == 54 and torch.equal(first.train.images, second.train.images)
    edited = tiny_folder / "train" / "ant" / "0.png"
    Image.new("RGB", (12, 12), (255, 0, 0)).save(edited)
    os.utime(edited, ns=(1, 1))  # a different modification time, whatever the clock says
    third = load_dataset(tiny_folder)
    assert third.folder.from_cache == 53
    assert (third.train.images[third.train.paths.index(str(edited))] == torch.tensor([255, 0, 0]).view(3, 1, 1)).all()


def test_the_photo_folder_is_never_written_to(tiny_folder):
    before = sorted(p for p in tiny_folder.rglob("*"))
    load_dataset(tiny_folder)
    assert sorted(p for p in tiny_folder.rglob("*")) == before


def test_a_full_disk_while_caching_is_a_clean_error_and_leaves_nothing_half_written(tiny_folder, monkeypatch):
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)  # the rows are written, then the disk turns out to be full
    with pytest.raises(VisionpathError, match="filled up.*nothing half-written"):
        load_dataset(tiny_folder)
    monkeypatch.setattr(os, "fsync", real_fsync)
    again = load_dataset(tiny_folder)  # the rows written before the disk filled are never read back
    assert again.folder.from_cache == 0 and torch.equal(again.train.images, load_dataset(tiny_folder).train.images)


def test_labels_from_a_csv(tmp_path):
    root = make_folder(tmp_path / "flat", per_class={"": 4})
    rows = ["filename,label"] + [f"{c}/{i}.png,{c}" for c in ("ant", "bee", "cat") for i in range(4)]
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    data = load_dataset(root, labels=tmp_path / "labels.csv")
    assert data.classes == ["ant", "bee", "cat"] and len(data.train) + len(data.validation) == 12
    with_splits = ["file,class,split"] + [f"{c}/{i}.png,{c},{'test' if i == 3 else 'train'}"
                                          for c in ("ant", "bee", "cat") for i in range(4)]
    (tmp_path / "split.csv").write_text("\n".join(with_splits))
    assert len(load_dataset(root, labels=tmp_path / "split.csv").test) == 3


@pytest.mark.parametrize("rows, message", [
    (["filename,label", "ant/0.png,ant", "ant/9.png,ant", "bee/0.png,bee"], "names 1 file.*ant/9.png"),
    (["filename,label,split", "ant/0.png,ant,train", "bee/0.png,bee,train", "cat/0.png,cat,test"],
     "labelled cat, a class no training row has"),
    (["filename,label", "ant/0.png,", "bee/0.png,bee"], "lack a file name or a label"),
])
def test_a_bad_labels_csv_is_one_sentence(tmp_path, rows, message):
    root = make_folder(tmp_path / "flat", per_class={"": 2})
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    with pytest.raises(VisionpathError, match=message):
        load_dataset(root, labels=tmp_path / "labels.csv")


@pytest.mark.parametrize("name, message", [
    ("{outside}/secret.png", r"line 4 names .*secret.png, an absolute path; name files relative to the data folder"),
    ("../secret.png", r"line 4 names ../secret.png, which leads out of the data folder .*flat with '..'"),
    ("ant/../../secret.png", "which leads out of the data folder"),
    ("link.png", r"line 4 names link.png, a link to a file outside the data folder .*; copy the file into the "),
])
def test_a_labels_csv_names_only_files_inside_its_folder(tmp_path, name, message):
    """Each way out of the data folder is one sentence, before any picture is read; a file outside it would be read
    for training and shown in reports."""
    root = make_folder(tmp_path / "flat", per_class={"": 2})
    (tmp_path / "secret.png").write_bytes((root / "ant" / "0.png").read_bytes())
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    (root / "inner.png").symlink_to(root / "bee" / "1.png")  # a link that stays inside is a file like any other
    rows = ["filename,label", "ant/0.png,ant", "bee/0.png,bee", name.format(outside=tmp_path) + ",ant",
            "inner.png,bee"]
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    with pytest.raises(VisionpathError, match=message):
        load_dataset(root, labels=tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("\n".join(rows[:3] + rows[4:]))
    assert len(load_dataset(root, labels=tmp_path / "labels.csv").train.labels) == 2  # validation held out of 3


def test_a_file_listed_twice_with_two_labels_is_named(tmp_path):
    root = make_folder(tmp_path / "flat", per_class={"": 2})
    rows = ["filename,label", "ant/0.png,ant", "bee/0.png,bee", "./ant/0.png,bee", "ant/1.png,ant"]
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    with pytest.raises(VisionpathError, match=r"lists ./ant/0.png twice, on line 2 as ant \(train\) and on line 4 "
                                              r"as bee \(train\); keep the row with the right label"):
        load_dataset(root, labels=tmp_path / "labels.csv")
    rows[3] = "ant/0.png,ant"  # the same row twice: counted once
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    data = load_dataset(root, labels=tmp_path / "labels.csv")
    assert len(data.train) + len(data.validation) == 3


@pytest.mark.slow  # a near-duplicate check of every class: seconds
def test_split_folder_is_stratified_seeded_and_never_overwrites(tmp_path):
    raw = make_folder(tmp_path / "raw", per_class={"": 20})
    counts = split_folder(raw, tmp_path / "out", validation=0.15, test=0.15, seed=1)
    assert counts == {"train": 42, "validation": 9, "test": 9}
    data = load_dataset(tmp_path / "out")
    assert torch.bincount(data.test.labels).tolist() == [3, 3, 3]
    split_folder(raw, tmp_path / "again", seed=1)
    listing = lambda r: sorted(str(p.relative_to(r)) for p in r.rglob("*.png"))  # noqa: E731
    assert listing(tmp_path / "out") == listing(tmp_path / "again")
    with pytest.raises(VisionpathError, match="already exists"):
        split_folder(raw, tmp_path / "out")
    with pytest.raises(VisionpathError, match="already split"):
        split_folder(tmp_path / "out", tmp_path / "third")


@pytest.mark.slow  # a near-duplicate check of every class: seconds
def test_split_folder_keeps_exact_copies_in_one_split(tmp_path):
    raw = make_folder(tmp_path / "raw", per_class={"": 20})
    for picture in sorted(raw.rglob("*.png"))[::2]:  # every other picture saved twice, as a browser names copies
        shutil.copy(picture, picture.with_name(picture.stem + "(1).png"))
    split_folder(raw, tmp_path / "out", validation=0.2, test=0.2, seed=0)
    where = {}
    for path in (tmp_path / "out").rglob("*.png"):
        where.setdefault(path.read_bytes(), set()).add(path.relative_to(tmp_path / "out").parts[0])
    assert len(where) == 60 and all(len(splits) == 1 for splits in where.values())
    assert {s for splits in where.values() for s in splits} == {"train", "validation", "test"}


def test_unicode_class_names(tmp_path):
    root = make_folder(tmp_path / "u", classes=("犬", "猫"), per_class={"train": 3})
    assert load_dataset(root).classes == ["犬", "猫"]


def test_headers_are_read_once_and_again_after_an_edit(tiny_folder, monkeypatch):
    import visionpath.data.folder as folder
    opened = []
    real = folder.peek_image
    monkeypatch.setattr(folder, "peek_image", lambda path: opened.append(path) or real(path))
    paths = sorted((tiny_folder / "train" / "ant").glob("*.png"))
    first, _ = folder.read_headers(paths)
    assert len(opened) == len(paths)
    opened.clear()
    os.utime(paths[0], ns=(1, 1))
    second, _ = folder.read_headers(paths)
    assert opened == [paths[0]] and second == first


def _mapped_from(tensor: torch.Tensor, folder: Path) -> bool:
    """Whether the tensor's memory is a memory map of a segment file in `folder` (Linux's /proc/self/maps)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if len(fields) == 6 and Path(fields[5]).parent == folder and fields[5].endswith(".u8") and \
                start <= tensor.data_ptr() < end:
            return True
    return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc/self/maps")
def test_pictures_stream_through_the_cache_in_chunks_and_are_memory_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(folder, "STREAM_BYTES", 32 * 12 * 12 * 3)  # chunks of 32 pictures: 75 make three
    root = make_folder(tmp_path / "many", per_class={"train": 25, "validation": 2})
    broken = root / "train" / "bee" / "3.png"
    broken.write_bytes(broken.read_bytes()[:40])  # unreadable, in the middle of the second chunk
    rows = ImageStore((12, 12), 3).dir

    def check(data):
        assert _mapped_from(data.train.images, rows) and len(data.train) == len(data.train.paths)
        for image, path in zip(data.train.images, data.train.paths):  # every picture still beside its path
            assert torch.equal(image, load_image(path, (12, 12), 3))
    first = load_dataset(root)
    check(first)
    assert len(first.train) == 74 and first.folder.unreadable[0][0] == str(broken)
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(root / "train" / "ant" / "99.png")  # the folder grows
    second = load_dataset(root)
    check(second)  # old rows copied and the new one decoded into one run of rows, mapped again
    assert second.folder.from_cache == 80 and len(second.train) == 75
    assert load_dataset(root).folder.from_cache == 81


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc/self/maps")
def test_a_cache_that_stops_taking_pictures_midway_leaves_them_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(folder, "STREAM_BYTES", 32 * 12 * 12 * 3)
    root = make_folder(tmp_path / "many", per_class={"train": 25, "validation": 2})
    real_append, calls = SegmentWriter.append, []

    def append_once(self, pictures):  # the first chunk is stored, then the disk becomes read-only
        calls.append(len(pictures))
        if len(calls) > 1:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_append(self, pictures)
    monkeypatch.setattr(SegmentWriter, "append", append_once)
    data = load_dataset(root)
    assert len(calls) >= 2 and len(data.train) == 75
    assert not _mapped_from(data.train.images, ImageStore((12, 12), 3).dir)
    assert not list(ImageStore((12, 12), 3).dir.glob("*.tmp"))  # the half-written segment is gone
    for image, path in zip(data.train.images, data.train.paths):
        assert torch.equal(image, load_image(path, (12, 12), 3))


def test_a_split_left_empty_by_unreadable_files_stops_before_training(tmp_path):
    root = make_folder(tmp_path / "photos")
    for picture in (root / "test").rglob("*.png"):
        picture.write_bytes(b"not a picture")
    with pytest.raises(VisionpathError, match="the test split of .* has no readable pictures left after skipping the "
                                              "unreadable ones; add pictures to it or remove it"):
        load_dataset(root)


def test_a_sample_folder_holds_the_first_pictures_of_each_class_and_is_made_once(tiny_folder, tmp_path):
    dataset = load_dataset(tiny_folder)
    sample = sample_folder(dataset, tmp_path / "sample", per_class=5)
    again = load_dataset(sample)
    assert again.classes == dataset.classes
    assert [len(again.train), len(again.validation), len(again.test)] == [15, 3, 6]  # 5, 1 and 2 of each class
    first_bee = dataset.train.images[(dataset.train.labels == 1).nonzero()[0, 0]]
    assert any(torch.equal(first_bee, picture) for picture in again.train.images[again.train.labels == 1])
    marker = sample / ".visionpath-sample.json"
    made = marker.stat().st_mtime_ns
    assert sample_folder(dataset, sample, per_class=5) == sample and marker.stat().st_mtime_ns == made  # as it is
    with pytest.raises(VisionpathError, match="already exists and is not empty"):
        sample_folder(dataset, sample, per_class=6)  # another copy would mix with this one
