"""The learning-rate range test (Smith, 2015; fastai's lr_find): train for a few hundred steps while the learning
rate rises from tiny to huge, and watch the loss.

    visionpath lr-find cifar10 --model cnn

Too small a rate and the loss hardly moves; a good one and it falls fast; too large and it climbs and explodes.
The suggestion is the rate where the (smoothed) loss was lowest, divided by ten: a rate that still learns fast
but stays clear of the edge where training blows up. The model, data, augmentation, batch size and optimiser
are the ones `visionpath train` would use with the same arguments; for a pretrained backbone it is the head's
rate (--lr) on the frozen backbone, as in training's first stage. Nothing is saved but the plot: the test
changes the weights, so the real run starts again from scratch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
from matplotlib.figure import Figure

from .augment import augment_batch
from .config import TrainConfig
from .console import progress_bar, say
from .defaults import resolve
from .devices import pick_device
from .distributed import ONE
from .errors import VisionpathError
from .files import save_figure
from .i18n import drawn_in_language, tr
from .optim import make_optimizer, set_learning_rate
from .options import DATA, DATA_DIR, DEVICE, Option, check_output, checked
from .training.loop import train_step
from .training.model import build_model
from .training.pictures import batch_of, prepare_data
from .training.stages import freeze_for_stage

SMOOTHING = 0.98  # the loss is averaged over the last ~50 steps (with bias correction), as fastai does
EXPLODED = 4.0    # stop once the smoothed loss is this many times its lowest: the rates beyond only diverge


@dataclass
class LRFinding:
    rates: list[float]     # the learning rate of each step
    losses: list[float]    # the smoothed training loss after each step
    suggestion: float      # the rate where the smoothed loss was lowest, divided by ten
    path: Path             # the plot


@checked
def lr_find(data: Annotated[str | Path, DATA],
            model: Annotated[str | None, Option("the model to test (default: what `visionpath train DATA` would "
                                                "train)")] = None,
            steps: Annotated[int, Option("training steps, the rate rising over them", valid="≥ 10")] = 200,
            start: Annotated[float, Option("the first learning rate", valid="≥ 1e-12")] = 1e-7,
            end: Annotated[float, Option("the last learning rate, at least ten times the first", valid="> 0")] = 10.0,
            batch_size: Annotated[int | None, Option("pictures per step (default: the model's recipe)", valid="≥ 1")
                                  ] = None,
            data_dir: Annotated[str | Path | None, DATA_DIR] = None,
            output: Annotated[str | Path | None, Option("the PNG to write (default: <data>-lr-find.png)",
                                                        path="output")] = None,
            seed: Annotated[int, Option("random seed")] = 0,
            device: Annotated[str, DEVICE] = "auto") -> LRFinding:
    """Train `steps` steps with the learning rate rising exponentially from `start` to `end` (stopping early when
    the loss explodes), plot the smoothed loss against the rate, and suggest a --lr. Returns the rates, losses,
    suggestion and the plot's path (default: <data>-lr-find.png)."""
    if end < start * 10:  # a range of rates, not a point
        raise VisionpathError(tr("--end must be at least ten times --start, {value:g} (got {end:g}).",
                                 value=start * 10, end=end))
    if output is None:  # a given one is checked with the other options
        output = f"{Path(str(data)).name or 'data'}-lr-find.png"
        check_output("--output", output)
    output = Path(output)
    config, _ = resolve(TrainConfig(data=str(data), model=model, batch_size=batch_size, data_dir=data_dir,
                                    seed=seed, device=device))
    torch.manual_seed(config.seed)
    training = prepare_data(config, ONE, pick_device(config.device), None)
    built = build_model(config, training, None)
    frozen = freeze_for_stage(built.net, 1, config)[0] if built.two_stages else []
    params = [p for p in built.net.parameters() if p.requires_grad]
    optimizer = make_optimizer(config.optimizer, params, start, config.weight_decay, training.device)
    generator = torch.Generator().manual_seed(config.seed)
    augment = torch.Generator(device=training.device).manual_seed(config.seed + 1)
    built.net.train()
    for module in frozen:
        module.eval()
    rates, losses, average, lowest = [], [], 0.0, math.inf
    with progress_bar() as bar:
        task = bar.add_task("lr-find", total=steps, status="")
        for step in range(steps):
            rate = start * (end / start) ** (step / (steps - 1))
            set_learning_rate(optimizer, rate)
            pictures, labels = batch_of(training, torch.randint(len(training.labels), (config.batch_size,),
                                                                generator=generator))

            def forward() -> torch.Tensor:
                x = augment_batch(pictures, training.augmentation, built.mean, built.std, augment)
                return built.forward(x.contiguous(memory_format=built.layout))
            _, loss, _ = train_step(built, forward, optimizer, labels, [], config, training.class_weights)
            if not math.isfinite(loss.item()):
                break
            average = SMOOTHING * average + (1 - SMOOTHING) * loss.item()
            smoothed = average / (1 - SMOOTHING ** (step + 1))
            rates.append(rate)
            losses.append(smoothed)
            lowest = min(lowest, smoothed)
            bar.update(task, completed=step + 1, status=tr("lr {rate:.1e} loss {smoothed:.3f}",
                                                           rate=rate, smoothed=smoothed))
            if step > 10 and smoothed > EXPLODED * lowest:
                break
    if len(rates) < 10:
        raise VisionpathError(tr("the loss exploded within {n_rates} steps; start lower (--start {value:g}).",
                                 n_rates=len(rates), value=start / 100))
    best = min(range(len(losses)), key=losses.__getitem__)
    finding = LRFinding(rates, losses, rates[best] / 10, output)
    plot_lr_find(finding, tr("{model} on {data}, batch {batch_size}, {optimizer}",
                             model=config.model, data=data, batch_size=config.batch_size, optimizer=config.optimizer))
    say(tr("suggested --lr {suggestion:.1e}: the loss was lowest at {rates:.1e} (it climbs beyond), and a tenth of "
           "that learns fast while staying clear of the edge; {model}'s own default is {lr:g}. The plot: {output}",
           suggestion=finding.suggestion, rates=rates[best], model=config.model, lr=config.lr, output=output))
    return finding


@drawn_in_language
def plot_lr_find(finding: LRFinding, title: str) -> None:
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    axes = fig.add_subplot()
    axes.plot(finding.rates, finding.losses, color="#2f6fdb")
    axes.set_xscale("log")
    axes.axvline(finding.suggestion, color="#b45309", linestyle="--",
                 label=tr("suggested --lr {suggestion:.1e}", suggestion=finding.suggestion))
    axes.axvline(finding.suggestion * 10, color="#999999", linestyle=":", label=tr("lowest loss"))
    top = finding.losses[0] * 1.2
    axes.set_ylim(min(finding.losses) * 0.9, max(top, min(finding.losses) * 1.5))
    axes.set_xlabel(tr("learning rate (log scale)"))
    axes.set_ylabel(tr("training loss (smoothed)"))
    axes.set_title(tr("learning-rate range test: {title}", title=title), fontsize=9)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    save_figure(fig, finding.path, dpi=110)
