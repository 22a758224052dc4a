"""The model on its device: the network with its weights, precision, memory layout and batch norm across processes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..checkpoint import FORMAT, load_tensors
from ..config import TrainConfig
from ..console import say
from ..devices import mixed_precision, pick_precision
from ..distributed import Processes
from ..errors import VisionpathError
from ..i18n import tr
from ..models import (OFFLINE_WEIGHTS, border_brightness, create_model, is_convolutional, load_pretrained,
                      model_entry, prepare_for_device, scaling_for)
from ..run_files import picture_size
from ..version import __version__
from .pictures import TrainingData
from .start import Saved


@dataclass
class TrainingModel:
    """The network being trained and how it runs."""
    net: torch.nn.Module
    forward: Callable             # net, or net compiled by torch.compile (checkpoints keep saving the plain one)
    mean: list[float]             # pixel scaling, as the model's registry entry asks
    std: list[float]
    precision: str                # fp32, or bf16 or fp16 autocast
    two_stages: bool              # a pretrained backbone: the head on the frozen backbone first, then fine-tuning
    metadata: dict                # what every checkpoint carries: model, arguments, classes, input shape, scaling
    layout: torch.memory_format   # channels_last for convolutional models: the layout fast conv kernels want
    autocast: torch.autocast      # bf16 or fp16 mixed precision, or off; made once and entered every step
    scaler: torch.amp.GradScaler  # fp16's loss scaling (off otherwise: then it passes the loss and step through)


def build_model(config: TrainConfig, data: TrainingData, saved: Saved | None) -> TrainingModel:
    """The network (with ImageNet weights for a new pretrained run; a resumed run loads its own), on the device."""
    dataset, entry = data.dataset, model_entry(config.model)
    model_args = {k: getattr(config, k) for k in ("width", "depth", "dropout") if getattr(config, k) is not None}
    if entry.pretrained:
        model_args["resolution"] = picture_size(config).resolution
    net = create_model(config.model, len(dataset.classes), dataset.input_shape, **model_args)
    two_stages = entry.pretrained and bool(config.pretrained or config.weights)
    if two_stages and saved is None:
        load_pretrained(net, config.weights)
        offline = OFFLINE_WEIGHTS.get(entry.timm_name)
        source = config.weights or (tr("the {package} package (offline)", package=offline[2]) if offline
                                    else tr("the hub (cached by timm)"))
        say(tr("pretrained ImageNet weights from {source}", source=source))
    if saved is not None:  # continue exactly where the last completed epoch left off
        net.load_state_dict(load_tensors(saved.path, "model."))
    if synchronise_batch_norm(config, data.processes, data.device, net):
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)  # the same parameters, in new modules
    net = prepare_for_device(net, data.device)
    mean, std = scaling_for(entry, dataset.mean, dataset.std)
    if saved is not None:  # the scaling the weights were trained with, even if some pictures are gone since
        mean, std = saved.metadata["mean"], saved.metadata["std"]
    metadata = {"format": FORMAT, "visionpath_version": __version__, "model": config.model,
                "model_args": {**entry.arguments, **model_args}, "classes": dataset.classes,
                "input_shape": list(dataset.input_shape), "mean": mean, "std": std, "dataset": dataset.name,
                # whether a mirrored picture is the same class: predict's --tta averages with mirrors only then
                "mirror_safe": dataset.mirror_safe or data.augmentation.flip}
    if dataset.input_shape[0] == 1:  # lets prediction warn about grey pictures drawn the other way round (dark
        # digits on white paper); colour photos have every kind of background
        sample = dataset.train.images[:: max(1, len(dataset.train) // 2000)][:2000]
        metadata["border_brightness"] = border_brightness(sample).median().item()
    # auto was decided when the settings were (defaults.resolve: once per machine, the first process's for all)
    precision = saved.resume["precision"] if saved is not None and "precision" in saved.resume else \
        pick_precision(config.precision, data.device)[0]
    forward = torch.compile(net) if config.compile else net
    layout = torch.channels_last if is_convolutional(net) else torch.contiguous_format
    autocast = mixed_precision(data.device, precision)
    # fp16's narrow range loses small gradients unless the loss is scaled up first (bf16 has fp32's range)
    scaler = torch.amp.GradScaler(data.device.type, enabled=precision == "fp16")
    return TrainingModel(net, forward, mean, std, precision, two_stages, metadata, layout, autocast, scaler)


def synchronise_batch_norm(config: TrainConfig, processes: Processes, device: torch.device, net: torch.nn.Module
                           ) -> bool:
    """Whether batch norm gathers its statistics over all processes (--sync-bn), and why, said. Its statistics from
    a few pictures are noisy; synchronising costs a collective in every batch-norm layer, so it is worth it only
    when each process gets a small share. PyTorch synchronises over NCCL only: on GPUs."""
    if not processes.several or not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        return False
    share = config.batch_size // processes.world
    if device.type != "cuda":
        if config.sync_bn:
            raise VisionpathError(tr("--sync-bn works between GPUs only (PyTorch synchronises batch norm over "
                                     "NCCL); leave it out for CPU processes."))
        say(tr("batch norm: each process normalises its own {share} pictures (synchronised only between GPUs)",
               share=share))
        return False
    chosen = config.sync_bn if config.sync_bn is not None else share < 32
    why = tr("as asked") if config.sync_bn is not None else \
        tr("each GPU gets {share} pictures a step; the default synchronises under 32", share=share)
    say(tr("batch norm: synchronised over the {world} GPUs ({why}; --sync-bn/--no-sync-bn)", world=processes.world,
           why=why) if chosen else
        tr("batch norm: not synchronised between the {world} GPUs ({why}; --sync-bn/--no-sync-bn)",
           world=processes.world, why=why))
    return chosen
