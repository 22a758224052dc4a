"""The machine: which device trains, which precision trains fastest on it (decided once, and kept), and the CPU
allocator's tuning."""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, TypeVar

import torch

from .console import say
from .data.download import cache_home
from .errors import VisionpathError
from .files import atomic_write
from .i18n import plural, tr
from .models import create_model, prepare_for_device
from .options import Option, checked

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def pick_device(device: str) -> torch.device:
    """auto: a CUDA GPU, else Apple's MPS, else the CPU; otherwise the device named (cpu, cuda, cuda:1, mps)."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    chosen = parse_device(device)
    if chosen.type == "cuda" and (not torch.cuda.is_available() or (chosen.index or 0) >= torch.cuda.device_count()):
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise VisionpathError(tr("--device {device}: this machine has {gpus} that PyTorch can use; use --device "
                                 "cpu, or auto to take a GPU when there is one.",
                                 device=device, gpus=plural(found, "CUDA GPU") if found else tr("no CUDA GPU")))
    if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise VisionpathError(tr("--device {device}: Apple's MPS is not available on this machine; use --device cpu "
                                 "or auto.",
                                 device=device))
    return chosen


def parse_device(device: str) -> torch.device:
    """The device a name means (cpu, cuda, cuda:1, mps), whether or not this machine has it: a run trained on a GPU
    is still read on a machine without one."""
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise VisionpathError(tr("unknown device '{device}'; use auto, cpu, cuda or mps.", device=device)) from None
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise VisionpathError(tr("--device {device} is not supported; use auto, cpu, cuda or mps.", device=device))
    return chosen


# ============================================================ precision: decided once per machine, and kept
#
# `--precision auto` is a property of the machine, not of a run: it is measured once (a few seconds), stored in the
# visionpath home keyed by what decides it, and read back by every later run, so the same command trains in the same
# precision every time, and every process of a run uses its first process's decision (train.py). `visionpath
# devices --measure` measures again.

# Seconds this process has spent measuring the machine (the precision decision, the backbone's speeds): done once
# per machine and kept, so a first run would otherwise spend part of its budget on what later runs read back
_measuring = {"seconds": 0.0}
T = TypeVar("T")


def budget_clock() -> float:
    """time.perf_counter() less this process's time measuring the machine: what a --budget is counted in, so that
    the first run on a machine plans, fills and ends its budget as every later run does."""
    return time.perf_counter() - measuring_seconds()


def measuring_seconds() -> float:
    """The seconds this process has spent measuring the machine so far."""
    return _measuring["seconds"]


def measured(measure: Callable[[], T]) -> T:
    """measure(), its time kept off the budget_clock, and the run's random numbers as they were: measuring builds
    networks and trains them (their initial weights and dropout draw from torch's generators), and a run that
    measures after stage 1 must go on as one that found the speed kept, or the first run on a machine differs."""
    t0 = time.perf_counter()
    gpus = range(torch.cuda.device_count()) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=gpus):
            return measure()
    finally:
        _measuring["seconds"] += time.perf_counter() - t0


PRECISION_FILE = "precision.json"  # in the visionpath home ($VISIONPATH_HOME, else ~/.cache/visionpath)
# The one hook for tests and for people who want to force it: what `auto` decides, without measuring.
PRECISION_HOOK = "VISIONPATH_PRECISION"
FASTER = 0.8        # mixed precision is used when a training step takes under 0.8 × fp32's: clearly faster, not noise
# the CPU features that decide bf16's speed (and the speed of everything else)
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "asimd", "bf16", "sve")


@dataclass(frozen=True)
class Decision:
    """What `--precision auto` means on one device of this machine, and the measurement behind it."""
    precision: str              # fp32, bf16 or fp16
    machine: dict               # what decides it: the processor and its features, threads, torch; or the GPU
    seconds: dict[str, float]   # the median seconds of a training step in each precision measured ({} if none)
    measured: str = ""          # when, or "" when not measured (the hook, or a device with no choice)

    @property
    def why(self) -> str:
        """The decision's reason, in the current language."""
        if os.environ.get(PRECISION_HOOK) and not self.measured:
            return tr("set by ${hook}", hook=PRECISION_HOOK)
        if not self.seconds:
            return tr("mixed precision is not used on {device}", device=self.machine["device"])
        return precision_verdict(self.machine["device"], self.seconds)[1]


def pick_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """(fp32, bf16 or fp16, why): the precision asked for, or for auto this machine's stored decision (measured
    the first time: see `decide_precision`)."""
    if precision in ("fp32", "bf16", "fp16"):
        return precision, tr("as asked")
    if precision != "auto":
        raise VisionpathError(tr("unknown precision '{precision}'; use {PRECISIONS}.",
                                 precision=precision, PRECISIONS=', '.join(PRECISIONS)))
    decision = decide_precision(device)
    return decision.precision, decision.why


def mixed_precision(device: torch.device, precision: str) -> torch.autocast:
    """The autocast context that trains in `precision` (fp32: a context that changes nothing), made once and
    entered at every step."""
    return torch.autocast(device.type, dtype=torch.float16 if precision == "fp16" else torch.bfloat16,
                          enabled=precision in ("bf16", "fp16"))


def decide_precision(device: torch.device, measure: bool = False,
                     timer: Callable[[torch.device, tuple[str, ...]], dict[str, float]] | None = None) -> Decision:
    """This machine's decision for --precision auto on `device`: stored in the visionpath home and read back; made
    (by timing a training step, `timer`) when there is none for this machine, or when `measure` asks.
    ${VISIONPATH_PRECISION} (fp32, bf16 or fp16) decides instead, without measuring or storing."""
    forced = os.environ.get(PRECISION_HOOK)
    if forced:
        if forced not in ("fp32", "bf16", "fp16"):
            raise VisionpathError(tr("${hook} is '{value}'; set it to fp32, bf16 or fp16, or unset it to measure.",
                                     hook=PRECISION_HOOK, value=forced))
        return Decision(forced, {"device": device.type}, {})
    key = machine(device)
    if device.type not in ("cpu", "cuda"):  # MPS and others: autocast's speed-ups are not reliable there
        return Decision("fp32", key, {})
    stored = read_decisions()
    if not measure:
        for entry in stored:
            if entry["machine"] == key:
                return Decision(entry["precision"], key, entry["seconds"], entry["measured"])
    candidates = ("fp32", "bf16") if device.type == "cpu" else ("fp32", "bf16", "fp16")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        candidates = ("fp32", "fp16")
    seconds = measured(lambda: (timer or step_seconds)(device, candidates))
    decision = Decision(precision_verdict(device.type, seconds)[0], key, seconds, time.strftime("%Y-%m-%d %H:%M"))
    write_kept(precision_file(), "decisions",
               [e for e in stored if e["machine"] != key] + [dataclasses.asdict(decision)])
    return decision


def precision_file() -> Path:
    return cache_home() / PRECISION_FILE


def read_decisions() -> list[dict]:
    return read_kept(precision_file(), "decisions", lambda e: isinstance(e.get("machine"), dict)
                     and e.get("precision") in ("fp32", "bf16", "fp16") and isinstance(e.get("seconds"), dict)
                     and isinstance(e.get("measured"), str))


# ============================================================ what is measured once per machine, kept in its home

def read_kept(path: Path, field: str, valid: Callable[[dict], bool]) -> list[dict]:
    """The entries kept in `path` under `field` that pass `valid`; a damaged file counts as none (they are measured
    again), never as a wrong answer."""
    try:
        entries = json.loads(path.read_text())[field]
        return [e for e in entries if isinstance(e, dict) and valid(e)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def write_kept(path: Path, field: str, entries: list[dict]) -> None:
    """Keep `entries` in `path` (whole, or not at all: two runs measuring at once leave one's entries, and the
    other's are measured again later). A read-only home keeps nothing: a measurement then holds for its process."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({field: entries}, indent=2))
    except (OSError, VisionpathError):
        pass


SPEED_FILE = "speed.json"  # the photo backbone's speeds, in the visionpath home beside the precision decisions
# The one hook for tests (and for a plan made for another machine): "FORWARD,FINE_TUNE", seconds a million pixels
SPEED_HOOK = "VISIONPATH_SPEED"


def speed_file() -> Path:
    return cache_home() / SPEED_FILE


def read_speeds() -> list[dict]:
    return read_kept(speed_file(), "speeds", lambda e: isinstance(e.get("key"), dict)
                     and isinstance(e["key"].get("machine"), dict) and isinstance(e.get("measured"), str)
                     and all(isinstance(e.get(k), float) and e[k] > 0 for k in ("forward", "fine_tune")))


def kept_speed(key: dict, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """(forward, fine-tuning) seconds a million pixels for what `key` says (the machine, the backbone, the blocks
    that train, the precision, the side, the batch and the augmentation): kept from its first measurement
    (`measure`), so that the same command makes the same plan every time on this machine. ${VISIONPATH_SPEED}
    answers instead."""
    hooked = os.environ.get(SPEED_HOOK)
    if hooked:
        try:
            forward, fine_tune = (float(v) for v in hooked.split(","))
        except ValueError:
            forward = fine_tune = 0.0
        if not (forward > 0 and fine_tune > 0):  # also catches nan
            raise VisionpathError(tr("${hook} is '{value}'; set it to two positive numbers, seconds a million pixels "
                                     "forward and fine-tuning (as 0.1,0.3), or unset it to measure.",
                                     hook=SPEED_HOOK, value=hooked))
        return forward, fine_tune
    stored = read_speeds()
    for entry in stored:
        if entry["key"] == key:
            return entry["forward"], entry["fine_tune"]
    forward, fine_tune = measured(measure)
    write_kept(speed_file(), "speeds", [e for e in stored if e["key"] != key] + [
        {"key": key, "forward": forward, "fine_tune": fine_tune, "measured": time.strftime("%Y-%m-%d %H:%M")}])
    return forward, fine_tune


def machine(device: torch.device) -> dict:
    """What decides the precision on `device`: a GPU's name; a CPU's model, its features, the threads a process
    uses and what PyTorch dispatches to; and the torch version."""
    if device.type == "cuda":
        return {"device": "cuda", "gpu": torch.cuda.get_device_name(device), "torch": torch.__version__}
    if device.type != "cpu":
        return {"device": device.type, "torch": torch.__version__}
    name, flags = cpu_description()
    return {"device": "cpu", "processor": name, "features": [f for f in CPU_FEATURES if f in flags],
            "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "torch": torch.__version__}


def cpu_description() -> tuple[str, set[str]]:
    """The CPU's model name and feature flags (Linux's /proc/cpuinfo; elsewhere the platform's name, no flags)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                name = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags = set(value.split())
    except OSError:
        pass
    return name, flags


def precision_verdict(device_type: str, seconds: dict[str, float]) -> tuple[str, str]:
    """(precision, why) from the median seconds of a training step in fp32 and in the mixed precisions measured:
    the first of bf16, fp16 that is clearly faster (under FASTER × fp32), else fp32."""
    fp32, where = seconds["fp32"], device_type.upper() if device_type == "cpu" else "GPU"
    for name in ("bf16", "fp16"):
        if name in seconds and seconds[name] < FASTER * fp32:
            return name, tr("{name} measured {speedup:.1f}× faster than fp32 for a training step on this {where}",
                            name=name, speedup=fp32 / seconds[name], where=where)
    mixed = min((seconds[n], n) for n in seconds if n != "fp32")
    if device_type == "cpu" and mixed[0] > 3 * fp32:
        return "fp32", tr("bf16 measured {slowdown:.0f}× slower than fp32 on this CPU (no native bf16)",
                          slowdown=mixed[0] / fp32)
    return "fp32", tr("mixed precision measured no faster than fp32 for a training step on this {where} "
                      "({name} {speedup:.2f}×)", where=where, name=mixed[1], speedup=fp32 / mixed[0])


def step_seconds(device: torch.device, precisions: tuple[str, ...], rounds: int = 7) -> dict[str, float]:
    """The median seconds of a training step (forward, backward and Adam's update) of a small convolutional
    network, in each precision: two warm-up steps each, then `rounds` timed steps of each in turn, so that a busy
    moment of the machine falls on all of them alike rather than on one."""
    # a GPU gets a network some hundred times the work, or kernel launches, not arithmetic, would decide (not
    # measured: no GPU on the machines this was written on)
    batch, side, width, depth = (256, 64, 64, 3) if device.type == "cuda" else (64, 32, 16, 2)
    generator = torch.Generator().manual_seed(0)  # its own stream: a run's random numbers stay untouched
    net = prepare_for_device(create_model("cnn", 10, (3, side, side), width=width, depth=depth), device)
    x = torch.rand(batch, 3, side, side, generator=generator).to(device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.0)  # lr 0: the weights stay as they are
    autocasts = {precision: mixed_precision(device, precision) for precision in precisions}

    def step(precision: str) -> float:
        t0 = time.perf_counter()
        with autocasts[precision]:
            loss = torch.nn.functional.cross_entropy(net(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    for precision in precisions:
        step(precision), step(precision)
    times: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(rounds):
        for precision in precisions:
            times[precision].append(step(precision))
    return {p: statistics.median(t) for p, t in times.items()}


@checked
def describe_machine(measure: Annotated[bool, Option("measure again and keep the new decision")] = False,
                     device: Annotated[str, Option("one device only: cpu, cuda, cuda:1 or mps (default: all of them)")
                                       ] = "auto") -> list[Decision]:
    """`visionpath devices`: this machine's devices, what --precision auto decides on each and the measurement
    behind it (measure: measure again, and store the new decision)."""
    chosen = [pick_device(device)] if device != "auto" else [torch.device("cpu")] + (
        [torch.device("cuda", i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []) + (
        [torch.device("mps")] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else [])
    decisions = []
    for each in chosen:
        decision = decide_precision(each, measure=measure)
        decisions.append(decision)
        facts = ", ".join(f"{k} {', '.join(v) if isinstance(v, list) else v}"
                          for k, v in decision.machine.items() if k != "device")
        say(tr("{device}: {facts}", device=str(each), facts=facts))
        times = ", ".join(f"{p} {s * 1000:.1f} ms" for p, s in decision.seconds.items())
        say(tr("  --precision auto: {precision} ({why})", precision=decision.precision, why=decision.why))
        if times:
            say(tr("  a training step of a small CNN: {times} (median), measured {when}",
                   times=times, when=decision.measured or "-"))
        here, kept = machine(each), read_speeds()
        speeds = [e for e in kept if e["key"]["machine"] == here]
        if measure and speeds:  # the plan's speeds were measured in the old state too: measured again when next used
            write_kept(speed_file(), "speeds", [e for e in kept if e["key"]["machine"] != here])
            say(tr("  {speeds} of the photo backbone forgotten: the next run that plans measures again",
                   speeds=plural(len(speeds), "kept speed")))
        for entry in speeds if not measure else []:
            key = entry["key"]
            say(tr("  {model}, top {unfreeze} block groups training, in {precision} at {side} px, batch {batch}: "
                   "reads {forward:.2g} and fine-tunes {fine_tune:.2g} million pixels a second, measured {when}",
                   model=key["model"], unfreeze=key["unfreeze"], precision=key["precision"], side=key["side"],
                   batch=key["batch"], forward=1 / entry["forward"], fine_tune=1 / entry["fine_tune"],
                   when=entry["measured"]))
    if not measure and not os.environ.get(PRECISION_HOOK):
        say(tr("kept in {file} and {file2}; `visionpath devices --measure` measures again",
               file=precision_file(), file2=speed_file()))
    return decisions


def keep_freed_memory() -> None:
    """Make glibc keep freed memory for the next allocation instead of handing it back to the system. By default
    every block over 32 MB (a batch of activations at 288 px) is mapped and unmapped each time, and the kernel
    zero-fills its pages again on every use: measured here, fine-tuning Lite0 at 288 px spent 86 of 283 CPU
    seconds in the kernel, and the whole hymenoptera run took 78 s instead of 110 s with this. The process keeps
    its peak memory until it ends (as PyTorch's GPU allocator does).

    This changes the whole process, so the library never calls it on its own: the `visionpath` command does, at
    its start. A notebook or script that trains on a CPU can call it once, itself. Elsewhere than glibc: nothing."""
    import ctypes
    import sys
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl and others
        return
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4  # from glibc's malloc.h
    libc.mallopt(m_mmap_max, 0)               # large blocks come from the heap, which is reused
    libc.mallopt(m_trim_threshold, 2**31 - 1)  # and the heap's top is not given back after every step
    libc.mallopt(m_top_pad, 64 << 20)          # grow it 64 MB at a time
