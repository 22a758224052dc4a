"""The device and the precision: mixed precision only where a training step was measured faster, decided once per
machine and kept."""
import json

import pytest
import torch

import visionpath
from visionpath import devices
from visionpath.cli import main
from visionpath.devices import decide_precision, pick_device, pick_precision, precision_verdict
from visionpath.errors import VisionpathError

CPU = torch.device("cpu")


@pytest.fixture
def measuring(monkeypatch):
    """auto measures (the suite's hook, VISIONPATH_PRECISION, unset), with timings the test injects."""
    monkeypatch.delenv("VISIONPATH_PRECISION")
    calls = []

    def timer(seconds):
        def measure(device, precisions):
            calls.append(precisions)
            return {p: seconds[p] for p in precisions}
        return measure
    return timer, calls


def test_precision_as_asked_or_an_error():
    assert pick_precision("fp32", CPU) == ("fp32", "as asked")
    assert pick_precision("bf16", CPU) == ("bf16", "as asked")
    with pytest.raises(VisionpathError, match="unknown precision 'fp8'"):
        pick_precision("fp8", CPU)


@pytest.mark.parametrize("seconds, chosen, why", [
    ({"fp32": 1.0, "bf16": 5.0}, "fp32", "5× slower than fp32 on this CPU (no native bf16)"),  # emulated bf16
    ({"fp32": 1.0, "bf16": 0.5}, "bf16", "bf16 measured 2.0× faster than fp32 for a training step on this CPU"),
    ({"fp32": 1.0, "bf16": 0.9}, "fp32", "no faster than fp32"),     # faster, but within what noise gives
    ({"fp32": 1.0, "bf16": 1.02}, "fp32", "no faster than fp32"),    # equal within noise
])
def test_bf16_is_chosen_on_a_cpu_only_when_a_step_is_clearly_faster(seconds, chosen, why):
    precision, reason = precision_verdict("cpu", seconds)
    assert precision == chosen and why in reason


@pytest.mark.parametrize("seconds, chosen", [
    ({"fp32": 1.0, "bf16": 0.1, "fp16": 0.1}, "bf16"),
    ({"fp32": 1.0, "fp16": 0.2}, "fp16"),                    # no native bf16 on this GPU: fp16, with loss scaling
    ({"fp32": 1.0, "bf16": 0.9, "fp16": 0.2}, "fp16"),       # bf16 there but no faster
    ({"fp32": 1.0, "bf16": 0.9, "fp16": 0.95}, "fp32"),
])
def test_a_gpu_gets_bf16_else_fp16_else_fp32_as_measured(seconds, chosen):
    precision, why = precision_verdict("cuda", seconds)
    assert precision == chosen
    assert ("faster than fp32 for a training step on this GPU" if chosen != "fp32" else "no faster") in why


def test_auto_is_measured_once_then_read_back_and_measured_again_only_when_asked(measuring):
    timer, calls = measuring
    first = decide_precision(CPU, timer=timer({"fp32": 1.0, "bf16": 0.5}))
    assert first.precision == "bf16" and calls == [("fp32", "bf16")]
    # the machine is now busy and would measure otherwise: the kept decision holds, nothing is measured
    again = decide_precision(CPU, timer=timer({"fp32": 1.0, "bf16": 5.0}))
    assert again.precision == "bf16" and again.seconds == {"fp32": 1.0, "bf16": 0.5} and len(calls) == 1
    assert pick_precision("auto", CPU)[0] == "bf16"
    remeasured = decide_precision(CPU, measure=True, timer=timer({"fp32": 1.0, "bf16": 5.0}))
    assert remeasured.precision == "fp32" and len(calls) == 2
    assert decide_precision(CPU).precision == "fp32"  # the new decision is the one kept


def test_the_decision_is_keyed_by_what_decides_it(measuring, monkeypatch):
    timer, calls = measuring
    threads = torch.get_num_threads()
    decide_precision(CPU, timer=timer({"fp32": 1.0, "bf16": 0.5}))
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads + 96)  # another thread count: another decision
    assert decide_precision(CPU, timer=timer({"fp32": 1.0, "bf16": 2.0})).precision == "fp32"
    assert len(calls) == 2
    stored = json.loads(devices.precision_file().read_text())["decisions"]
    assert sorted(d["machine"]["threads"] for d in stored) == [threads, threads + 96]
    assert all(d["machine"]["torch"] == torch.__version__ and "processor" in d["machine"] for d in stored)


