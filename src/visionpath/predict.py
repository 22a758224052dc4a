"""Prediction: pictures in, the top classes with their probabilities out.

Each picture goes through the same decoding as training did (`load_image`, or its batched form `load_images`), at
the checkpoint's input size and channel count, so a file is seen by the model exactly as it would have been in
training.
"""
from __future__ import annotations

import csv as csv_module
import glob
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable

import torch

from .console import progress_bar, say
from .data import DATASETS
from .data.layout import images_in
from .data.images import is_image_file, load_images
from .devices import pick_device
from .errors import VisionpathError
from .export import load_exported
from .files import atomic_write
from .i18n import tr
from .models import border_brightness, logits_in_batches
from .options import DEVICE, Option, PROBABILITY, RUN_OR_EXPORTED, checked
from .run_files import load_model

SHOWN = 20  # predictions printed to the terminal; the CSV has them all


@dataclass
class Prediction:
    path: str
    label: str                      # the most likely class
    probability: float              # its probability (softmax of the scores)
    top: list[tuple[str, float]]    # the top-k classes, most likely first
    uncertain: bool = False         # probability below the min_confidence asked for


def collect_images(inputs: list[str | Path] | str | Path) -> list[Path]:
    """Files, folders (searched recursively) and glob patterns -> image files, in the order given."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_file():  # asked first: a list of 10,000 files then costs 10,000 stat calls, not 20,000
            found.append(path)
        elif path.is_dir():
            found += images_in(path)
        elif any(c in str(item) for c in "*?["):
            found += sorted(Path(p) for p in glob.glob(str(item), recursive=True) if is_image_file(Path(p)))
        else:
            raise VisionpathError(tr("{item} does not exist; give image files, folders or glob patterns.", item=item))
    if not found:
        raise VisionpathError(tr("no images found in {map} (accepted: .jpg .jpeg .png .bmp .webp .gif .tif .tiff).",
                                 map=', '.join(map(str, inputs))))
    return found


def classifier(run: str | Path, device: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], dict]:
    """(uint8 pictures -> probabilities, the model's metadata): a run folder or checkpoint through PyTorch on
    `device`, or a file `visionpath export` wrote: ONNX through onnxruntime, TorchScript (.pt) through PyTorch, on
    the CPU."""
    if Path(run).suffix in (".onnx", ".pt"):
        runner, meta = load_exported(run)
        return (lambda batch: torch.from_numpy(runner(batch.numpy()))), meta
    chosen = pick_device(device)
    model, meta = load_model(run, device=chosen)
    return (lambda batch: logits_in_batches(model, batch, meta["mean"], meta["std"], chosen).softmax(1)), meta


@checked
def predict(run: Annotated[str | Path, RUN_OR_EXPORTED],
            images: Annotated[list[str | Path] | str | Path,
                              Option("image files, folders or glob patterns", positional=True)],
            top_k: Annotated[int, Option("classes shown per image", valid="≥ 1")] = 5,
            csv: Annotated[str | Path | None, Option("write all predictions to this CSV file", path="output")] = None,
            batch_size: Annotated[int, Option("images per forward pass", valid="≥ 1")] = 256,
            min_confidence: Annotated[float, PROBABILITY] = 0.0,
            tta: Annotated[bool, Option("test-time augmentation: average with the mirrored picture")] = False,
            device: Annotated[str, DEVICE] = "auto") -> list[Prediction]:
    """Classify pictures with a run's best weights (run: its folder or checkpoint, or a model.onnx that `export`
    wrote, run through onnxruntime). Unreadable files are listed and skipped, not fatal.

    images: files, folders (searched recursively) or glob patterns. csv: write every prediction there (path,
    label, probability, uncertain, top-k). min_confidence: predictions whose probability is below it are marked
    uncertain (a person should look). tta: also classify each picture mirrored and average the two (test-time
    augmentation: a little more accurate, twice the work). device: where the model runs (auto: a GPU when there is
    one, else the CPU)."""
    classify, meta = classifier(run, device)
    classes, (channels, height, width) = meta["classes"], meta["input_shape"]
    top_k = min(top_k, len(classes))
    paths = collect_images(images)
    if tta and not meta.get("mirror_safe", DATASETS[meta["dataset"]].mirror_safe if meta.get("dataset") in DATASETS
                            else True):
        say(tr("--tta: no mirrored copies for this model: its training pictures were never mirrored (a mirrored "
               "digit is not the same digit), so the pictures are classified as they are"))
        tta = False

    results: list[Prediction] = []
    unreadable: list[str] = []
    inverted: list[str] = []  # background far lighter or darker than the training pictures'
    with ThreadPoolExecutor(max_workers=4) as pool, progress_bar() as bar:
        task = bar.add_task("predicting", total=len(paths), status="")
        for first in range(0, len(paths), batch_size):
            batch = paths[first: first + batch_size]
            batch_paths, tensors = [], []
            for path, image in zip(batch, load_images(batch, (height, width), channels, pool)):
                if isinstance(image, str):
                    unreadable.append(image)
                else:
                    batch_paths.append(path)
                    tensors.append(image)
            if tensors:
                batch = torch.stack(tensors)
                if "border_brightness" in meta:
                    odd = (border_brightness(batch) - meta["border_brightness"]).abs() > 128
                    inverted += [str(p) for p, flag in zip(batch_paths, odd.tolist()) if flag]
                probabilities = classify(batch)
                if tta:
                    probabilities = (probabilities + classify(batch.flip(-1))) / 2
                probs, index = probabilities.topk(top_k, dim=1)
                for path, p, i in zip(batch_paths, probs.tolist(), index.tolist()):
                    top = [(classes[c], q) for c, q in zip(i, p)]
                    results.append(Prediction(str(path), top[0][0], top[0][1], top, top[0][1] < min_confidence))
            bar.advance(task, len(batch))

    say_results(results, csv)
    if inverted:
        light = meta["border_brightness"] < 128
        say(tr("warning: {n_inverted} picture(s) have a {value} background, but the model was trained on pictures "
               "with a {value2} one (e.g. {inverted}); its answers for them are unreliable. Invert them first "
               "(PIL.ImageOps.invert) to match the training data.",
               n_inverted=len(inverted), value=tr("light") if light else tr("dark"),
               value2=tr("dark") if light else tr("light"),
               inverted=inverted[0]))
    if min_confidence:
        n = sum(r.uncertain for r in results)
        say(tr("{n:,} of {n_results:,} predictions are below --min-confidence {min_confidence:g} and marked "
               "uncertain: worth a person's look",
               n=n, n_results=len(results), min_confidence=min_confidence))
    if unreadable:
        say(tr("skipped {n_unreadable} unreadable file(s):", n_unreadable=len(unreadable)) + "\n  "
            + "\n  ".join(unreadable))
    if csv:
        write_csv(csv, results, top_k)
    if not results:
        raise VisionpathError(tr("none of the given files could be read as an image."))
    return results


def say_results(results: list[Prediction], csv: str | Path | None) -> None:
    """The first SHOWN predictions, a line each, and how many more there are."""
    for r in results[:SHOWN]:
        say(f"{r.path}: " + " · ".join(f"{name} {p:.1%}" for name, p in r.top)
            + (tr(" (uncertain)") if r.uncertain else ""))
    if len(results) > SHOWN:
        say(tr("... and {value:,} more", value=len(results) - SHOWN)
            + ("" if csv else tr(" (write them all with --csv FILE)")))


def write_csv(path: str | Path, results: list[Prediction], top_k: int) -> None:
    """Every prediction, one row each: path, label, probability, uncertain, then the top-k classes and theirs."""
    text = io.StringIO()
    writer = csv_module.writer(text)
    writer.writerow(["path", "label", "probability", "uncertain"] + [f"top{k + 1}" for k in range(top_k)]
                    + [f"top{k + 1}_probability" for k in range(top_k)])
    for r in results:
        writer.writerow([r.path, r.label, f"{r.probability:.6f}", int(r.uncertain)] + [n for n, _ in r.top]
                        + [f"{p:.6f}" for _, p in r.top])
    atomic_write(path, text.getvalue())
    say(tr("wrote {n_results:,} predictions to {path}", n_results=len(results), path=path))
