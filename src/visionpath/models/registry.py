"""The model registry: one row per model, with a builder a beginner can read, how the model wants its pixels
scaled, and the training recipe it was measured to work best with. Adding a pretrained backbone is one row:

    "resnet18": backbone("resnet18", "ResNet-18 (11.7 M parameters), weights from the hub."),
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from ..errors import VisionpathError
from ..i18n import tr
from .scratch import cnn, mlp, resnet9
from .transfer import IMAGENET_MEAN, IMAGENET_STD, transfer_builder


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

    @property
    def pretrained(self) -> bool:
        """A backbone with ImageNet weights to start from (trained in two stages), not a model from scratch."""
        return self.timm_name is not None


# Stage 1 (the head on cached features of the frozen backbone) costs one backbone pass plus a fraction of a second
# per epoch, so it gets many epochs; stage 2 (fine-tuning) is where the accuracy comes from.
TRANSFER_RECIPE = dict(epochs=10, fine_tune_epochs=3, lr=1e-3, augment="standard")


def backbone(timm_name: str, summary: str, resolution: int = 224, scaling: str = "fixed",
             mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> ModelEntry:
    """The entry of a timm architecture used as a pretrained backbone (ImageNet's normalisation unless told)."""
    return ModelEntry(transfer_builder(timm_name, summary, resolution), scaling, recipe=TRANSFER_RECIPE,
                      timm_name=timm_name, resolution=resolution, mean=mean, std=std)


MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry(mlp, input_scaling="unit"),
    "cnn": ModelEntry(cnn, input_scaling="unit", recipe=dict(epochs=6, batch_size=256, lr=6e-3, augment="standard")),
    "resnet9": ModelEntry(resnet9, input_scaling="standardize",
                          recipe=dict(epochs=17, batch_size=512, lr=1e-2, optimizer="adamw", weight_decay=5e-2,
                                      label_smoothing=0.1, augment="standard")),
    # pretrained backbones: `--pretrained` (or `--weights FILE`) trains them in two stages
    "efficientnet_lite0": backbone("tf_efficientnet_lite0", "EfficientNet-Lite0 (4.7 M parameters), pretrained "
                                   "weights offline.", scaling="symmetric", mean=(), std=()),
    "efficientnet_lite1": backbone("tf_efficientnet_lite1", "EfficientNet-Lite1 (5.4 M parameters, trained at 240 "
                                   "px), pretrained weights offline (the lite extra).", resolution=240,
                                   scaling="symmetric", mean=(), std=()),
    "efficientnet_lite2": backbone("tf_efficientnet_lite2", "EfficientNet-Lite2 (6.1 M parameters, trained at 260 "
                                   "px), pretrained weights offline (the lite extra).", resolution=260,
                                   scaling="symmetric", mean=(), std=()),
    "resnet18": backbone("resnet18", "ResNet-18 (11.7 M parameters), weights from the hub."),
    "resnet50": backbone("resnet50", "ResNet-50 (25.6 M parameters), weights from the hub."),
    "mobilenetv3": backbone("mobilenetv3_large_100", "MobileNetV3-Large (5.5 M parameters), weights from the hub."),
    "vgg16": backbone("vgg16", "VGG-16 (138 M parameters; the guide's classic), weights from the hub."),
    "convnext_tiny": backbone("convnext_tiny", "ConvNeXt-Tiny (28.6 M parameters), weights from the hub."),
}


def model_entry(name: str) -> ModelEntry:
    """A registered model, or `timm:<architecture>` for any timm model as a pretrained backbone."""
    if name.startswith("timm:"):
        return _timm_entry(name.removeprefix("timm:"))
    if name not in MODELS:
        raise VisionpathError(tr("unknown model '{name}'. Known models: {MODELS} (see `visionpath models`).",
                                 name=name, MODELS=', '.join(MODELS)))
    return MODELS[name]


def _timm_entry(timm_name: str) -> ModelEntry:
    import timm
    if timm_name not in timm.list_models():
        close = timm.list_models(f"*{timm_name[:4]}*")[:8]
        raise VisionpathError(tr("timm has no model '{name}'{similar} (see timm.list_models()).", name=timm_name,
                                 similar=tr("; similar: {names}", names=", ".join(close)) if close else ""))
    config = timm.get_pretrained_cfg(timm_name)
    config = config.to_dict() if config is not None else {}
    return backbone(timm_name, f"timm's {timm_name}.", (config.get("input_size") or (3, 224, 224))[-1],
                    mean=tuple(config.get("mean", IMAGENET_MEAN)), std=tuple(config.get("std", IMAGENET_STD)))


def create_model(name: str, num_classes: int, input_shape: tuple[int, int, int], **arguments) -> nn.Module:
    """Build a registered model. Arguments it does not take are an error now, not a surprise later."""
    entry = model_entry(name)
    unknown = sorted(set(arguments) - set(entry.arguments))
    if unknown:
        takes = ", ".join(f"{k}={v}" for k, v in entry.arguments.items()) or "nothing"
        raise VisionpathError(tr("model '{name}' has no argument {unknown}; it takes {takes}.",
                                 name=name, unknown=', '.join(unknown), takes=takes))
    for key, value in arguments.items():  # a checkpoint's stored arguments may have been edited or damaged
        wanted = {int: int, float: (int, float)}.get(type(entry.arguments[key]))
        if wanted and (isinstance(value, bool) or not isinstance(value, wanted)):
            raise VisionpathError(tr("model '{name}' takes {key} as {kind} (got {value!r}).", name=name, key=key,
                                     kind=tr("a whole number") if wanted is int else tr("a number"), value=value))
    return entry.build(num_classes, tuple(input_shape), **arguments)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
