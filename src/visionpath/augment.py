"""Data augmentation on the fly: every epoch sees slightly different pictures, so the network cannot memorise them.

Augmentation works on whole batches already on the training device, with different random settings for every
picture and no per-image Python: a flip is a `torch.where`, shifts, rotations and zooms are one affine resampling
of the batch (`F.affine_grid` + `F.grid_sample`), random erasing is a mask. torchvision's transforms v2 draw one
setting per call, so the `strong` preset applies v2's TrivialAugmentWide to small groups of pictures, each group
with its own operation.

Presets:
    none      the pictures as they are (the way to see overfitting)
    standard  random crop with padding (a shift of up to 1/8 of the side, edges mirrored) and horizontal flip
    strong    standard, plus TrivialAugmentWide (one random colour or geometry operation per group) and random
              erasing (a random rectangle blanked in a quarter of the pictures)
The flags rotation (degrees), shift and zoom (fractions of the side) and flip override the preset's values.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from .errors import VisionpathError
from .i18n import tr
from .models import scale_pixels  # one scaling function for training, evaluation and prediction


@dataclass(frozen=True)
class Augmentation:
    rotation: float = 0.0      # largest rotation, in degrees, either way
    shift: float = 0.0         # largest shift, as a fraction of the side, in each direction
    zoom: float = 0.0          # largest zoom in or out, as a fraction (0.1: 90% to 110%)
    flip: bool = False         # mirror left-right half of the time
    trivial_augment: bool = False
    erasing: float = 0.0       # share of pictures that get a random rectangle blanked

    @property
    def active(self) -> bool:
        return any(asdict(self).values())

    def describe(self) -> str:
        parts = [tr("rotation ±{rotation:g}°", rotation=self.rotation) if self.rotation else "",
                 tr("shift ±{shift:.0%}", shift=self.shift) if self.shift else "",
                 tr("zoom ±{zoom:.0%}", zoom=self.zoom) if self.zoom else "",
                 tr("horizontal flip") if self.flip else "", "TrivialAugmentWide" if self.trivial_augment else "",
                 tr("random erasing ({erasing:.0%})", erasing=self.erasing) if self.erasing else ""]
        return ", ".join(p for p in parts if p) or tr("none")


# The largest rotation (degrees), shift and zoom (fractions of the side) a flag may ask for.
LIMITS = {"rotation": 180, "shift": 0.5, "zoom": 0.9}

PRESETS = {
    "none": Augmentation(),
    "standard": Augmentation(shift=0.125, flip=True),
    "strong": Augmentation(shift=0.125, flip=True, trivial_augment=True, erasing=0.25),
}


def make_augmentation(preset: str, rotation: float | None = None, shift: float | None = None,
                      zoom: float | None = None, flip: bool | None = None, mirror_safe: bool = True) -> Augmentation:
    """The preset, with any flag given overriding it. Pictures that are not mirror_safe (a mirrored digit is not
    the same digit) get the preset's flips only when `flip` asks for them."""
    if preset not in PRESETS:
        raise VisionpathError(tr("unknown augmentation preset '{preset}'; choose from {PRESETS}.",
                                 preset=preset, PRESETS=', '.join(PRESETS)))
    changes = {k: v for k, v in dict(rotation=rotation, shift=shift, zoom=zoom, flip=flip).items() if v is not None}
    for key, limit in LIMITS.items():
        if key in changes and not 0 <= changes[key] <= limit:
            raise VisionpathError(tr("--{key} must be between 0 and {limit} (got {changes}).",
                                     key=key, limit=limit, changes=changes[key]))
    if not mirror_safe and flip is None:
        changes["flip"] = False
    return replace(PRESETS[preset], **changes)


def _uniform(n: int, low: float, high: float, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, device=device, generator=generator) * (high - low) + low


def geometric(x: torch.Tensor, aug: Augmentation, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-picture flip, shift, rotation and zoom of a float batch N×C×H×W in one resampling; edges mirrored."""
    n, _, height, width = x.shape
    dev = x.device
    if aug.flip and not (aug.shift or aug.rotation or aug.zoom):  # the cheap path: no resampling at all
        mirror = torch.rand(n, 1, 1, 1, device=dev, generator=generator) < 0.5
        return torch.where(mirror, x.flip(-1), x)
    angle = _uniform(n, -aug.rotation, aug.rotation, dev, generator) * (math.pi / 180)
    scale = 1 / _uniform(n, 1 - aug.zoom, 1 + aug.zoom, dev, generator)  # zoom in = sample a smaller area
    sign = torch.where(torch.rand(n, device=dev, generator=generator) < 0.5, -1.0, 1.0) if aug.flip else \
        torch.ones(n, device=dev)
    # Whole-pixel shifts keep a crop-with-padding exact (grid coordinates span 2 units over the side).
    dx = torch.randint(-int(aug.shift * width), int(aug.shift * width) + 1, (n,), device=dev, generator=generator)
    dy = torch.randint(-int(aug.shift * height), int(aug.shift * height) + 1, (n,), device=dev, generator=generator)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos * sign, -sin, dx * 2.0 / width], 1),
                         torch.stack([sin * sign, cos, dy * 2.0 / height], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # Nearest keeps pixels exact when nothing rotates or scales; bilinear otherwise.
    mode = "bilinear" if aug.rotation or aug.zoom else "nearest"
    return F.grid_sample(x, grid, mode=mode, padding_mode="reflection", align_corners=False)


def erase(x: torch.Tensor, share: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random erasing: in `share` of the pictures, a rectangle of 2-33% of the area (aspect 0.3-3.3) is set to 0,
    which after normalisation is the average colour."""
    n, _, height, width = x.shape
    dev = x.device
    area = _uniform(n, 0.02, 0.33, dev, generator) * height * width
    aspect = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), dev, generator))
    h = (area * aspect).sqrt().clamp(1, height)
    w = (area / aspect).sqrt().clamp(1, width)
    top = torch.rand(n, device=dev, generator=generator) * (height - h)
    left = torch.rand(n, device=dev, generator=generator) * (width - w)
    rows = torch.arange(height, device=dev).view(1, -1, 1)
    cols = torch.arange(width, device=dev).view(1, 1, -1)
    inside = ((rows >= top.view(-1, 1, 1)) & (rows < (top + h).view(-1, 1, 1)) &
              (cols >= left.view(-1, 1, 1)) & (cols < (left + w).view(-1, 1, 1)))
    chosen = torch.rand(n, 1, 1, device=dev, generator=generator) < share
    return x.masked_fill((inside & chosen).unsqueeze(1), 0.0)


_TRIVIAL = v2.TrivialAugmentWide()
GROUP = 16  # pictures that share one TrivialAugment operation


def trivial_augment(images: torch.Tensor) -> torch.Tensor:
    """TrivialAugmentWide from torchvision's transforms v2 on a uint8 batch, one random operation per group of
    GROUP pictures (v2 draws one setting per call; groups keep the batch diverse without a per-image loop)."""
    groups = [_TRIVIAL(chunk) for chunk in images.split(GROUP)]
    return torch.cat(groups)


def augment_batch(images: torch.Tensor, aug: Augmentation, mean: list[float], std: list[float],
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 batch in, augmented and scaled float batch out (same device); with no augmentation, just scaled."""
    if aug.trivial_augment:
        images = trivial_augment(images)
    x = scale_pixels(images, mean, std)
    if aug.flip or aug.shift or aug.rotation or aug.zoom:
        x = geometric(x, aug, generator)
    if aug.erasing:
        x = erase(x, aug.erasing, generator)
    return x
