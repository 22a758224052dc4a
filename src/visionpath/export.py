"""Export: a run's classifier as one file that runs without visionpath — ONNX (onnxruntime, any language) or
TorchScript (PyTorch alone).

The exported graph takes what visionpath's decoder produces, uint8 pictures N×C×H×W at the run's input size
(RGB, or grey with C = 1), and does the scaling inside, ending in probabilities: a consumer needs only a decoder
and a resize. The batch axis is dynamic. The class names, input size, layout, channel order and the visionpath
and model versions travel in the file's metadata (ONNX metadata_props; TorchScript: an extra file
`visionpath.json`). Every export is checked before it is kept: the file is run on pictures and must answer as the
run's own model does, within 1e-4.
"""
from __future__ import annotations

import io
import json
import time
import warnings
from pathlib import Path
from typing import Annotated, Callable

import numpy as np
import torch

from .console import say
from .errors import VisionpathError
from .extras import require
from .files import atomic_write
from .i18n import tr
from .options import Option, RUN, check_output, checked
from .run_files import checkpoint_path, load_model
from .version import __version__

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
TOLERANCE = 1e-4  # the largest difference in any probability between the exported file and the run's own model


class Packaged(torch.nn.Module):
    """The run's model with its pixel scaling in front and softmax behind: uint8 pictures in, probabilities out."""

    def __init__(self, net: torch.nn.Module, mean: list[float], std: list[float]):
        super().__init__()
        self.net = net
        # (x / 255 - mean) / std, as one subtraction and one division of the uint8 values
        self.register_buffer("offset", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.register_buffer("scale", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return self.net((pictures.float() - self.offset) / self.scale).softmax(1)


@checked
def export(run: Annotated[str | Path, RUN],
           format: Annotated[str, Option("onnx (onnxruntime, any language) or torchscript (PyTorch alone)",
                                         choices=tuple(FORMATS))] = "onnx",
           output: Annotated[str | Path | None, Option("the file to write (default: model.onnx or model.pt in the "
                                                       "run folder)", path="output")] = None) -> Path:
    """Write a run's best weights as one file (format onnx or torchscript); returns its path. output: where
    (default: model.onnx or model.pt beside the checkpoint, in the run folder)."""
    checkpoint = checkpoint_path(run)
    path = Path(output) if output else checkpoint.parent / f"model{FORMATS[format]}"
    if not output:  # a given one is checked with the other options; this one before the work, not after it
        check_output("--output", path)
    net, meta = load_model(checkpoint)
    packaged = Packaged(net, meta["mean"], meta["std"]).eval()
    channels, height, width = meta["input_shape"]
    example = torch.randint(0, 256, (3, channels, height, width), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(0))
    say(tr("exporting {model} to {format} (a few seconds; up to half a minute for a large backbone)",
           model=meta['model'], format=format))
    t0 = time.perf_counter()
    data = to_onnx(packaged, example, metadata(meta)) if format == "onnx" else \
        to_torchscript(packaged, example, metadata(meta))
    # checked before it is kept: the file, loaded as a consumer would, against the run's own model
    with torch.inference_mode():
        expected = packaged(example).numpy()
    answer = (onnx_runner(data) if format == "onnx" else torchscript_runner(data))(example.numpy())
    if not np.abs(answer - expected).max() <= TOLERANCE:
        raise VisionpathError(tr("the exported {format} file answers up to {max:.2g} away from the run's own model "
                                 "(more than {TOLERANCE:g}); it was not written.",
                                 format=format, max=np.abs(answer - expected).max(), TOLERANCE=TOLERANCE))
    atomic_write(path, data)
    classes = meta["classes"]
    named = ", ".join(classes[:5]) + (f", … {len(classes)} classes in all" if len(classes) > 5 else "")
    say(tr("exported {model} ({named}) to {path} ({value:.1f} MB, {value2:.1f}s): uint8 pictures "
           "N×{channels}×{height}×{width} in, probabilities out; checked against the run's own model within "
           "{TOLERANCE:g}",
           model=meta['model'], named=named, path=path, value=len(data) / 1e6, value2=time.perf_counter() - t0,
           channels=channels, height=height, width=width, TOLERANCE=TOLERANCE))
    return path


def metadata(meta: dict) -> dict[str, str]:
    """What a consumer needs to feed the file and read its answer, as text."""
    channels, height, width = meta["input_shape"]
    facts = {"classes": meta["classes"], "input_shape": meta["input_shape"], "layout": "NCHW", "dtype": "uint8",
             "channel_order": "RGB" if channels == 3 else "grey", "output": "probabilities",
             "model": meta["model"], "model_args": meta["model_args"], "visionpath_version": __version__,
             "trained_with": meta.get("visionpath_version"), "mirror_safe": meta.get("mirror_safe", True),
             "dataset": meta.get("dataset"), "border_brightness": meta.get("border_brightness")}
    return {key: json.dumps(value) for key, value in facts.items()}


def to_onnx(packaged: Packaged, example: torch.Tensor, props: dict[str, str]) -> bytes:
    """The ONNX file's bytes, through PyTorch's exporter, with a dynamic batch axis and the metadata."""
    onnx = needed("onnx")
    needed("onnxscript")  # PyTorch's exporter builds the graph with it
    program = torch.onnx.export(packaged, (example,), dynamo=True, verbose=False, input_names=["pictures"],
                                output_names=["probabilities"],
                                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    proto = program.model_proto
    onnx.helper.set_model_props(proto, props)
    return proto.SerializeToString()


def to_torchscript(packaged: Packaged, example: torch.Tensor, props: dict[str, str]) -> bytes:
    """The TorchScript file's bytes (traced), with the metadata as the extra file visionpath.json. PyTorch 2.14
    deprecates TorchScript in favour of torch.export; it is kept as the format PyTorch-only consumers (C++,
    mobile) still load, and its deprecation warnings are the export's to know, not the user's."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.trace(packaged, example), buffer,
                       _extra_files={"visionpath.json": json.dumps(props)})
    return buffer.getvalue()


def needed(module: str):
    """An optional package export needs, or one sentence saying how to install it."""
    return require(module, "export", tr("exporting to ONNX and running ONNX files"))


def onnx_runner(data: bytes | str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 pictures (numpy) -> probabilities, through onnxruntime."""
    ort = needed("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings about unused initialisers are not the user's
    session = ort.InferenceSession(data if isinstance(data, bytes) else str(data), options,
                                   providers=["CPUExecutionProvider"])
    return lambda pictures: session.run(None, {"pictures": pictures})[0]


def torchscript_runner(data: bytes | str | Path, extra: dict[str, bytes] | None = None
                       ) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 pictures (numpy) -> probabilities, through the TorchScript file (its bytes, or its path); `extra`:
    the extra files to read from it, filled in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = torch.jit.load(io.BytesIO(data) if isinstance(data, bytes) else str(data), map_location="cpu",
                               _extra_files=extra if extra is not None else {})

    def run(pictures: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(pictures)).numpy()
    return run


def load_exported(path: str | Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """(uint8 pictures -> probabilities, the metadata) of an exported file: ONNX through onnxruntime, TorchScript
    (.pt) through PyTorch."""
    torchscript = Path(path).suffix == ".pt"
    kind = tr("a TorchScript file") if torchscript else tr("an ONNX file")
    try:
        if torchscript:
            extra = {"visionpath.json": b""}
            runner = torchscript_runner(path, extra)
            facts = {key: json.loads(value) for key, value in json.loads(extra["visionpath.json"] or "{}").items()}
        else:
            proto = needed("onnx").load(str(path), load_external_data=False)
            facts = {p.key: json.loads(p.value) for p in proto.metadata_props}
    except VisionpathError:
        raise
    except Exception as e:  # not the format its name says, or damaged: one sentence
        why = (str(e).strip() or type(e).__name__).splitlines()[0].split(". ")[0].rstrip(".")  # the first sentence
        raise VisionpathError(tr("{path} cannot be read as {kind} ({why}); predict and serve read a run folder, its "
                                 ".safetensors checkpoints, and the model.onnx or model.pt that `visionpath export "
                                 "RUN` writes.", path=path, kind=kind, why=why)) from None
    props = {key: value for key, value in facts.items() if value is not None}  # facts the run did not have
    if "classes" not in props or "input_shape" not in props:
        raise VisionpathError(tr("{path} was not exported by visionpath (it names no classes and input size); export "
                                 "a run with `visionpath export RUN`.", path=path))
    return (runner if torchscript else onnx_runner(path)), props
