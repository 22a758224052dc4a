"""The models trained from scratch, in the order of the guide: a dense network, the textbook CNN, a small ResNet.

Every builder takes the number of classes and the input shape (channels, height, width), plus its own keyword
arguments with defaults (`--width`, `--depth`, `--dropout`). A model returns logits (raw scores): cross-entropy
applies softmax inside the loss during training, and prediction applies it to give probabilities.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ..errors import VisionpathError
from ..i18n import tr
from .kernels import Dropout


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
        raise VisionpathError(tr("cnn with depth {depth} halves the picture {depth} times; {height}×{width_px} "
                                 "pictures are too small (use --depth {max}).",
                                 depth=depth, height=height, width_px=width_px,
                                 max=max(1, min(height, width_px).bit_length() - 1)))
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
