"""TrainConfig: every setting once, validated in one place, read back from older runs, and the source of the
command line's flags and of the report's command."""
import json
import re
import shlex
from dataclasses import fields

import pytest

from visionpath.cli import build_parser
from visionpath.config import TrainConfig
from visionpath.options import flag
from visionpath.errors import VisionpathError


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "--epochs must be a whole number of at least 1 (got 0)"),
    ({"epochs": 2.5}, "--epochs must be a whole number of at least 1 (got 2.5)"),
    ({"batch_size": True}, "--batch-size must be a whole number of at least 1 (got True)"),
    ({"lr": 0}, "--lr must be positive (got 0)"),
    ({"lr": "fast"}, "--lr must be positive (got 'fast')"),
    ({"l1": -1.0}, "--l1 must be zero or positive (got -1.0)"),
    ({"label_smoothing": 1}, "--label-smoothing must be in [0, 1) (got 1)"),
    ({"validation_split": 1.5}, "--validation-split must be in (0, 1)"),
    ({"layer_lr_decay": 0}, "--layer-lr-decay must be in (0, 1]"),
    ({"rotation": 400}, "--rotation must be between 0 and 180"),
    ({"fine_tune_epochs": -1}, "--fine-tune-epochs must be a whole number, 0 or more"),
    ({"strict": "yes"}, "--strict must be true or false"),
    ({"optimizer": "adagrad"}, "unknown --optimizer 'adagrad'; choose from adam, adamw, sgd"),
    ({"schedule": "step"}, "unknown --schedule 'step'; choose from onecycle, cosine, constant"),
    ({"balance": "oversample"}, "unknown --balance 'oversample'; choose from auto, none, weights, sampler"),
    ({"augment": "lots"}, "unknown --augment 'lots'; choose from none, standard, strong"),
    ({"precision": "fp8"}, "unknown --precision 'fp8'; choose from auto, fp32, bf16"),
    ({"model": "resnet9000"}, "unknown model 'resnet9000'"),
    ({"device": "gpu0"}, "unknown device 'gpu0'; use auto, cpu, cuda or mps"),
    ({"model": "cnn", "pretrained": True}, "--pretrained and --weights apply to pretrained backbones"),
])
def test_a_bad_value_is_one_sentence(settings, message):
    with pytest.raises(VisionpathError, match=re.escape(message)):
        TrainConfig(**settings)


def test_good_values_pass_and_paths_become_text(tmp_path):
    config = TrainConfig(data=tmp_path, labels=tmp_path / "labels.csv", lr=1, label_smoothing=0.0, epochs=1)
    assert config.data == str(tmp_path) and config.labels == str(tmp_path / "labels.csv")


def test_every_setting_has_a_meaning_and_a_flag():
    parser = build_parser()
    train_flags = {o for a in parser._subparsers._group_actions[0].choices["train"]._actions for o in a.option_strings}
    for f in fields(TrainConfig):
        assert len(f.metadata["option"].help) > 15, f.name
        assert f.metadata["option"].positional or flag(f.name) in train_flags, f.name


def test_the_command_line_rebuilds_the_same_config():
    config = TrainConfig(data="my photos", model="resnet9", epochs=3, lr=0.02, flip=False, feature_cache=False,
                         augment="strong", seed=7)
    command = config.command_line()
    assert command == ("visionpath train 'my photos' --model resnet9 --epochs 3 --lr 0.02 --augment strong "
                       "--no-flip --no-feature-cache --seed 7")
    args = vars(build_parser().parse_args(shlex.split(command)[1:]))
    args.pop("command"), args.pop("debug")
    assert TrainConfig(**args) == config


def test_a_config_round_trips_through_config_json(tmp_path):
    config = TrainConfig(data="cifar10", model="resnet9", width=8, rotation=10.0)
    config.write(tmp_path / "config.json", classes=["a", "b"])
    assert TrainConfig.read(tmp_path / "config.json") == config
    assert json.loads((tmp_path / "config.json").read_text())["classes"] == ["a", "b"]


def test_a_run_of_an_older_version_is_read_with_what_it_trained_with(tmp_path, capsys):
    old = {k: v for k, v in TrainConfig(data="mnist", model="mlp").to_dict().items()
           if k not in ("balance", "augment", "labels", "project")}
    (tmp_path / "config.json").write_text(json.dumps({"settings": {**old, "retired_setting": 3}}))
    config = TrainConfig.read(tmp_path / "config.json")
    assert (config.balance, config.augment, config.labels, config.project) == ("none", "none", None, "runs")
    out = capsys.readouterr().out
    assert "made by an older visionpath" in out and "balance none" in out and "augment none" in out
    assert "ignores its settings retired_setting" in out


def test_a_damaged_config_is_one_sentence(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(VisionpathError, match="is not a readable visionpath config"):
        TrainConfig.read(tmp_path / "config.json")
