"""The machine: which device trains, whether bf16 mixed precision pays on it, and the CPU allocator's tuning."""
from __future__ import annotations

import functools
import time

import torch

from .errors import VisionpathError
from .i18n import plural, tr

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


def pick_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """(fp32, bf16 or fp16, why). auto measures: mixed precision is used only where it is faster on this very
    device. On a GPU: bf16 where supported and faster, else fp16 (trained with a gradient scaler) where faster,
    else fp32. On a CPU: bf16 only with native support (AVX512-BF16, AMX); elsewhere it is emulated and slow."""
    if precision in ("fp32", "bf16", "fp16"):
        return precision, tr("as asked")
    if precision != "auto":
        raise VisionpathError(tr("unknown precision '{precision}'; use {PRECISIONS}.",
                                 precision=precision, PRECISIONS=', '.join(PRECISIONS)))
    if device.type == "cuda":
        return gpu_precision(device)
    if device.type != "cpu":
        return "fp32", tr("mixed precision is not used on {device}", device=device.type)
    return bf16_verdict(*cpu_product_seconds(torch.get_num_threads()))


@functools.cache
def cpu_product_seconds(threads: int) -> tuple[float, float]:
    """Seconds of one product on this CPU in fp32 and under bf16 autocast, with `threads` threads: measured once a
    process (a second of emulated bf16; the CPU does not change between the runs of a notebook or a test session)."""
    a, b = operands(torch.device("cpu"))
    fp32 = min(product_seconds(a, b, None) for _ in range(3))
    once = product_seconds(a, b, torch.bfloat16, 1)
    if once > 3 * fp32:  # emulated bf16 is many times slower: one product shows it, no need to wait for more
        return fp32, once
    return fp32, min(product_seconds(a, b, torch.bfloat16) for _ in range(3))


def gpu_precision(device: torch.device) -> tuple[str, str]:
    """bf16, fp16 or fp32 on a CUDA GPU, by one measured matrix product of each (a few milliseconds)."""
    a, b = operands(device)
    fp32 = min(product_seconds(a, b, None) for _ in range(3))
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported(including_emulation=False):
            continue
        mixed = min(product_seconds(a, b, dtype) for _ in range(3))
        if mixed < 0.8 * fp32:
            return name, tr("measured {speedup:.1f}× faster than fp32 on this GPU", speedup=fp32 / mixed)
    return "fp32", tr("mixed precision measured no faster than fp32 on this GPU")


def operands(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Two fp32 matrices on `device` whose product takes about 2 ms there, made once for all the timings."""
    probe = torch.Generator().manual_seed(0)  # its own generator: the run's random stream stays untouched
    m, k, n = (4096, 4096, 2048) if device.type == "cuda" else (256, 1024, 512)
    return torch.randn(m, k, generator=probe).to(device), torch.randn(k, n, generator=probe).to(device)


def product_seconds(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype | None, repeats: int = 10) -> float:
    """Seconds of one product a @ b on their device, in fp32 (dtype None) or under autocast to dtype."""
    device = a.device
    with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / repeats


def bf16_verdict(fp32_seconds: float, bf16_seconds: float) -> tuple[str, str]:
    """(precision, why) from the time of one matrix product in fp32 and under bf16 autocast."""
    if bf16_seconds > 3 * fp32_seconds:
        return "fp32", tr("bf16 measured {slowdown:.0f}× slower than fp32 on this CPU (no native bf16)",
                          slowdown=bf16_seconds / fp32_seconds)
    if bf16_seconds < 0.8 * fp32_seconds:
        return "bf16", tr("measured {speedup:.1f}× faster than fp32 on this CPU", speedup=fp32_seconds / bf16_seconds)
    return "fp32", tr("bf16 measured no faster than fp32 on this CPU ({speedup:.1f}×)",
                      speedup=fp32_seconds / bf16_seconds)


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
