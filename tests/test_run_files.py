"""Run folders: never overwritten, and every record written so that later commands read back what was written."""
import csv
import json

import pytest

from visionpath.config import TrainConfig
from visionpath.data import load_dataset
from visionpath.errors import VisionpathError
from visionpath.run_files import (checkpoint_path, picture_size, new_run_dir, read_data_record, read_history,
                                   write_data_record, write_history)


def test_run_folders_never_overwrite(tmp_path):
    assert [new_run_dir(tmp_path, "cifar10 cnn").name for _ in range(3)] == ["cifar10_cnn-1", "cifar10_cnn-2",
                                                                             "cifar10_cnn-3"]


def test_history_round_trip(tmp_path):
    history = [{"epoch": 1, "time": 1.5, "stage": 1, "lr": 0.001, "train_loss": 0.5, "val_accuracy": 0.75},
               {"epoch": 2, "time": 3.0, "stage": 2, "lr": 1e-05, "train_loss": 0.25, "val_accuracy": 0.875}]
    write_history(tmp_path, history)
    assert read_history(tmp_path) == history
    assert next(csv.reader(open(tmp_path / "results.csv")))[:2] == ["epoch", "time"]
    assert read_history(tmp_path / "elsewhere") == []


def test_a_folder_s_data_record_split_and_skipped_files(tiny_folder, tmp_path):
    (tiny_folder / "train" / "ant" / "bad.jpg").write_text("no picture")
    dataset = load_dataset(tiny_folder)
    write_data_record(tmp_path, dataset)
    record = read_data_record(tmp_path)
    assert record["splits"]["train"] == {"ant": 10, "bee": 10, "cat": 10} and record["unreadable"] == 1
    assert record["classes"] == ["ant", "bee", "cat"] and record["input_shape"] == [3, 12, 12]
    assert "bad.jpg" in (tmp_path / "unreadable.txt").read_text()
    with open(tmp_path / "split.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 54 and {(r["split"], r["label"]) for r in rows if r["path"].endswith("test/bee/3.png")} == {
        ("test", "bee")}
    assert json.loads((tmp_path / "data.json").read_text()) == record


def test_a_backbone_gets_pictures_at_its_resolution_a_model_from_scratch_at_their_own():
    def sizes(**settings):
        size = picture_size(TrainConfig(**settings))
        return size.decode, size.resolution, size.enlarge
    assert sizes(data="photos/", model="mlp") == (None, None, True)
    assert sizes(data="photos/", model="mlp", image_size=48) == (48, None, True)
    assert sizes(data="photos/", model="efficientnet_lite0") == (224, 224, False)
    assert sizes(data="photos/", model="efficientnet_lite0", image_size=96) == (96, 96, False)
    assert sizes(data="cifar10", model="efficientnet_lite0") == (None, 224, False)  # resized on the fly


def test_checkpoint_path_of_a_folder_or_a_file(tmp_path):
    with pytest.raises(VisionpathError, match="has no best.safetensors"):
        checkpoint_path(tmp_path)
    with pytest.raises(VisionpathError, match="does not exist"):
        checkpoint_path(tmp_path / "nothing")
    (tmp_path / "last.safetensors").write_bytes(b"")
    assert checkpoint_path(tmp_path, "last") == tmp_path / "last.safetensors"
