"""The model registry: a name, a builder a beginner can read, and how the model wants its pixels scaled.

Every builder takes the number of classes and the input shape (channels, height, width), plus its own
keyword arguments with defaults. The model returns logits (raw scores); softmax turns them into probabilities
at prediction time, and cross-entropy applies it inside the loss during training.
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn

from .errors import VisionpathError


class Dropout(nn.Dropout):
    """nn.Dropout, drawn as `rand >= p`: on a CPU that is 2.4× faster than the bernoulli sampling nn.Dropout uses
    (measured: 1.1 ms against 2.7 ms for a 128×16×14×14 batch), and dropout was a fifth of a cnn epoch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * (torch.rand_like(x) >= self.p) * (1.0 / (1.0 - self.p))


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
        layers += [nn.Linear(inputs, width), nn.ReLU(), Dropout(dropout)]
        inputs = width
    layers.append(nn.Linear(inputs, num_classes))
    return nn.Sequential(*layers)


def _conv_bn_relu(channels_in: int, channels_out: int, pool: bool = False) -> nn.Sequential:
    # No bias: batch norm's shift does that job. ReLU keeps the positive part. Pooling right after the
    # convolution (as in the fast CIFAR-10 records) gives batch norm and ReLU a quarter of the numbers to work on.
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
                         *([nn.MaxPool2d(2)] if pool else []), nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))


def _meta_forward(features: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """How many numbers `features` turns one picture into (a dry run on the meta device: no memory, no time)."""
    probe = copy.deepcopy(features).to("meta")
    return probe(torch.zeros(1, *input_shape, device="meta")).numel()


def cnn(num_classes: int, input_shape: tuple[int, int, int], width: int = 16, depth: int = 2,
        dropout: float = 0.0) -> nn.Module:
    """The textbook convolutional network: `depth` blocks of Conv-Conv-MaxPool, then a dense head.

    A convolution slides small 3×3 filters over the picture; each filter learns to respond to one local pattern
    (an edge, a corner, a patch of texture) wherever it appears, so the network knows which pixels are
    neighbours and needs far fewer weights than a dense layer. ReLU after each convolution keeps the positive
    responses. Max pooling keeps the strongest response in each 2×2 window: the picture halves in size, the
    next block sees a wider area, and small shifts stop mattering. Each block doubles the number of filters
    (`width`, 2×`width`, ...), since deeper layers combine simple patterns into many more complex ones. The dense
    head flattens the last feature maps into one row and a dense layer of 512 units combines them into class
    scores. `--dropout p` (off by default, so you can watch the plain network overfit first) switches off a
    share p of the units after every block and twice that (at most half) before the head's last layer.
    `--width 32` gives the Keras guide's CIFAR-10 network (Conv32-Conv32-Pool-Conv64-Conv64-Pool-Dense512); the
    default of 16 costs a quarter of the computation and still reaches 99.4% on MNIST in under a minute.
    """
    channels, height, width_px = input_shape
    if min(height, width_px) < 2 ** depth:
        raise VisionpathError(f"cnn with depth {depth} halves the picture {depth} times; {height}×{width_px} pictures "
                              f"are too small (use --depth {max(1, min(height, width_px).bit_length() - 1)}).")
    blocks: list[nn.Module] = []
    inputs = channels
    for block in range(depth):
        filters = width * 2 ** block
        blocks += [nn.Conv2d(inputs, filters, 3, padding=1), nn.ReLU(inplace=True),
                   nn.Conv2d(filters, filters, 3, padding=1), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2), Dropout(dropout)]
        inputs = filters
    features = nn.Sequential(*blocks, nn.Flatten())
    return nn.Sequential(features, nn.Linear(_meta_forward(features, input_shape), 512), nn.ReLU(inplace=True),
                         Dropout(min(0.5, 2 * dropout)), nn.Linear(512, num_classes))


class Residual(nn.Module):
    """x + f(x): the block only has to learn a correction to its input, which keeps deep networks trainable."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def resnet9(num_classes: int, input_shape: tuple[int, int, int], width: int = 16, dropout: float = 0.0) -> nn.Module:
    """A small residual network with batch norm, the layout of the fast CIFAR-10 records (Myrtle.ai's ResNet-9).

    A first convolution, then three stages that each double the filters (`width` up to 8×`width`) and halve the
    picture with max pooling; the first and last stages add a residual block (two convolutions whose output is
    added to their input). Batch norm after every convolution keeps the numbers well scaled, which lets it train
    at high learning rates in few epochs. A global max pool makes it work at any input size; the class scores are
    scaled down by 8 so the high learning rate does not make them overconfident early.
    """
    channels = input_shape[0]
    w = [width, 2 * width, 4 * width, 8 * width]
    return nn.Sequential(
        _conv_bn_relu(channels, w[0]),
        _conv_bn_relu(w[0], w[1], pool=True), Residual(nn.Sequential(_conv_bn_relu(w[1], w[1]),
                                                                      _conv_bn_relu(w[1], w[1]))),
        _conv_bn_relu(w[1], w[2], pool=True),
        _conv_bn_relu(w[2], w[3], pool=True), Residual(nn.Sequential(_conv_bn_relu(w[3], w[3]),
                                                                      _conv_bn_relu(w[3], w[3]))),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), Dropout(dropout), nn.Linear(w[3], num_classes, bias=False),
        Scale(0.125))


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[..., nn.Module]
    # How pixels are scaled before the model sees them: "unit" = 0-1 (divide by 255), "standardize" = the
    # dataset's per-channel mean and std, "symmetric" = -1..1 (what many pretrained backbones expect).
    input_scaling: str
    # The training settings this model works best with (measured; see benchmarks/), used where the user gives none.
    recipe: dict = field(default_factory=dict)

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
    "cnn": ModelEntry(cnn, input_scaling="unit", recipe=dict(epochs=6, batch_size=256, lr=6e-3, augment="standard")),
    "resnet9": ModelEntry(resnet9, input_scaling="standardize",
                          recipe=dict(epochs=17, batch_size=512, lr=1e-2, optimizer="adamw", weight_decay=5e-2,
                                      label_smoothing=0.1, augment="standard")),
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


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prepare_for_device(model: nn.Module, device: torch.device) -> nn.Module:
    """Move to the device; convolutional models also to channels_last, the memory layout fast conv kernels want."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if is_convolutional(model) else model


@torch.inference_mode()
def logits_in_batches(model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float],
                      device: torch.device, batch_size: int = 1024, bf16: bool = False) -> torch.Tensor:
    """The model's scores for every image (eval mode: dropout off), computed a batch at a time."""
    was_training = model.training
    model.eval()
    layout = torch.channels_last if is_convolutional(model) else torch.contiguous_format
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        out = [model(scale_pixels(images[i: i + batch_size].to(device, non_blocking=True), mean, std)
                     .contiguous(memory_format=layout)).float()
               for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def border_brightness(images: torch.Tensor) -> torch.Tensor:
    """Mean 0-255 value of each picture's one-pixel frame: tells a light background from a dark one."""
    frame = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    return frame.float().mean(dim=tuple(range(1, frame.dim())))
