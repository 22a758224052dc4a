"""How fast a pretrained backbone runs on this machine: a forward pass and a fine-tuning step, timed as a run
takes them, measured once per machine and kind of step and kept in the visionpath home (as the precision decision
is), so that the same command makes the same plan every time. The photo defaults plan a run's budget on it, and a
run says when its epochs take far longer or shorter than it forecast (pace_note)."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, astuple, dataclass
from typing import Callable

import torch

from .augment import PRESETS, Augmentation, augment_batch
from .devices import kept_speed, machine, mixed_precision
from .i18n import tr
from .models import create_model, prepare_for_device, scale_pixels
from .optim import make_optimizer

MIN_STEPS, MAX_STEPS, PROBE_SECONDS = 7, 40, 3.0  # the timed steps of each kind, and the seconds they fill at least


@dataclass(frozen=True)
class Speed:
    """How fast the backbone runs here, in seconds per million pixels: a forward pass (caching features,
    validation, test) and a fine-tuning step (forward and backward through the blocks that train, and the update)."""
    forward: float
    fine_tune: float


def backbone_speed(device: torch.device, unfreeze: int | None, precision: str, side: int, batch: int,
                   augmentation: Augmentation, model: str) -> Speed:
    """The photo backbone `model`'s speed on this device, fine-tuning the top `unfreeze` block groups in `precision` at
    `side` px and `batch` pictures a step with `augmentation`: measured the first time (measure_speed) and kept in
    the visionpath home, so that the same command makes the same plan every time on this machine."""
    key = {"machine": machine(device), "model": model, "unfreeze": unfreeze, "precision": precision,
           "side": side, "batch": batch, "augmentation": asdict(augmentation)}
    return Speed(*kept_speed(key, lambda: astuple(measure_speed(device, unfreeze, model, precision, side, batch,
                                                                augmentation))))


def measure_speed(device: torch.device, unfreeze: int | None, model: str, precision: str = "fp32", side: int = 224,
                  batch: int = 32, augmentation: Augmentation = PRESETS["standard"]) -> Speed:
    """Time the photo backbone on this device as a run's steps will take: in the precision the run trains in (and
    with its threads), at the side and batch it trains at (a million pixels cost less in larger steps), each step
    from a batch of 8-bit pictures through the run's augmentation. A probe of a few seconds on a laptop CPU. Random
    pictures and weights: speed does not depend on them."""
    net = prepare_for_device(create_model(model, 2, (3, side, side), resolution=side), device)
    generator = torch.Generator().manual_seed(0)  # its own streams: the run's random numbers stay untouched
    shifts = torch.Generator(device=device).manual_seed(1)
    pictures = torch.randint(0, 256, (batch, 3, side, side), dtype=torch.uint8, generator=generator).to(device)
    scaling = [0.5] * 3, [0.25] * 3  # the mean and spread pictures are scaled by: any, for timing
    x = scale_pixels(pictures, *scaling).contiguous(memory_format=torch.channels_last)
    y = torch.zeros(batch, dtype=torch.long, device=device)
    net.train_top(unfreeze)
    optimizer = make_optimizer("adam", [p for p in net.parameters() if p.requires_grad], 0.0, 0.0, device)
    # fine-tuning keeps batch norm's ImageNet statistics (training.stages.freeze_for_stage): so does the probe's step
    norms = [m for m in net.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    autocast = mixed_precision(device, precision)

    def forward() -> None:
        with torch.inference_mode(), autocast:
            net.eval()
            net.features(x)

    def step() -> None:
        net.train()
        for norm in norms:
            norm.eval()
        optimizer.zero_grad()
        with autocast:
            augmented = augment_batch(pictures, augmentation, *scaling, shifts)
            loss = torch.nn.functional.cross_entropy(net(augmented.contiguous(memory_format=torch.channels_last))
                                                     .float(), y)
        loss.backward()
        optimizer.step()

    def seconds(work: Callable[[], None]) -> float:
        times: list[float] = []
        # four steps warm up (memory, kernel choice: bf16's take longer, the second step is still half speed); the
        # median of the rest is the speed, at least seven steps and PROBE_SECONDS of them (a forward pass of a small
        # batch takes a fifth of a second: seven of them swayed by ±20% on a shared machine). It is measured once
        # and kept, and every plan on this machine rests on it
        while len(times) < 4 + MIN_STEPS or (sum(times[4:]) < PROBE_SECONDS and len(times) < 4 + MAX_STEPS):
            t0 = time.perf_counter()
            work()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        return statistics.median(times[4:]) / (batch * side * side / 1e6)
    return Speed(seconds(forward), seconds(step))


# A kept speed further off than this from the epochs a run measures is said: the machine is not the one measured
# (a VM moved to another host, neighbours busy, a laptop on battery); the plan still rests on the kept speed
OFF_PACE = 0.25


def pace_note(forecast: float, measured: float) -> str | None:
    """What a run says when its fine-tuning epochs took `measured` seconds against the `forecast` of the kept
    speed, if they differ by more than OFF_PACE; else None."""
    ratio = measured / forecast
    if abs(ratio - 1) <= OFF_PACE:
        return None

    def seconds(value: float) -> str:
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return tr("pace: a fine-tuning epoch takes {measured}s here, against the {forecast}s forecast from the "
              "speed kept for this machine: it runs {ratio:.1f}× {how} than when that speed was measured (another "
              "host, busy neighbours, power saving); filling the budget goes by the measured epochs, and `visionpath "
              "devices --measure` measures the kept speed again", measured=seconds(measured),
              forecast=seconds(forecast), ratio=ratio if ratio > 1 else 1 / ratio,
              how=tr("slower") if ratio > 1 else tr("faster"))
