"""Running a model: pixels scaled as it wants them, and scores or features for many pictures a batch at a time."""
from __future__ import annotations

import torch
import torch.nn as nn

from .registry import ModelEntry
from .transfer import Transfer


def scaling_for(entry: ModelEntry, dataset_mean: tuple[float, ...], dataset_std: tuple[float, ...]
                ) -> tuple[list[float], list[float]]:
    """(mean, std) to apply to pixels already scaled to 0-1, as the model's input_scaling asks."""
    channels = len(dataset_mean)
    if entry.input_scaling == "unit":
        return [0.0] * channels, [1.0] * channels
    if entry.input_scaling == "symmetric":
        return [0.5] * channels, [0.5] * channels
    if entry.input_scaling == "fixed":  # a pretrained backbone's own; grey pictures use the channels' average
        if channels == 1:
            return [sum(entry.mean) / 3], [sum(entry.std) / 3]
        return list(entry.mean), list(entry.std)
    return list(dataset_mean), list(dataset_std)


def scale_pixels(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 N×C×H×W -> float on the same device: divide by 255, then normalise with (mean, std) if not 0/1."""
    x = images.float().div_(255)
    if any(m != 0.0 for m in mean) or any(s != 1.0 for s in std):
        shape = (1, -1, 1, 1)
        x = (x - torch.tensor(mean, device=x.device).view(shape)) / torch.tensor(std, device=x.device).view(shape)
    return x


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prepare_for_device(model: nn.Module, device: torch.device) -> nn.Module:
    """Move to the device; convolutional models also to channels_last, the memory layout fast conv kernels want."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if is_convolutional(model) else model


@torch.inference_mode()
def _in_batches(model: nn.Module, forward, images: torch.Tensor, mean: list[float], std: list[float],
                device: torch.device, bf16: bool, batch_size: int, prepare=None, progress=None) -> torch.Tensor:
    """`forward` over every image in eval mode (dropout off, batch-norm statistics fixed), a batch at a time;
    `prepare` turns a uint8 batch into scaled floats (default: just scaled), `progress(n)` hears how many are done."""
    was_training = model.training
    model.eval()
    if isinstance(model, Transfer):  # activations grow with the side squared: 256 pictures at 224 px take GBs
        batch_size = min(batch_size, max(16, int(256 * (96 / model.resolution) ** 2)))
    layout = torch.channels_last if is_convolutional(model) else torch.contiguous_format
    out = []
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(images), batch_size):
            batch = images[i: i + batch_size].to(device, non_blocking=True)
            x = prepare(batch) if prepare is not None else scale_pixels(batch, mean, std)
            out.append(forward(x.contiguous(memory_format=layout)).float())
            if progress is not None:
                progress(min(i + batch_size, len(images)))
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def logits_in_batches(model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float],
                      device: torch.device, batch_size: int = 1024, bf16: bool = False) -> torch.Tensor:
    """The model's scores for every image, computed a batch at a time."""
    return _in_batches(model, model, images, mean, std, device, bf16, batch_size)


def features_in_batches(model: Transfer, images: torch.Tensor, mean: list[float], std: list[float],
                        device: torch.device, bf16: bool = False, prepare=None, batch_size: int = 256,
                        progress=None) -> torch.Tensor:
    """The frozen backbone's features of every picture, a batch at a time (see `_in_batches`)."""
    return _in_batches(model, model.features, images, mean, std, device, bf16, batch_size, prepare, progress)


def border_brightness(images: torch.Tensor) -> torch.Tensor:
    """Mean 0-255 value of each picture's one-pixel frame: tells a light background from a dark one."""
    frame = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    return frame.float().mean(dim=tuple(range(1, frame.dim())))
