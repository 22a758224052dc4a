"""Checkpoints: one safetensors file each, weights plus JSON metadata in the file's header, written atomically.

The metadata holds what is needed to use the weights without the training code's memory of them: model name
and arguments, class names, input shape and normalisation, the visionpath version. `last.safetensors` also
holds what resuming needs (optimiser state, random-number-generator states, epoch and history), so a run can
continue exactly where it stopped; one file means weights and resume state can never disagree.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from .errors import VisionpathError
from .files import atomic_write
from .i18n import tr

METADATA_KEY = "visionpath"
FORMAT = 1  # raise when the metadata changes so that an older visionpath must not read it; every older one is read
REQUIRED = ("format", "model", "model_args", "classes", "input_shape", "mean", "std")


def _numbers(value: object, kind: type | tuple[type, ...] = (int, float)) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)


# what each field of the metadata must be: a checkpoint edited by hand or damaged fails here, in one sentence, not
# deep inside building the model
VALID = {"model": lambda v: isinstance(v, str), "model_args": lambda v: isinstance(v, dict),
         "classes": lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(c, str) for c in v),
         "input_shape": lambda v: _numbers(v, int) and all(n > 0 for n in v),
         "mean": _numbers, "std": _numbers}


def save_checkpoint(path: Path, model: torch.nn.Module, metadata: dict, extra: dict[str, torch.Tensor] | None = None
                    ) -> None:
    tensors = {f"model.{k}": v.detach().contiguous().cpu().clone() for k, v in model.state_dict().items()}
    tensors.update({k: v.detach().contiguous().cpu() for k, v in (extra or {}).items()})
    atomic_write(path, safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(metadata)}))


def read_metadata(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise VisionpathError(tr("there is no checkpoint at {path}; give a run folder made by `visionpath train` or "
                                 "the path of its best.safetensors.",
                                 path=path))
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise VisionpathError(tr("{path} is not a readable checkpoint ({e}).", path=path, e=e)) from None
    if METADATA_KEY not in header:
        raise VisionpathError(tr("{path} is a safetensors file but not a visionpath checkpoint (it has no "
                                 "visionpath metadata); pass --weights to load foreign weights into a model instead.",
                                 path=path))
    try:
        metadata = json.loads(header[METADATA_KEY])
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise VisionpathError(tr("{path} is damaged: its visionpath metadata is not valid JSON.", path=path))
    version = metadata.get("format")
    if isinstance(version, int) and version > FORMAT:
        raise VisionpathError(tr("{path} was written by a newer visionpath ({visionpath_version}, checkpoint format "
                                 "{version}; this one reads formats up to {FORMAT}); upgrade visionpath to use it.",
                                 path=path, visionpath_version=metadata.get('visionpath_version', '?'),
                                 version=version, FORMAT=FORMAT))
    missing = [key for key in REQUIRED if key not in metadata]
    if missing or not isinstance(version, int):
        raise VisionpathError(tr("{path} is damaged: its metadata lacks {value}; it cannot be used.",
                                 path=path, value=', '.join(missing) or tr('a format version')))
    wrong = [key for key, valid in VALID.items() if not valid(metadata[key])]
    if wrong:
        raise VisionpathError(tr("{path} is damaged: the type of {value} in its metadata is wrong; it cannot be "
                                 "used.", path=path, value=", ".join(wrong)))
    return metadata


def load_tensors(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with `prefix`, with the prefix removed."""
    with safe_open(str(path), framework="pt") as f:
        return {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser's state into tensors named "<param index>.<name>" and everything else (for JSON)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(tensors: dict[str, torch.Tensor], saved: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for name, value in saved["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": saved["param_groups"]}
