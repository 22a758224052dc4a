"""How far a pretrained backbone's frozen features fall short of a folder of photos: the validation accuracy of a
linear head trained on them (a linear probe), in a few seconds. The photo defaults ask it before they spend a
budget that has time to spare on a larger backbone: where the frozen features already nearly fit, a larger one
has little to add (benchmarks/results/photo_defaults.md).
"""
from __future__ import annotations

import torch

from .config import TrainConfig
from .console import quietly
from .data import load_dataset
from .data.suspects import fit_head
from .devices import pick_device
from .models import create_model, features_in_batches, load_pretrained, model_entry, prepare_for_device, scaling_for



def frozen_accuracy(config: TrainConfig, model: str, side: int) -> float:
    """The validation accuracy of a linear head on `model`'s frozen ImageNet features of the folder `config.data`
    at `side` px (validation held out of train as the run holds it out), in the precision the run trains in.
    Quiet: the run that follows says what it loads; its random numbers are left as they were."""
    with torch.random.fork_rng(devices=[]):
        return _frozen_accuracy(config, model, side)


def _frozen_accuracy(config: TrainConfig, model: str, side: int) -> float:
    device = pick_device(config.device)
    with quietly():
        dataset = load_dataset(config.data, config.data_dir, config.validation_split, config.seed, side,
                               config.strict, config.labels)
    entry = model_entry(model)
    net = create_model(model, len(dataset.classes), (3, side, side), resolution=side)
    load_pretrained(net, config.weights)
    net = prepare_for_device(net, device).eval()
    mean, std = scaling_for(entry, dataset.mean, dataset.std)
    bf16 = config.precision == "bf16"
    with torch.inference_mode():
        train = features_in_batches(net, dataset.train.images, mean, std, device, bf16).float()
        validation = features_in_batches(net, dataset.validation.images, mean, std, device, bf16).float()
    probabilities = fit_head(train, dataset.train.labels.to(device), len(dataset.classes))(validation)
    right = probabilities.argmax(1).cpu() == dataset.validation.labels
    return float(right.float().mean())
