"""Seeing inside: the training pictures as the model gets them, a convolution layer's filters and feature maps,
and where in a photo the model looked (Grad-CAM).

    visionpath show cifar10                  # a grid of training pictures, and the same through augmentation
    visionpath filters RUN photo.jpg         # the first convolution's filters, and what each makes of the photo
    visionpath explain RUN photo.jpg ...     # a heat map over each photo of where the model looked for its class

Grad-CAM (Selvaraju et al., 2017) weighs the last feature maps that still have a place in the picture by how much
the top class's score rises with each, and keeps the positive sum: the places whose features argued for the
class. It is the gradient of one score and one weighted sum, so it is done here with PyTorch's autograd rather
than with the `grad-cam` package (which brings OpenCV for its resizing and colour maps) or Captum (a whole
attribution framework): the few lines below work for every model visionpath builds, scratch or pretrained.
Figures are drawn on matplotlib's `Figure` directly, never through pyplot, as in `report`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.figure import Figure

from .augment import augment_batch, make_augmentation
from .config import TrainConfig
from .console import printable, say
from .data import load_image
from .defaults import resolve
from .errors import VisionpathError
from .files import save_figure
from .i18n import drawn_in_language, tr
from .models import scale_pixels
from .options import DATA, DATA_DIR, Option, PICTURE_OUTPUT, RUN, check_output, checked
from .run_files import load_model, load_run_data


@dataclass
class Explanation:
    path: str
    label: str                # the class the model chose, whose evidence the heat map shows
    probability: float
    heatmap: torch.Tensor     # H×W in [0, 1] at the model's input size: 1 where the evidence was strongest


def last_spatial_maps(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the model's scores for x, the last activations in its forward pass that are still feature maps, N×C×H×W
    with H, W > 1): what Grad-CAM weighs. Found by watching the forward pass, so no layer name is needed."""
    found: list[torch.Tensor] = []

    def keep(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.dim() == 4 and min(output.shape[-2:]) > 1:
            found.append(output)
    hooks = [m.register_forward_hook(keep) for m in model.modules() if not list(m.children())]
    try:
        scores = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    if not found:
        raise VisionpathError(tr("explain needs a convolutional model (its feature maps say where it looked); this "
                                 "one has none: a dense network sees the picture as one row of numbers."))
    return scores, found[-1]


def grad_cam(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities N×classes, heat maps N×H×W in [0, 1] at x's size) for each picture's top class."""
    model.eval()
    with torch.enable_grad():  # from the pixels on, so that a model with frozen weights has gradients too
        scores, maps = last_spatial_maps(model, x.detach().requires_grad_(True))
        top = scores.argmax(1)
        gradients, = torch.autograd.grad(scores.gather(1, top[:, None]).sum(), maps)
    weights = gradients.mean(dim=(2, 3), keepdim=True)           # how much each feature map argued for the class
    cam = F.relu((weights * maps).sum(1, keepdim=True)).detach()  # where, keeping only the evidence for it
    cam = F.interpolate(cam.float(), size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return scores.detach().float().softmax(1), cam / peak


def heat_overlays(model: torch.nn.Module, meta: dict, pictures: torch.Tensor, chunk: int = 16
                  ) -> torch.Tensor | None:
    """Each uint8 picture with the Grad-CAM map of its top class laid over it (red: where the model found its
    evidence), uint8 N×3×H×W; None for a model without feature maps (a dense network)."""
    overlays = []
    for i in range(0, len(pictures), chunk):  # the backward pass keeps every activation: a few pictures at a time
        batch = pictures[i: i + chunk]
        try:
            heat = grad_cam(model, scale_pixels(batch, meta["mean"], meta["std"]))[1]
        except VisionpathError:
            return None
        colours = torch.from_numpy(colormaps["jet"](heat.numpy())[..., :3]).permute(0, 3, 1, 2).float()
        base = batch.float().expand(-1, 3, -1, -1) / 255
        overlays.append(((0.55 * base + 0.45 * colours) * 255).round().byte())
    return torch.cat(overlays) if overlays else None


@checked
def explain(run: Annotated[str | Path, RUN],
            images: Annotated[list[str | Path] | str | Path, Option("picture files", positional=True)],
            output: Annotated[str | Path, PICTURE_OUTPUT] = "explained.png") -> list[Explanation]:
    """Grad-CAM for each picture: where the run's model looked for the class it chose, drawn over the picture
    (written to `output`, one row per picture)."""
    images = [images] if isinstance(images, (str, Path)) else list(images)
    model, meta = load_model(run)
    channels, height, width = meta["input_shape"]
    pictures = torch.stack([load_image(path, (height, width), channels) for path in images])
    probabilities, heatmaps = grad_cam(model, scale_pixels(pictures, meta["mean"], meta["std"]))
    found = [Explanation(str(path), meta["classes"][int(p.argmax())], float(p.max()), heat)
             for path, p, heat in zip(images, probabilities, heatmaps)]
    draw_explanations(pictures, found, output)
    say(tr("wrote {output}: where the model looked for its class in {n_found} picture(s) (Grad-CAM: red is the "
           "strongest evidence)",
           output=output, n_found=len(found)))
    return found


@drawn_in_language
def draw_explanations(pictures: torch.Tensor, found: list[Explanation], output: str | Path) -> None:
    channels = pictures.shape[1]
    fig = Figure(figsize=(6, 3 * len(found)), layout="constrained")
    for row, (picture, item) in enumerate(zip(pictures, found)):
        shown = picture.permute(1, 2, 0).squeeze(-1).numpy()
        left, right = fig.add_subplot(len(found), 2, 2 * row + 1), fig.add_subplot(len(found), 2, 2 * row + 2)
        left.imshow(shown, cmap="gray" if channels == 1 else None)
        left.set_title(Path(item.path).name, fontsize=9)
        right.imshow(shown, cmap="gray" if channels == 1 else None)
        right.imshow(item.heatmap.numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
        right.set_title(tr("looked here for {label} ({probability:.1%})",
                           label=item.label, probability=item.probability), fontsize=9)
        for axes in (left, right):
            axes.axis("off")
    save_figure(fig, output, dpi=110)


def first_convolution(model: torch.nn.Module) -> torch.nn.Conv2d:
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if conv is None:
        raise VisionpathError(tr("filters needs a convolutional model; a dense network has no filters to show (its "
                                 "first layer's weights are one row per unit: see the lessons' Part 1)."))
    return conv


def tile(values: torch.Tensor) -> torch.Tensor:
    """Each item scaled to 0-1 on its own (a filter's sign and size are arbitrary; its pattern is what shows)."""
    flat = values.flatten(1)
    low, high = flat.amin(1), flat.amax(1)
    shape = (-1,) + (1,) * (values.dim() - 1)
    return (values - low.view(shape)) / (high - low).clamp_min(1e-12).view(shape)


@checked
def filters(run: Annotated[str | Path, RUN],
            image: Annotated[str | Path | None, Option("a picture whose feature maps to draw", positional=True)] = None,
            output: Annotated[str | Path, PICTURE_OUTPUT] = "filters.png",
            maps: Annotated[int, Option("feature maps drawn", valid="≥ 1")] = 32
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first convolution layer's filters (as small pictures: in colour for a colour model) and, given a picture,
    the feature maps they make of it (the first `maps` of them): the edges and colours the network starts from.
    Returns (the filters' weights, the feature maps or None)."""
    model, meta = load_model(run)
    conv = first_convolution(model)
    weights = conv.weight.detach().float()
    seen = None
    if image is not None:
        channels, height, width = meta["input_shape"]
        picture = load_image(image, (height, width), channels)[None]
        captured: list[torch.Tensor] = []  # a copy: the ReLU after the convolution may work in place
        hook = conv.register_forward_hook(lambda m, i, out: captured.append(out.detach().float().clone()))
        with torch.inference_mode():
            model.eval()(scale_pixels(picture, meta["mean"], meta["std"]))
        hook.remove()
        seen = captured[0][0]
    draw_filters(weights, seen, maps, output, meta["model"])
    say(tr("wrote {output}: the first convolution's {count} filters", output=output, count=len(weights))
        + (tr(" and the feature maps of the picture") if seen is not None else ""))
    return weights, seen


@drawn_in_language
def draw_filters(weights: torch.Tensor, seen: torch.Tensor | None, maps: int, output: str | Path, name: str) -> None:
    count = len(weights)
    columns = min(16, count)
    rows = math.ceil(count / columns)
    map_rows = math.ceil(min(maps, len(seen)) / columns) if seen is not None else 0
    fig = Figure(figsize=(columns * 0.7, (rows + map_rows) * 0.75 + 0.8), layout="constrained")
    panels = fig.subfigures(2 if seen is not None else 1, 1, height_ratios=[rows, map_rows] if seen is not None else
                            None, squeeze=False)[:, 0]
    colour = weights.shape[1] == 3
    shown = tile(weights.permute(0, 2, 3, 1) if colour else weights.mean(1))
    panels[0].suptitle(tr("{name}: the {count} filters of the first convolution ({shape}×{shape2}{value})",
                          name=name, count=count, shape=weights.shape[-2], shape2=weights.shape[-1],
                          value=tr(', in colour') if colour else ''), fontsize=9)
    for i, axes in enumerate(panels[0].subplots(rows, columns, squeeze=False).flat):
        axes.axis("off")
        if i < count:
            axes.imshow(shown[i].numpy(), cmap=None if colour else "gray", interpolation="nearest")
    if seen is not None:
        chosen = tile(seen[:maps])
        panels[1].suptitle(tr("what the first {n_chosen} filters make of the picture (bright: a strong response)",
                              n_chosen=len(chosen)),
                           fontsize=9)
        for i, axes in enumerate(panels[1].subplots(map_rows, columns, squeeze=False).flat):
            axes.axis("off")
            if i < len(chosen):
                axes.imshow(chosen[i].numpy(), cmap="viridis")
    save_figure(fig, output, dpi=110)


@checked
def show(data: Annotated[str | Path, DATA],
         output: Annotated[str | Path | None, Option("the PNG to write (default: <data>-batch.png)", path="output")
                           ] = None,
         count: Annotated[int, Option("pictures shown", valid="[1, 64]")] = 16,
         model: Annotated[str | None, Option("the model the run would train: its recipe's augmentation is shown")
                          ] = None,
         augment: Annotated[str | None, Option("an augmentation preset instead of the run's: none, standard or "
                                               "strong")] = None,
         data_dir: Annotated[str | Path | None, DATA_DIR] = None,
         seed: Annotated[int, Option("which pictures and augmentations")] = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A grid of `count` training pictures with their labels, and below it the same pictures through the
    augmentation that `visionpath train DATA [--model MODEL]` would use (or `augment`, a preset): what the model
    is shown. Written to `output` (default: <data>-batch.png). Returns (the pictures, the augmented pictures),
    uint8."""
    config, _ = resolve(TrainConfig(data=str(data), data_dir=data_dir, model=model, augment=augment, seed=seed))
    if output is None:  # a given one is checked with the other options
        output = f"{Path(str(data)).name or 'data'}-batch.png"
        check_output("--output", output)
    dataset = load_run_data(config)  # as `visionpath train` reads them: the same size for the same folder and model
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(dataset.train), generator=generator)[:count]
    pictures, labels = dataset.train.images[index], dataset.train.labels[index]
    augmentation = make_augmentation(config.augment, config.rotation, config.shift, config.zoom, config.flip,
                                     dataset.mirror_safe)
    mean, std = [0.0] * pictures.shape[1], [1.0] * pictures.shape[1]  # scale to 0-1 only, to draw them back
    augmented = (augment_batch(pictures, augmentation, mean, std, generator).clamp(0, 1) * 255).round().byte()
    names = [dataset.classes[i] for i in labels.tolist()]
    draw_batch(pictures, augmented if augmentation.active else None, names, augmentation.describe(), output)
    say(tr("wrote {output}: {n_pictures} training pictures with their labels", output=output, n_pictures=len(pictures))
        + (tr(", and the same through augmentation") if augmentation.active else ""))
    if not augmentation.active:
        say(tr("{value} trains on {data} without augmentation, so the pictures are shown as they are (--augment "
               "standard or strong shows what augmentation would do)",
               value=config.model or tr('this model'), data=data))
    return pictures, augmented


@drawn_in_language
def draw_batch(pictures: torch.Tensor, augmented: torch.Tensor | None, names: list[str], augmentation: str,
               output: str | Path) -> None:
    columns = min(8, len(pictures))
    rows = math.ceil(len(pictures) / columns)
    shown = [(pictures, tr("training pictures with their labels, as decoded"))] + \
        ([(augmented, tr("the same through the run's augmentation: {describe}", describe=augmentation))]
         if augmented is not None else [])
    fig = Figure(figsize=(columns * 1.3, rows * len(shown) * 1.45 + 0.6), layout="constrained")
    for panel, (batch, title) in zip(fig.subfigures(len(shown), 1, squeeze=False)[:, 0], shown):
        panel.suptitle(title, fontsize=9)
        for i, axes in enumerate(panel.subplots(rows, columns, squeeze=False).flat):
            axes.axis("off")
            if i < len(batch):
                axes.imshow(batch[i].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray" if batch.shape[1] == 1 else None,
                            vmin=0, vmax=255)
                axes.set_title(printable(names[i]), fontsize=8)  # matplotlib draws no undecodable bytes
    save_figure(fig, output, dpi=110)
