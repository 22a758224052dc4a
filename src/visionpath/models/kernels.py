"""Faster CPU paths for three of PyTorch's layers. Each computes what PyTorch's own layer computes (a test checks
it against that layer) and exists because of a measurement on this project's 2-core CPU, given with it.

    Dropout                 the dropout mask drawn as `rand >= p`: 2.4x faster than nn.Dropout's bernoulli
    DepthwiseConv2d         a depthwise nn.Conv2d with two detours around slow oneDNN gradients
    DepthwiseConv2dSame     the same for timm's Conv2dSame ("SAME" padding, in the tf_ EfficientNets)

`use_fast_depthwise(model)` swaps the depthwise layers of a model for these, keeping its weights and names.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Dropout(nn.Dropout):
    """nn.Dropout, drawn as `rand >= p`: on a CPU that is 2.4× faster than the bernoulli sampling nn.Dropout uses
    (measured: 1.1 ms against 2.7 ms for a 128×16×14×14 batch), and dropout was a fifth of a cnn epoch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * (torch.rand_like(x) >= self.p) * (1.0 / (1.0 - self.p))


class _SmallMapDepthwise(torch.autograd.Function):
    """A stride-1 depthwise convolution whose kernel is larger than its feature map, with its own weight gradient.

    oneDNN's weight gradient for that case is two orders of magnitude slower than the forward pass: measured on this
    project's 2-core CPU, 54 ms against 0.3 ms for 128 maps of 1152 channels at 2×2 with a 5×5 kernel, which is
    where EfficientNet's top blocks are for CIFAR pictures at 64 px; half of a fine-tuning step went there. The
    gradient of each kernel tap is one multiply-and-sum over the batch, 25 of them for a 5×5 kernel: 4 ms.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv2d(x, weight, None, 1, padding, 1, weight.shape[0])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        (pad_h, pad_w), channels = ctx.padding, weight.shape[0]
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:  # oneDNN is fast for this one
            grad_x = torch.ops.aten.convolution_backward(grad_out, x, weight, None, [1, 1], [pad_h, pad_w], [1, 1],
                                                         False, [0, 0], channels, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h))
            height, width = grad_out.shape[-2:]
            grad_weight = torch.empty_like(weight)
            for i in range(weight.shape[2]):
                for j in range(weight.shape[3]):
                    grad_weight[:, 0, i, j] = (padded[:, :, i:i + height, j:j + width] * grad_out).sum((0, 2, 3))
        return grad_x, grad_weight, None


class DepthwiseConv2d(nn.Conv2d):
    """nn.Conv2d for a depthwise convolution, with two detours on a CPU; everything else (weights, names, results)
    is nn.Conv2d's. Under bf16 autocast, when a gradient will be taken, it runs in fp32: oneDNN's bf16 depthwise
    gradients were up to 12× slower than its fp32 ones on a CPU with native bf16 (Lite0 fine-tuning its top blocks
    at 64 px: 334 -> 754 pictures/s); without a gradient it stays in bf16, whose forward pass is the fast one
    (Lite0 at 224 px: 336 pictures/s against 115 with fp32 depthwise layers). When training with stride 1 and a
    kernel larger than the feature map, it takes `_SmallMapDepthwise`'s gradient (which needs a fixed padding)."""

    fixed_padding = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        backward = torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        if torch.is_autocast_enabled("cpu") and backward:
            with torch.autocast("cpu", enabled=False):
                return self.forward(x.float())
        if (self.training and backward and self.stride == (1, 1) and self.bias is None
                and self.fixed_padding and max(self.kernel_size) > min(x.shape[-2:])):
            return _SmallMapDepthwise.apply(x, self.weight, self.padding)
        return super().forward(x)


class DepthwiseConv2dSame(DepthwiseConv2d):
    """timm's Conv2dSame (TensorFlow's 'SAME' padding, worked out per input size, in the tf_ EfficientNets' strided
    layers) as a DepthwiseConv2d."""

    fixed_padding = False

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        from timm.layers import conv2d_same
        return conv2d_same(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


def use_fast_depthwise(model: nn.Module) -> None:
    """Make the model's plain depthwise convolutions `DepthwiseConv2d`s (same parameters, same names)."""
    from timm.layers import Conv2dSame
    faster = {nn.Conv2d: DepthwiseConv2d, Conv2dSame: DepthwiseConv2dSame}
    for module in model.modules():
        if (type(module) in faster and module.groups == module.in_channels == module.out_channels > 1
                and module.dilation == (1, 1) and module.padding_mode == "zeros" and isinstance(module.padding, tuple)):
            module.__class__ = faster[type(module)]  # a subclass that only adds faster paths
