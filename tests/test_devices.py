"""The device and the precision: mixed precision only where it was measured faster."""
import re

import pytest
import torch

from visionpath import devices
from visionpath.devices import bf16_verdict, pick_device, pick_precision
from visionpath.errors import VisionpathError


def test_precision_as_asked_or_an_error():
    assert pick_precision("fp32", torch.device("cpu")) == ("fp32", "as asked")
    assert pick_precision("bf16", torch.device("cpu")) == ("bf16", "as asked")
    with pytest.raises(VisionpathError, match="unknown precision 'fp8'"):
        pick_precision("fp8", torch.device("cpu"))


@pytest.mark.parametrize("fp32, bf16, chosen, why", [
    (1.0, 5.0, "fp32", "5× slower than fp32 on this CPU (no native bf16)"),
    (1.0, 0.5, "bf16", "measured 2.0× faster"),
    (1.0, 0.9, "fp32", "no faster than fp32"),
])
def test_bf16_is_chosen_only_when_measured_faster(fp32, bf16, chosen, why):
    precision, reason = bf16_verdict(fp32, bf16)
    assert precision == chosen and why in reason


@pytest.mark.parametrize("bf16_there, times, chosen", [
    (True, {None: 1.0, torch.bfloat16: 0.1, torch.float16: 0.1}, "bf16"),
    (False, {None: 1.0, torch.bfloat16: 0.1, torch.float16: 0.2}, "fp16"),   # no bf16: fp16, with loss scaling
    (True, {None: 1.0, torch.bfloat16: 0.9, torch.float16: 0.2}, "fp16"),    # bf16 there but no faster
    (True, {None: 1.0, torch.bfloat16: 0.9, torch.float16: 0.95}, "fp32"),
])
def test_a_gpu_gets_bf16_else_fp16_else_fp32_as_measured(monkeypatch, bf16_there, times, chosen):
    monkeypatch.setattr(devices.torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16_there)
    monkeypatch.setattr(devices, "operands", lambda device: (None, None))  # no GPU here to hold them
    monkeypatch.setattr(devices, "product_seconds", lambda a, b, dtype, repeats=10: times[dtype])
    precision, why = pick_precision("auto", torch.device("cuda"))
    assert precision == chosen
    assert ("faster than fp32 on this GPU" if chosen != "fp32" else "no faster than fp32 on this GPU") in why


def test_auto_measures_this_cpu_and_its_choice_agrees_with_its_measurement():
    precision, reason = pick_precision("auto", torch.device("cpu"))
    ratio = float(re.search(r"(\d+(\.\d+)?)×", reason)[1])
    if precision == "bf16":
        assert "faster" in reason and ratio >= 1.25
    else:
        assert "slower" in reason or "no faster" in reason


def test_devices():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(VisionpathError, match="unknown device 'gpu0'"):
        pick_device("gpu0")
