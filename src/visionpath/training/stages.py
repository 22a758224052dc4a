"""A pretrained backbone's two stages: what each freezes and trains, stage 1's feature cache and the labels it
disputes, fine-tuning chosen again from the head, and the budget it fills."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from ..augment import augment_batch
from ..checkpoint import load_tensors, optimizer_from_tensors
from ..config import TrainConfig
from ..console import say
from ..data.suspects import SUSPECTS_FILE, TRUSTED, disputed_labels, write_suspects
from ..defaults import after_head, forecast_after_head, rest_after_head
from ..distributed import in_shares, parallel
from ..files import atomic_write, json_text
from ..i18n import plural, tr
from ..models import count_parameters, features_in_batches
from ..optim import annealing, cool_down_epochs, make_optimizer, warm_up_epochs
from ..photo_plan import REPORT_SECONDS
from ..speed import pace_note
from .model import TrainingModel
from .pictures import TrainingData
from .start import Saved
from .state import TrainingState, fine_tune_plans, scores_test


@dataclass
class FeatureCache:
    """Stage 1's input while the backbone is frozen: its features of every picture, computed once."""
    train: list[torch.Tensor]   # one N×F tensor per view of the training pictures
    validation: torch.Tensor


@dataclass
class Stage:
    """A stretch of epochs with the same frozen and trainable layers: the only stage of a model trained from
    scratch, or stage 1 (the head alone) and stage 2 (fine-tuning) of a pretrained backbone."""
    number: int
    epochs: range                        # the epochs it covers
    peak_lr: float
    optimizer: torch.optim.Optimizer
    penalised: list[torch.nn.Parameter]  # the weights the L1 penalty acts on (matrices and filters that train)
    frozen: list[torch.nn.Module]        # kept in eval mode: their batch-norm statistics do not move
    features: FeatureCache | None        # stage 1 on cached features: only the head runs
    forward: Callable                    # what trains: the model (or the head, on cached features); with several
                                         # processes wrapped in DistributedDataParallel
    plans: list[int]                     # the stage's length in epochs while each of its epochs trains (one plan,
                                         # unless fine-tuning fills a budget: see replan)
    warm: int                            # its first epochs, inside the learning rate's warm-up: early stopping
                                         # does not count them

    def load_optimizer_state(self, saved: Saved) -> None:
        """The optimiser's state from a resumed run's last checkpoint."""
        self.optimizer.load_state_dict(optimizer_from_tensors(load_tensors(saved.path, "optimizer."),
                                                              saved.resume["optimizer"]))
        for param, state in self.optimizer.state.items():  # loaded state is contiguous; match channels_last weights
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape:
                    state[key] = torch.empty_like(param).copy_(value)


def start_stage(number: int, head: int, config: TrainConfig, data: TrainingData, model: TrainingModel, bar,
                history: list[dict]) -> Stage:
    """Freeze or unfreeze for the stage, make its optimiser, and (stage 1 of a pretrained backbone) cache the frozen
    backbone's features. head: stage 1's length (fine-tuning follows it)."""
    net = model.net
    frozen, lr_scale = freeze_for_stage(net, number, config) if model.two_stages else ([], {})
    trainable = [p for p in net.parameters() if p.requires_grad]
    peak = config.fine_tune_lr if number == 2 else config.lr
    if lr_scale:
        say(tr("stage 2: discriminative learning rates, {peak:.2g} for the head down to {value:.2g} for the lowest "
               "block that trains",
               peak=peak, value=peak * min(lr_scale.values())))
    if model.two_stages:
        say(tr("stage {number}: {sum:,} of {count_parameters:,} parameters train",
               number=number, sum=sum(p.numel() for p in trainable), count_parameters=count_parameters(net)))
    plans = fine_tune_plans(config, history, head) if number == 2 else [config.epochs]
    epochs = range(head + 1, head + plans[-1] + 1) if number == 2 else range(1, config.epochs + 1)
    optimizer = make_optimizer(config.optimizer, trainable, peak, config.weight_decay, data.device, lr_scale)
    features = None
    if model.two_stages and number == 1 and config.feature_cache:
        features = cache_features(config, data, model, bar)
    if not data.processes.several:
        forward = net.head if features is not None else model.forward
    else:  # wrapped after freezing: DistributedDataParallel averages the gradients of what trains now
        forward = parallel(data.processes, net.head if features is not None else net, data.device)
        forward = torch.compile(forward) if config.compile and features is None else forward
    return Stage(number, epochs, peak, optimizer, [p for p in trainable if p.dim() > 1], frozen, features, forward,
                 plans, warm_up_epochs(config.schedule, plans[0]) if number == 2 else 0)


