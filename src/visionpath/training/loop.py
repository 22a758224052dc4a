"""The loop: `fit` runs the epochs, each `train_one_epoch` (one `train_step` a batch, the step lr_find takes too),
`validate`, recorded and saved."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import torch

from ..augment import augment_batch
from ..checkpoint import optimizer_to_tensors, save_checkpoint
from ..config import TrainConfig
from ..console import progress_bar, say
from ..devices import budget_clock
from ..distributed import in_shares, on_main, sum_over
from ..evaluate import Evaluation, evaluate_logits
from ..i18n import plural, tr
from ..models import count_parameters, logits_in_batches
from ..optim import penalised_loss, refitted_rate, set_learning_rate
from ..run_files import standard_error, write_history
from ..tensorboard_log import log_epoch
from .model import TrainingModel
from .pictures import TrainingData, batch_of, draw_order
from .stages import (Stage, note_disputed_labels, note_pace, replan, say_replanned, settings_after_head, start_stage,
                     stopped_paying)
from .start import Saved
from .state import Generators, TrainingState, fine_tune_plans, head_epochs, total_epochs
from .stopping import CtrlC, Diverged


def introduce(run_dir: Path, config: TrainConfig, data: TrainingData, model: TrainingModel,
              state: TrainingState) -> None:
    """Say what the run will do: the model, the arithmetic of epochs, iterations and images, and the stages."""
    total = total_epochs(config, model, state.history)
    if state.epoch:
        say(tr("resuming {run_dir} after epoch {epoch}/{total}", run_dir=run_dir, epoch=state.epoch, total=total))
    say(tr("model {model}: {count_parameters:,} parameters; {optimizer} at lr {lr:g} ({schedule} schedule), on "
           "{type} in {precision}",
           model=config.model, count_parameters=count_parameters(model.net), optimizer=config.optimizer,
           lr=config.lr, schedule=config.schedule, type=data.device.type, precision=model.precision))
    if data.processes.several:
        say(data.processes.describe(config.batch_size))
    say(tr("{epochs} × {iterations} × {images} = {value:,} steps (an iteration is one batch; an epoch is every one "
           "of the {n_labels:,} training images once); results in {run_dir}",
           epochs=plural(total, "epoch"), iterations=plural(data.iterations, "iteration"),
           images=plural(config.batch_size, "image"), value=total * data.iterations, n_labels=len(data.labels),
           run_dir=run_dir))
    if model.two_stages:
        say(tr("stage 1: {value}{epochs} training the new head, backbone frozen{value2}; stage 2: "
               "{value}{fine_tune_epochs} fine-tuning {value3} at lr {fine_tune_lr:g}",
               value=tr("up to ") if config.early_stopping else "", epochs=plural(config.epochs, "epoch"),
               value2=tr(" (on cached features)") if config.feature_cache else "",
               fine_tune_epochs=plural(config.fine_tune_epochs, "epoch"),
               value3=tr("the top {unfreeze} blocks", unfreeze=config.unfreeze) if config.unfreeze
               else tr("the whole network"),
               fine_tune_lr=config.fine_tune_lr))


def fit(run_dir: Path, config: TrainConfig, data: TrainingData, model: TrainingModel, state: TrainingState,
        generators: Generators, saved: Saved | None, stop_if: Callable[[dict], bool] | None = None
        ) -> tuple[bool, TrainConfig]:
    """The epochs after state.epoch, each: train, validate, record, checkpoint. Early stopping ends stage 1 of a
    pretrained backbone when the head has converged (head_epochs), and the last stage when validation accuracy
    has not improved for `early_stopping` epochs (fine-tuning that fills a budget first brings its rate down, and
    ends where that re-plan says: stopped_paying); `stop_if` (given each epoch's row) ends the run when it says so.
    Returns whether stop_if ended it, and the settings it ended with (a folder of photos chooses fine-tuning again
    once stage 1 is done: settings_after_head). Ctrl-C raises KeyboardInterrupt."""
    stage = None
    with progress_bar() as bar, CtrlC() as ctrl_c:
        while state.epoch < (total := total_epochs(config, model, state.history)):
            epoch, begun = state.epoch + 1, budget_clock()  # a stage's start may measure the machine
            head = head_epochs(config, state.history)
            number = 2 if model.two_stages and epoch > head else 1
            if stage is None or stage.number != number:
                stage = None  # the last stage's DistributedDataParallel goes, with its hooks on the parameters
                if number == 2:  # decided on rank 0, from the history every process shares
                    resumed = saved is not None and saved.resume["epoch"] > head
                    config = on_main(data.processes, lambda: settings_after_head(run_dir, config, data, state,
                                                                                 head, resumed))
                    if state.epoch >= total_epochs(config, model, state.history):  # fine-tuning skipped
                        break
                stage = start_stage(number, head, config, data, model, bar, state.history)
                if stage.features is not None and data.dataset.folder is not None:
                    on_main(data.processes, lambda: note_disputed_labels(run_dir, data, stage.features))
                if saved is not None and saved.resume["epoch"] in stage.epochs:  # resumed inside this stage
                    stage.load_optimizer_state(saved)
                elif number == 2 and head < config.epochs:
                    say(tr("stage 1 converged: its validation loss has not fallen for {epochs}; fine-tuning starts "
                           "after epoch {head} of {epochs2}",
                           epochs=plural(config.early_stopping, 'epoch'), head=head, epochs2=config.epochs))
            # an epoch's time is its training and validation, what the next epochs will take again: a stage's start
            # (caching the frozen features, timing the block groups fine-tuning chose) is in the run's time only
            t0 = budget_clock()
            trained = train_one_epoch(epoch, total, stage, config, data, model, generators, bar)
            validating = time.perf_counter()
            validation = validate(stage, data, model)
            validating = time.perf_counter() - validating
            if not (math.isfinite(trained[0]) and math.isfinite(validation.loss)):  # nothing of it is saved
                raise Diverged(epoch, stage.number, trained[0] if not math.isfinite(trained[0]) else validation.loss,
                               stage.peak_lr)
            improved = record_epoch(state, epoch, stage, trained, validation, budget_clock() - t0, t0 - begun)
            row = state.history[-1]
            if config.fill_budget and stage.number == 2:  # decided now, recorded in the row: --resume repeats it
                cooling = stopped_paying(config, state, stage)  # from the history every process shares
                row["planned_epochs"], fits = on_main(data.processes,  # timed here, the same for every process
                                                      lambda: replan(config, data, state, stage, validating))
                stage.plans = fine_tune_plans(config, state.history, head)  # the lr's from now on
                say_replanned(state, total, fits, config.early_stopping if cooling else 0)
            total = row["planned_epochs"] = total_epochs(config, model, state.history)  # stage 1 may have converged
            say(tr("epoch {epoch}/{total} · {iterations} × {images} · {epoch_time:.1f}s · "
                   "loss {train_loss:.4f} acc {train_accuracy:.2%} · val loss {val_loss:.4f} acc "
                   "{val_accuracy:.2%}{value}{value2}",
                   epoch=epoch, total=total, iterations=plural(data.iterations, "iteration"),
                   images=plural(config.batch_size, "image"),
                   epoch_time=row['epoch_time'], train_loss=row['train_loss'], train_accuracy=row['train_accuracy'],
                   val_loss=row['val_loss'], val_accuracy=row['val_accuracy'],
                   value=tr(" (balanced {accuracy:.2%})", accuracy=validation.balanced_accuracy)
                   if data.unbalanced else "", value2=tr(" · best") if improved else ""))
            if stage.number == 2 and epoch == stage.epochs.start + 1 and data.processes.main:
                note_pace(run_dir, config, data, state)
            with ctrl_c.deferred():  # the epoch's files are written whole, or not at all
                if data.processes.main:
                    save_epoch(run_dir, model, stage, state, generators, improved)
                if data.processes.main and config.tensorboard:  # after the checkpoint: what it shows was saved
                    log_epoch(run_dir, row, data.dataset.train.images[:16] if epoch == 1 else None)
            if stop_if is not None and on_main(data.processes, lambda: stop_if(row)) and epoch < total:
                say(tr("stopped after epoch {epoch}, as asked (stop_if); restoring epoch {best}",
                       epoch=epoch, best=state.best['epoch']))
                return True, config
            last_stage = stage.number == (2 if model.two_stages else 1)  # stage 1 ends by head_epochs
            filling = config.fill_budget and stage.number == 2  # ends with its plan, the rate come down (replan)
            if config.early_stopping and last_stage and not filling and \
                    state.patience_used(stage.number, stage.warm) >= config.early_stopping:
                say(tr("early stopping: no better validation accuracy for {epochs}; restoring epoch {epoch}",
                       epochs=plural(config.early_stopping, 'epoch'), epoch=state.best['epoch']))
                break
    return False, config


def train_one_epoch(epoch: int, total: int, stage: Stage, config: TrainConfig, data: TrainingData,
                    model: TrainingModel, generators: Generators, bar) -> tuple[float, float]:
    """One pass over the training pictures in random batches, one optimiser step each: (mean loss, accuracy) over
    the pictures seen. total: the run's epochs as known so far, for the progress bar.

    With several processes every one draws the same order and takes its share of each batch (`Processes.shard`);
    its loss is its share of the whole batch's loss, so the averaged gradient is the one-process gradient of the
    whole batch, class weights and all. Loss and accuracy are summed over the processes at the end."""
    model.net.train()
    for module in stage.frozen:  # frozen layers keep their batch-norm statistics: eval mode
        module.eval()
    processes = data.processes
    if processes.several:  # each process its own augmentation and dropout, the same for a given seed and epoch
        generators.augment.manual_seed(hash((config.seed, epoch, processes.rank)) % 2**62)
        torch.manual_seed(hash((config.seed + 1, epoch, processes.rank)) % 2**62)
    order = draw_order(len(data.labels), data.sample_weights, generators.shuffle).to(data.images.device)
    batch_size, iterations = config.batch_size, data.iterations
    loss_sum = torch.zeros((), device=data.device)
    correct = torch.zeros((), device=data.device, dtype=torch.long)
    task = bar.add_task(tr("epoch {epoch}/{total}", epoch=epoch, total=total), total=iterations, status="")
    shown, mine_seen = time.perf_counter(), 0
    for i in range(iterations):
        step = (epoch - stage.epochs.start) * iterations + i  # each stage's schedule starts at its first epoch
        set_learning_rate(stage.optimizer,
                          refitted_rate(config.schedule, step, iterations, stage.peak_lr, stage.plans))
        batch = order[i * batch_size: (i + 1) * batch_size]
        index = batch[processes.shard(len(batch))]
        pictures, y = batch_of(data, index)

        def forward() -> torch.Tensor:
            if stage.features is not None:  # the head alone, on one view of the cached features
                return stage.forward(stage.features.train[(epoch - 1) % len(stage.features.train)][index])
            x = augment_batch(pictures, data.augmentation, model.mean, model.std, generators.augment)
            return stage.forward(x.contiguous(memory_format=model.layout))
        logits, _, plain = train_step(model, forward, stage.optimizer, y, stage.penalised, config, data.class_weights,
                                      share_of(batch, data) if processes.several else None)
        loss_sum += plain.detach() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        mine_seen += len(y)
        if bar.live.is_started and (time.perf_counter() - shown > 0.25 or i == iterations - 1):
            bar.update(task, completed=i + 1,
                       status=tr("loss {value:.4f} acc {value2:.2%}",
                                 value=loss_sum.item() / mine_seen, value2=correct.item() / mine_seen))
            shown = time.perf_counter()
    bar.remove_task(task)
    sum_over(processes, loss_sum, correct)
    seen = min(iterations * batch_size, len(data.labels))
    return loss_sum.item() / seen, correct.item() / seen


def train_step(model: TrainingModel, forward: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer,
               y: torch.Tensor, penalised: list[torch.nn.Parameter], config: TrainConfig,
               class_weights: torch.Tensor | None, share: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step, as every step of training takes it (lr_find's too): the logits `forward` computes, in
    the run's precision; the loss with its penalties (`share`: this process's part of a batch several share); the
    update, through the loss scaler fp16 needs. Returns (logits, loss, the loss without penalties)."""
    with model.autocast:
        logits = forward()
    logits = logits.float()
    loss, plain = penalised_loss(logits, y, penalised, config.label_smoothing, config.l1, class_weights, share)
    optimizer.zero_grad(set_to_none=True)
    model.scaler.scale(loss).backward()
    model.scaler.step(optimizer)
    model.scaler.update()
    return logits, loss, plain


def share_of(batch: torch.Tensor, data: TrainingData) -> torch.Tensor:
    """What one process divides its summed loss by, so that the processes' average gradient is the gradient of
    the whole batch's mean loss: the batch's size (or, with --balance weights, its total class weight) over the
    number of processes."""
    whole = data.class_weights[data.labels[batch]].sum() if data.class_weights is not None else len(batch)
    return whole / data.processes.world


def validate(stage: Stage, data: TrainingData, model: TrainingModel) -> Evaluation:
    """The epoch's validation: loss, accuracy, balanced accuracy and macro-F1 on the validation pictures (each
    process scores its share; the scores are gathered, so every process has the whole set's numbers)."""
    validation, classes = data.dataset.validation, data.dataset.classes
    with torch.inference_mode():
        if stage.features is not None:
            model.net.eval()
            logits = model.net.head(stage.features.validation)
        else:
            logits = in_shares(data.processes, validation.images, lambda mine: logits_in_batches(
                model.net, mine, model.mean, model.std, data.device, bf16=model.precision == "bf16"))
    return evaluate_logits(logits.float(), validation.labels, classes, "validation")


def better(validation: Evaluation, best: dict, best_stage: int, stage: int) -> bool:
    """Whether an epoch's validation beats the best epoch's: a higher accuracy, or the same with a lower loss. An
    epoch of fine-tuning weighed against the head's best (the other stage) is better when its accuracy is higher
    by more than the validation pictures can tell (a standard error), or as high within that and its loss lower:
    measured on CIFAR-10 at 90 a class (100 validation pictures), fine-tuning reached 83% at a loss of 0.58
    against the head's 84% at 0.77; the head's epoch, kept for one picture, scored 75.2% on test against 82.5%
    for a fine-tuned one."""
    accuracy, loss = validation.accuracy, validation.loss
    if stage == best_stage:
        return (accuracy, -loss) > (best["val_accuracy"], -best["val_loss"])
    p = best["val_accuracy"]
    noise = standard_error(p, int(validation.confusion.sum()))
    return accuracy > p + noise or (accuracy >= p - noise and loss < best["val_loss"])


def record_epoch(state: TrainingState, epoch: int, stage: Stage, trained: tuple[float, float],
                 validation: Evaluation, seconds: float, before: float = 0.0) -> bool:
    """Add the epoch's row to the history; True when it is the best epoch so far (accuracy, then loss). seconds:
    the epoch's training and validation; before: what started its stage (in the run's time, not the epoch's)."""
    state.elapsed += before + seconds
    state.epoch = epoch
    state.history.append({"epoch": epoch, "time": round(state.elapsed, 3), "epoch_time": round(seconds, 3),
                          "stage": stage.number, "lr": stage.optimizer.param_groups[0]["lr"],
                          "train_loss": trained[0], "train_accuracy": trained[1], "val_loss": validation.loss,
                          "val_accuracy": validation.accuracy, "val_balanced_accuracy": validation.balanced_accuracy,
                          "val_macro_f1": validation.macro_f1, "val_pictures": int(validation.confusion.sum())})
    improved = better(validation, state.best, next((row["stage"] for row in state.history
                                                   if row["epoch"] == state.best["epoch"]), stage.number), stage.number)
    if improved:
        state.best = {"epoch": epoch, "val_accuracy": validation.accuracy, "val_loss": validation.loss}
    state.history[-1]["best_epoch"] = state.best["epoch"]  # what report and diagnosis call the kept epoch
    return improved


def save_epoch(run_dir: Path, model: TrainingModel, stage: Stage, state: TrainingState, generators: Generators,
               improved: bool) -> None:
    """After every epoch: best.safetensors when it improved, last.safetensors always (with what resuming needs:
    optimiser state, random streams, history), and results.csv."""
    meta = {**model.metadata, "epoch": state.epoch, "val_accuracy": state.history[-1]["val_accuracy"]}
    if improved:
        save_checkpoint(run_dir / "best.safetensors", model.net, meta)
    optimizer_tensors, optimizer_rest = optimizer_to_tensors(stage.optimizer)
    resume = {"epoch": state.epoch, "history": state.history, "best": state.best, "optimizer": optimizer_rest,
              "precision": model.precision}
    save_checkpoint(run_dir / "last.safetensors", model.net, {**meta, "resume": resume},
                    {**{f"optimizer.{k}": v for k, v in optimizer_tensors.items()},
                     "rng.torch": torch.get_rng_state(), "rng.shuffle": generators.shuffle.get_state(),
                     "rng.augment": generators.augment.get_state()})
    write_history(run_dir, state.history)
