"""Checkpoints: metadata round trip, optimiser state, and foreign or broken files."""
import pytest
import torch
from safetensors.torch import save_file

from visionpath.checkpoint import (load_tensors, optimizer_from_tensors, optimizer_to_tensors, read_metadata,
                                   save_checkpoint)
from visionpath.errors import VisionpathError
from visionpath.run_files import load_model


def test_round_trip_with_metadata(tmp_path):
    model = torch.nn.Linear(3, 2)
    meta = {"format": 1, "model": "x", "model_args": {}, "classes": ["a", "b"], "input_shape": [3], "mean": [0.0],
            "std": [1.0]}
    save_checkpoint(tmp_path / "c.safetensors", model, meta, {"rng.torch": torch.get_rng_state()})
    assert read_metadata(tmp_path / "c.safetensors") == meta
    weights = load_tensors(tmp_path / "c.safetensors", "model.")
    assert set(weights) == {"weight", "bias"} and torch.equal(weights["weight"], model.weight)


def test_optimizer_state_round_trip():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    tensors, rest = optimizer_to_tensors(opt)
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(optimizer_from_tensors(tensors, rest))
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_foreign_and_broken_checkpoints(tmp_path):
    save_file({"w": torch.zeros(2)}, tmp_path / "foreign.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(VisionpathError, match="not a visionpath checkpoint"):
        load_model(tmp_path / "foreign.safetensors")
    with pytest.raises(VisionpathError, match="not a readable checkpoint"):
        load_model(tmp_path / "junk.safetensors")
    with pytest.raises(VisionpathError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def _with_metadata(path, text: str):
    from safetensors.torch import save_file
    save_file({"model.w": torch.zeros(2)}, path, metadata={"visionpath": text})
    return path


def test_checkpoint_metadata_that_is_damaged_missing_or_newer_is_one_sentence(tmp_path):
    import json
    good = {"format": 1, "model": "mlp", "model_args": {}, "classes": ["a", "b"], "input_shape": [1, 4, 4],
            "mean": [0.5], "std": [0.5]}
    with pytest.raises(VisionpathError, match="not valid JSON"):
        read_metadata(_with_metadata(tmp_path / "a.safetensors", "{not json"))
    with pytest.raises(VisionpathError, match="lacks classes"):
        read_metadata(_with_metadata(tmp_path / "b.safetensors", json.dumps({k: v for k, v in good.items()
                                                                             if k != "classes"})))
    with pytest.raises(VisionpathError, match="newer visionpath .*format 7; this one reads formats up to 1"):
        read_metadata(_with_metadata(tmp_path / "c.safetensors", json.dumps({**good, "format": 7})))
    assert read_metadata(_with_metadata(tmp_path / "d.safetensors", json.dumps(good))) == good


@pytest.mark.parametrize("change, message", [
    ({"model_args": {"width": "32"}}, r"model 'mlp' takes width as a whole number \(got '32'\)"),
    ({"model_args": {"dropout": "0.2"}}, r"model 'mlp' takes dropout as a number \(got '0.2'\)"),
    ({"model_args": {"depth": True}}, r"model 'mlp' takes depth as a whole number \(got True\)"),
    ({"model_args": [8]}, r"is damaged: the type of model_args in its metadata is wrong"),
    ({"classes": "ab", "input_shape": [1, "4", 4]}, r"the type of classes, input_shape in its metadata is wrong"),
    ({"mean": None}, r"the type of mean in its metadata is wrong"),
])
def test_checkpoint_metadata_of_the_wrong_type_is_one_sentence(tmp_path, change, message):
    """Edited or damaged metadata fails before the model is built (a width of "32" failed deep inside torch)."""
    from visionpath.models import create_model
    meta = {"format": 1, "model": "mlp", "model_args": {"width": 8}, "classes": ["a", "b"], "input_shape": [1, 4, 4],
            "mean": [0.5], "std": [0.5]}
    save_checkpoint(tmp_path / "c.safetensors", create_model("mlp", 2, (1, 4, 4), width=8), {**meta, **change})
    with pytest.raises(VisionpathError, match=message):
        load_model(tmp_path / "c.safetensors")
    assert create_model("mlp", 2, (1, 4, 4), width=8, dropout=0)  # a whole number is a number


def test_weights_that_are_not_finite_are_refused(tmp_path):
    from visionpath.models import create_model
    model = create_model("mlp", 2, (1, 4, 4))
    with torch.no_grad():
        next(model.parameters())[0, 0] = float("nan")
    meta = {"format": 1, "model": "mlp", "model_args": {}, "classes": ["a", "b"], "input_shape": [1, 4, 4],
            "mean": [0.5], "std": [0.5]}
    save_checkpoint(tmp_path / "nan.safetensors", model, meta)
    with pytest.raises(VisionpathError, match="not finite numbers .* diverged"):
        load_model(tmp_path / "nan.safetensors")
