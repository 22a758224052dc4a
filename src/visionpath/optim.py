"""How the weights move: the optimisers, the learning-rate schedules, and the loss with its penalties."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULES = ("onecycle", "cosine", "constant")


WARM_UP = {"onecycle": 0.25, "cosine": 0.05, "constant": 0.0}  # the share of the steps that warm up


def learning_rate(schedule: str, step: int, total_steps: int, peak: float, warm: int | None = None) -> float:
    """The learning rate at `step`. onecycle: warm up over the first 25% from peak/25, then cosine to 0.
    cosine: warm up over the first 5%, then cosine to 0. constant: peak throughout. warm: the warm-up's steps, when
    not the schedule's share of total_steps."""
    if schedule == "constant":
        return peak
    warm = warm if warm is not None else max(1, int(WARM_UP[schedule] * total_steps))
    if step < warm:
        return peak * (0.04 + 0.96 * step / warm)
    progress = (step - warm) / max(1, total_steps - warm)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# A re-planned stage holds the rate it had and anneals over the last share of its plan only ("warmup-stable-decay",
# as in Hägele et al. 2024, for runs whose length is not fixed in advance): filling a budget re-plans after every
# epoch from its measured time, which differs between two runs of the same command (hymenoptera, three runs: 48, 55
# and 54 epochs held). A cosine re-fitted to each end moved the rate with that noise from the first re-plan on, so
# the runs' losses parted at the second fine-tuning epoch; held, they part only where one of them starts to anneal.
ANNEAL_SHARE = 0.3


def annealing(epoch: int, plan: int) -> bool:
    """Whether a stage's epoch `epoch` (counted from 1) trains in the last ANNEAL_SHARE (an epoch at least) of a
    plan of `plan` epochs, where its rate comes down to 0 (for a first plan, the cosine's last stretch)."""
    return epoch > plan - max(1.0, ANNEAL_SHARE * plan)


def cool_down_epochs(done: int) -> int:
    """The epochs over which a held rate comes down when a stage stops paying after `done` epochs: the share an
    anneal at its plan's end would have had (ANNEAL_SHARE of the whole), an epoch at least. refitted_rate then
    anneals from the change."""
    return max(1, int(done * ANNEAL_SHARE / (1 - ANNEAL_SHARE)))


def refitted_rate(schedule: str, step: int, iterations: int, peak: float, plans: list[int]) -> float:
    """The learning rate at `step` of a stage whose length is re-planned after each epoch: plans[k] is the stage's
    length in epochs while its epoch k+1 trains (the last plan holds after the list ends). With one plan this is
    `learning_rate`. The warm-up is the first plan's; a new plan re-fits what follows it: the rate at the change
    (for a plan made during the warm-up, the peak once reached) held until the plan's last ANNEAL_SHARE (an epoch at
    least), then a cosine down to 0 at the new end, so the schedule bends to the epochs left instead of jumping."""
    epoch = min(step // iterations, len(plans) - 1)
    start = epoch
    while start > 0 and plans[start - 1] == plans[epoch]:
        start -= 1
    total = plans[epoch] * iterations
    warm = max(1, int(WARM_UP[schedule] * plans[0] * iterations))
    changed = start * iterations
    if schedule == "constant" or start == 0 or step < warm:  # the first plan, or still warming up
        return learning_rate(schedule, step, total, peak, warm)
    rate = peak if changed <= warm else refitted_rate(schedule, changed, iterations, peak, plans[:start])
    anneal = max(changed, warm, total - max(iterations, int(ANNEAL_SHARE * total)))
    progress = (step - anneal) / max(1, total - anneal)
    return rate * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def warm_up_epochs(schedule: str, epochs: int) -> int:
    """How many whole epochs of a stage of `epochs` end inside its warm-up (their rate still rising)."""
    return int(WARM_UP[schedule] * epochs)


def make_optimizer(name: str, params: list[torch.nn.Parameter], lr: float, weight_decay: float, device: torch.device,
                   lr_scale: dict[torch.nn.Parameter, float] | None = None) -> torch.optim.Optimizer:
    """The optimiser `name` over `params`. Weight decay acts on weights (matrices, filters), not on biases and
    batch-norm scales. lr_scale: a share of the learning rate for some parameters (discriminative fine-tuning),
    kept in each parameter group as "lr_scale" so that the schedule can scale every group's rate alike."""
    if name == "sgd":
        options = {"momentum": 0.9, "nesterov": True}
    else:  # the fused Adam step is one kernel instead of a dozen per parameter tensor
        options = {"fused": True} if device.type in ("cpu", "cuda") else {}
        if name == "adam":
            options["decoupled_weight_decay"] = True
    lr_scale = lr_scale or {}
    groups = []
    for scale in sorted({lr_scale.get(p, 1.0) for p in params}, reverse=True):
        share = [p for p in params if lr_scale.get(p, 1.0) == scale]
        groups += [{"params": [p for p in share if p.dim() > 1], "weight_decay": weight_decay, "lr_scale": scale,
                    "lr": lr * scale},
                   {"params": [p for p in share if p.dim() <= 1], "weight_decay": 0.0, "lr_scale": scale,
                    "lr": lr * scale}]
    return OPTIMIZERS[name]([g for g in groups if g["params"]], lr=lr, **options)


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    """Every parameter group at `rate`, times its share (lr_scale, from `make_optimizer`)."""
    for group in optimizer.param_groups:
        group["lr"] = rate * group.get("lr_scale", 1.0)


def penalised_loss(logits: torch.Tensor, labels: torch.Tensor, weights: list[torch.Tensor], label_smoothing: float,
                   l1: float, class_weights: torch.Tensor | None = None, share: torch.Tensor | float | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(what the optimiser minimises, the plain cross-entropy). L1 adds l1 × the sum of absolute weights, which
    pushes unhelpful weights to exactly zero; class_weights weigh each picture's loss by its class. The curves
    show the plain cross-entropy (no smoothing, weights or penalty), so training and validation loss are
    measured the same way. share: divide the summed loss by this instead of taking the mean (a process's part of
    a batch shared by several; see train.share_of)."""
    if share is None:
        loss = F.cross_entropy(logits, labels, weight=class_weights, label_smoothing=label_smoothing)
    else:
        loss = F.cross_entropy(logits, labels, weight=class_weights, label_smoothing=label_smoothing,
                               reduction="sum") / share
    plain = loss if not (label_smoothing or class_weights is not None or share is not None) else \
        F.cross_entropy(logits.detach(), labels)
    if l1:
        loss = loss + l1 * sum(w.abs().sum() for w in weights)
    return loss, plain