def freeze_for_stage(net: torch.nn.Module, number: int, config: TrainConfig
                     ) -> tuple[list[torch.nn.Module], dict[torch.nn.Parameter, float]]:
    """A pretrained backbone's frozen layers for stage `number`, and each fine-tuned parameter's share of the
    learning rate (empty unless --layer-lr-decay is below 1). Stage 1 freezes the whole backbone; stage 2 all but
    its top --unfreeze block groups (all of them when it is not given)."""
    if number == 1:
        net.requires_grad_(True)
        net.backbone.requires_grad_(False)
        return [net.backbone], {}
    frozen, trained = net.train_top(config.unfreeze)
    # Batch norm keeps ImageNet's statistics while fine-tuning (its scale and shift still learn), as the Keras guide
    # advises: measured here, letting small upsampled batches re-estimate them wrecked the head trained in stage 1
    # (validation 70.5% -> 68.3% after a fine-tuning epoch).
    frozen += [m for m in net.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    lr_scale: dict[torch.nn.Parameter, float] = {}
    if config.layer_lr_decay != 1:
        # discriminative learning rates: the head learns at fine_tune_lr, the top block at decay × that, the one
        # below at decay², ...: the lower layers (edges, textures) are the most general and need the least change
        for depth, group in enumerate(reversed(trained), start=1):
            for module in group:
                lr_scale.update((p, config.layer_lr_decay ** depth) for p in module.parameters())
    return frozen, lr_scale


def cache_features(config: TrainConfig, data: TrainingData, model: TrainingModel, bar) -> FeatureCache:
    """One pass of the frozen backbone over the training pictures (or --augmented-views augmented passes) and the
    validation pictures."""
    rng = torch.Generator(device=data.device).manual_seed(config.seed + 2)
    views = config.augmented_views
    passes = [("training pictures", None)] if views == 0 else [
        (tr("training pictures, augmented view {value}/{views}", value=v + 1, views=views),
         lambda b: augment_batch(b, data.augmentation, model.mean, model.std, rng)) for v in range(views)]
    t0 = time.perf_counter()
    bf16, processes = model.precision == "bf16", data.processes
    train = []
    for label, prepare in passes:
        task = bar.add_task(f"features: {label}", total=processes.sizes(len(data.images))[processes.rank], status="")
        train.append(in_shares(processes, data.images, lambda mine, task=task, prepare=prepare: features_in_batches(
            model.net, mine, model.mean, model.std, data.device, bf16, prepare,
            progress=lambda n: bar.update(task, completed=n))))
        bar.remove_task(task)
    validation = in_shares(processes, data.dataset.validation.images, lambda mine: features_in_batches(
        model.net, mine, model.mean, model.std, data.device, bf16))
    say(tr("features cached: {passes} over {n_images:,} training and {n_validation:,} validation "
           "pictures in {value2:.1f}s; stage 1 now trains the head alone",
           passes=plural(len(passes), "pass"), n_images=len(data.images),
           n_validation=len(validation), value2=time.perf_counter() - t0))
    return FeatureCache(train, validation)


def note_disputed_labels(run_dir: Path, data: TrainingData, features: FeatureCache) -> None:
    """The training pictures whose label a head that never saw them disputes (suspects.py): written to
    suspects.csv, the most disputed first, and said; from the features stage 1 cached (their views' mean)."""
    t0 = time.perf_counter()
    train = data.dataset.train
    disputed, agreed = disputed_labels(torch.stack(features.train).mean(0), train.labels, data.dataset.classes,
                                       train.paths)
    write_suspects(run_dir, disputed)
    if disputed:
        say(tr("labels: a head that never saw them disputes {n} of the {total:,} training pictures' labels "
               "({seconds:.1f}s): {SUSPECTS_FILE} lists them, the most disputed first, and report.html shows them; "
               "look at them, and fix those that are wrong", n=len(disputed), total=len(train),
               seconds=time.perf_counter() - t0, SUSPECTS_FILE=SUSPECTS_FILE)
            + (tr(" (the frozen features fit these pictures loosely, the head agreeing with {agreed:.0%} of the "
                  "labels: expect many of them to be right, and start from the top)", agreed=agreed)
               if agreed < TRUSTED else ""))


def settings_after_head(run_dir: Path, config: TrainConfig, data: TrainingData, state: TrainingState, head: int,
                        resumed: bool) -> TrainConfig:
    """Fine-tuning chosen again from the head's best validation accuracy (defaults.after_head), for the settings
    the photo defaults chose: written to config.json (with why) before stage 2 starts, and derived again from the
    same history when the run is resumed, so that it decides the same; the rest of the run forecast again at the
    speed of what it chose. Other runs keep their settings."""
    history = state.history
    record = json.loads((run_dir / "config.json").read_text())
    decided = set(record.get("decided", {}))
    if "model" not in decided:  # not the photo defaults' run: a --model, or a run of an older version
        return config
    dataset = data.dataset
    photos = len(dataset.train) + (len(dataset.validation) if dataset.validation_from_train else 0)
    accuracy = max(row["val_accuracy"] for row in history if row["epoch"] <= head)
    values, why = after_head(accuracy, len(dataset.validation), photos / len(dataset.classes), config, decided)
    config = replace(config, **values)
    if not resumed:
        say(why)
        taken = state.taken()
        say(rest_after_head(config, pictures_counted(config, data), data.device, data.processes.sharing(data.device),
                            taken, taken - state.spent()))
    if record["settings"] != config.to_dict():
        record["settings"] = config.to_dict()
        record["decided"].update(dict.fromkeys(values, why))
        atomic_write(run_dir / "config.json", json_text(record))
    return config


def pictures_counted(config: TrainConfig, data: TrainingData) -> tuple[int, int, int]:
    """(training, validation, scored) pictures, on every device together: what the forecasts time; scored is the
    test split where the run scores it, else validation."""
    dataset = data.dataset
    scored = len(dataset.test if scores_test(config, dataset) else dataset.validation)
    return len(dataset.train), len(dataset.validation), scored


def note_pace(run_dir: Path, config: TrainConfig, data: TrainingData, state: TrainingState) -> None:
    """After the second epoch of fine-tuning a photo defaults' run (the first also starts the stage): its pace_note
    when the epoch ran far off what the kept speed forecast."""
    if "model" not in json.loads((run_dir / "config.json").read_text()).get("decided", {}):
        return
    forecast, _ = forecast_after_head(config, pictures_counted(config, data), data.device,
                                      data.processes.sharing(data.device))
    if (note := pace_note(forecast, state.history[-1]["epoch_time"])) is not None:
        say(note)


def replan(config: TrainConfig, data: TrainingData, state: TrainingState, stage: Stage, validating: float
           ) -> tuple[int, int]:
    """After an epoch of fine-tuning that fills the budget: the run's length from now on. As many more epochs as
    the time left holds, each as long as the last one measured, while validation accuracy still rises (this epoch
    beat the stage's earlier ones, or fine-tuning is still warming up); otherwise no longer than planned, and
    shorter when the plan no longer fits. What is left after the epochs is scoring the test split (about a
    validation pass per validation-sized share of it) and the report. A plan that ends with this epoch is not
    lengthened: its learning rate has come down to 0, and re-fitted from there the epochs added would not move the
    weights (CIFAR-10 at 90 a class in fp32: a plan cut to end at epoch 22, lengthened after it, trained epoch 23 at
    rate 0 for 31 s); nor is one whose rate has begun to come down. When fine-tuning stops paying while its rate is
    held (stopped_paying), the rate comes down now and the plan ends after it. Returns (the new length, the epochs
    that the time left holds)."""
    _, validation, scored = pictures_counted(config, data)
    finish = REPORT_SECONDS + validating * scored / max(1, validation)
    left = 60 * config.budget - state.spent() - finish
    fits = max(0, int(left / state.history[-1]["epoch_time"] + 0.5))  # to the nearest epoch: within half of one
    done = state.epoch - stage.epochs.start + 1  # the stage's epochs so far
    planned = state.epoch + cool_down_epochs(done) if stopped_paying(config, state, stage) else \
        stage.epochs.start - 1 + stage.plans[-1]
    improving = state.accuracy_rose(2, stage.warm) and not annealing(done, stage.plans[-1])
    return max(state.epoch, state.epoch + fits if improving else min(planned, state.epoch + fits)), fits


def stopped_paying(config: TrainConfig, state: TrainingState, stage: Stage) -> bool:
    """Whether fine-tuning that fills the budget has gone --early-stopping epochs without a better validation
    accuracy while its rate is held. Its rate then comes down at once, instead of the run stopping there: measured
    on the CIFAR-10 subset (`--budget 10 --seed 1`), validation wandered between 82% and 85% at the held rate,
    early stopping ended the run just as the anneal was to begin, and the epoch it kept scored 82.0% on test
    against 87.5% for the 5-minute run, whose rate had come down."""
    done = state.epoch - stage.epochs.start + 1
    return bool(config.early_stopping) and not annealing(done, stage.plans[-1]) and \
        state.patience_used(2, stage.warm) >= config.early_stopping


def say_replanned(state: TrainingState, before: int, fits: int, cooling: int = 0) -> None:
    """What filling the budget decided after an epoch of fine-tuning, when it changed the plan or ended it.
    cooling: the epochs without a better validation accuracy, where fine-tuning stopped paying at a held rate."""
    after, seconds = state.history[-1]["planned_epochs"], state.history[-1]["epoch_time"]
    if after == state.epoch and fits == 0:
        say(tr("fine-tuning ends after epoch {epoch}: another epoch ({seconds:.0f}s) would run over the budget by "
               "more than half of it", epoch=state.epoch, seconds=seconds))
    elif cooling:
        say(tr("early stopping: no better validation accuracy for {epochs} at the held learning rate; it comes down "
               "to 0 over {anneal}, and fine-tuning ends after epoch {after} (weights are at their best once the rate "
               "has come down)", epochs=plural(cooling, "epoch"), anneal=plural(after - state.epoch, "epoch"),
               after=after))
    elif after != before:
        say(tr("fine-tuning re-planned to end after epoch {after} instead of {before}: that is what the budget holds "
               "at {seconds:.0f}s an epoch{improving}; the learning rate is re-fitted to the epochs left",
               after=after, before=before, seconds=seconds,
               improving=tr(", while validation accuracy improves") if after > before else ""))
    elif after == state.epoch:
        say(tr("fine-tuning ends after epoch {epoch}, as planned: its learning rate has come down to 0 (the budget "
               "would hold {fits} more)", epoch=state.epoch, fits=plural(fits, "epoch")))
