"""Checkpoints: metadata round trip, optimiser state, and foreign or broken files."""
import pytest
import torch
from safetensors.torch import save_file

from visionpath.checkpoint import (load_tensors, optimizer_from_tensors, optimizer_to_tensors, read_metadata,
                                   save_checkpoint)
from visionpath.errors import VisionpathError
from visionpath.run_folder import load_model


def test_round_trip_with_metadata(tmp_path):
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "c.safetensors", model, {"classes": ["a", "b"]}, {"rng.torch": torch.get_rng_state()})
    assert read_metadata(tmp_path / "c.safetensors") == {"classes": ["a", "b"]}
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
