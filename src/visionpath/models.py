"""The model registry: a name, a builder a beginner can read, and how the model wants its pixels scaled.

Every builder takes the number of classes and the input shape (channels, height, width), plus its own
keyword arguments with defaults. The model returns logits (raw scores); softmax turns them into probabilities
at prediction time, and cross-entropy applies it inside the loss during training.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from .errors import VisionpathError


def mlp(num_classes: int, input_shape: tuple[int, int, int], width: int = 512, depth: int = 1,
        dropout: float = 0.2) -> nn.Module:
    """A dense network (multi-layer perceptron), the "Hello, World" of image classification.

    The picture is flattened into one long row of numbers (28×28 pixels -> 784 inputs), then `depth` dense
    layers of `width` units each mix every input with every other, each followed by ReLU (negative values
    become 0, which lets the network learn non-linear shapes) and dropout (a random `dropout` share of units is
    switched off at each step, so the network cannot lean on any single one). A last dense layer gives one score
    per class. It knows nothing about which pixels are neighbours: that is what a CNN adds.
    """
    channels, height, width_px = input_shape
    layers: list[nn.Module] = [nn.Flatten()]
    inputs = channels * height * width_px
    for _ in range(depth):
        layers += [nn.Linear(inputs, width), nn.ReLU(), nn.Dropout(dropout)]
        inputs = width
    layers.append(nn.Linear(inputs, num_classes))
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[..., nn.Module]
    # How pixels are scaled before the model sees them: "unit" = 0-1 (divide by 255), "standardize" = the
    # dataset's per-channel mean and std, "symmetric" = -1..1 (what many pretrained backbones expect).
    input_scaling: str

    @property
    def summary(self) -> str:
        return (self.build.__doc__ or "").strip().splitlines()[0]

    @property
    def arguments(self) -> dict[str, object]:
        """The builder's own keyword arguments and their defaults."""
        params = list(inspect.signature(self.build).parameters.values())[2:]
        return {p.name: p.default for p in params}


MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry(mlp, input_scaling="unit"),
}


def model_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise VisionpathError(f"unknown model '{name}'. Known models: {', '.join(MODELS)} (see `visionpath models`).")
    return MODELS[name]


def create_model(name: str, num_classes: int, input_shape: tuple[int, int, int], **arguments) -> nn.Module:
    """Build a registered model. Arguments it does not take are an error now, not a surprise later."""
    entry = model_entry(name)
    unknown = sorted(set(arguments) - set(entry.arguments))
    if unknown:
        takes = ", ".join(f"{k}={v}" for k, v in entry.arguments.items()) or "nothing"
        raise VisionpathError(f"model '{name}' has no argument {', '.join(unknown)}; it takes {takes}.")
    return entry.build(num_classes, tuple(input_shape), **arguments)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------- running a model

def scaling_for(entry: ModelEntry, dataset_mean: tuple[float, ...], dataset_std: tuple[float, ...]
                ) -> tuple[list[float], list[float]]:
    """(mean, std) to apply to pixels already scaled to 0-1, as the model's input_scaling asks."""
    channels = len(dataset_mean)
    if entry.input_scaling == "unit":
        return [0.0] * channels, [1.0] * channels
    if entry.input_scaling == "symmetric":
        return [0.5] * channels, [0.5] * channels
    return list(dataset_mean), list(dataset_std)


def scale_pixels(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 N×C×H×W -> float on the same device: divide by 255, then normalise with (mean, std) if not 0/1."""
    x = images.float().div_(255)
    if any(m != 0.0 for m in mean) or any(s != 1.0 for s in std):
        x = (x - torch.tensor(mean, device=x.device).view(1, -1, 1, 1)) / torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return x


@torch.inference_mode()
def logits_in_batches(model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float],
                      device: torch.device, batch_size: int = 1024) -> torch.Tensor:
    """The model's scores for every image (eval mode: dropout off), computed a batch at a time."""
    was_training = model.training
    model.eval()
    out = [model(scale_pixels(images[i: i + batch_size].to(device, non_blocking=True), mean, std)).float()
           for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def border_brightness(images: torch.Tensor) -> torch.Tensor:
    """Mean 0-255 value of each picture's one-pixel frame: tells a light background from a dark one."""
    frame = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    return frame.float().mean(dim=tuple(range(1, frame.dim())))