def test_a_damaged_decision_file_is_measured_again_not_trusted(measuring):
    timer, calls = measuring
    devices.precision_file().parent.mkdir(parents=True, exist_ok=True)
    devices.precision_file().write_text('{"decisions": [{"precision": "fp64", "machine": ')
    assert decide_precision(CPU, timer=timer({"fp32": 1.0, "bf16": 0.5})).precision == "bf16"
    assert len(calls) == 1 and json.loads(devices.precision_file().read_text())["decisions"][0]["precision"] == "bf16"


def test_the_hook_decides_without_measuring_and_a_bad_value_is_one_sentence(monkeypatch):
    monkeypatch.setenv("VISIONPATH_PRECISION", "bf16")
    decision = decide_precision(CPU, timer=lambda device, precisions: pytest.fail("measured"))
    assert decision.precision == "bf16" and "VISIONPATH_PRECISION" in decision.why
    assert not devices.precision_file().exists()
    monkeypatch.setenv("VISIONPATH_PRECISION", "fp8")
    with pytest.raises(VisionpathError, match=r"\$VISIONPATH_PRECISION is 'fp8'; set it to fp32, bf16 or fp16"):
        decide_precision(CPU)


@pytest.mark.slow  # 10 s on a CPU without native bf16, where bf16 is emulated: the full suite runs it
def test_the_real_probe_times_a_training_step_in_each_precision(measuring):
    seconds = devices.step_seconds(CPU, ("fp32", "bf16"), rounds=2)
    assert set(seconds) == {"fp32", "bf16"} and all(0 < s < 60 for s in seconds.values())
    decision = decide_precision(CPU)  # this machine's own measurement, whichever way it goes
    assert decision.precision == precision_verdict("cpu", decision.seconds)[0]


def test_a_run_records_the_decision_and_resume_and_every_run_keep_it(measuring, tiny_folder, tmp_path):
    timer, _ = measuring
    decide_precision(CPU, timer=timer({"fp32": 1.0, "bf16": 0.5}))  # this machine: bf16 (as if measured)
    run = visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=1, batch_size=8, width=16)
    saved = json.loads((run.path / "config.json").read_text())
    assert saved["settings"]["precision"] == "bf16"
    assert "bf16 measured 2.0× faster" in saved["decided"]["precision"]
    assert run.config.precision == "bf16"


def test_devices_command_shows_the_decision_and_measures_again_when_asked(measuring, monkeypatch, capsys):
    timer, calls = measuring
    monkeypatch.setattr(devices, "step_seconds", timer({"fp32": 0.020, "bf16": 0.010}))
    assert main(["devices", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "--precision auto: bf16" in out and "fp32 20.0 ms, bf16 10.0 ms" in out and "--measure" in out
    monkeypatch.setattr(devices, "step_seconds", timer({"fp32": 0.020, "bf16": 0.030}))
    assert main(["devices", "--device", "cpu"]) == 0 and len(calls) == 1
    assert main(["devices", "--device", "cpu", "--measure"]) == 0 and len(calls) == 2
    assert "--precision auto: fp32" in capsys.readouterr().out.split("\n\n")[-1]


def test_devices():
    assert pick_device("cpu") == CPU
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(VisionpathError, match="unknown device 'gpu0'"):
        pick_device("gpu0")


@pytest.mark.slow  # over 3 s here: the full suite runs it
def test_three_identical_runs_train_in_one_precision_and_score_alike(measuring, tiny_folder, tmp_path):
    """--precision auto on this machine, measured for real the first time and then kept: the same command gives
    the same numbers every time, whichever precision this machine trains in."""
    runs = [visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=2, batch_size=8, width=16, seed=1)
            for _ in range(3)]
    assert len({run.config.precision for run in runs}) == 1
    scores = [[(r["train_loss"], r["train_accuracy"], r["val_loss"], r["val_accuracy"]) for r in run.history]
              for run in runs]
    assert scores[0] == scores[1] == scores[2]


def test_measuring_the_machine_is_kept_off_the_time_a_run_spends_of_its_budget(measuring):
    import time
    from types import SimpleNamespace
    from visionpath.training.state import TrainingState
    timer, calls = measuring

    def slow(device, precisions):
        time.sleep(0.5)
        return timer({"fp32": 1.0, "bf16": 0.5})(device, precisions)
    state, _ = TrainingState.start(SimpleNamespace(seed=0), None, CPU, devices.budget_clock())
    wall = time.perf_counter()
    assert decide_precision(CPU, timer=slow).precision == "bf16" and calls  # measured: the first run here
    time.sleep(0.2)  # and the run's own time
    assert time.perf_counter() - wall >= 0.7 and 0.2 <= state.spent() < 0.5
