"""Folder datasets: layouts, matching classes by name, junk, and every layout mistake."""
import pytest
import torch
from PIL import Image

from conftest import make_folder
from visionpath.data import load_dataset, stratified_split
from visionpath.data.folder import scan_folder
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


def test_an_unreadable_image_is_named(tiny_folder):
    (tiny_folder / "train" / "bee" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(VisionpathError, match="broken.jpg"):
        load_dataset(tiny_folder)


def test_unicode_class_names(tmp_path):
    root = make_folder(tmp_path / "u", classes=("犬", "猫"), per_class={"train": 3})
    assert load_dataset(root).classes == ["犬", "猫"]
