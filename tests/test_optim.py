"""Optimisers, learning-rate schedules and the penalised loss."""
import math

import pytest
import torch

from visionpath.models import create_model
from visionpath.optim import (learning_rate, make_optimizer, penalised_loss, refitted_rate, set_learning_rate,
                             warm_up_epochs)


def test_learning_rate_schedules():
    assert learning_rate("constant", 50, 100, 0.1) == 0.1
    assert learning_rate("onecycle", 0, 100, 0.1) == pytest.approx(0.004)
    assert learning_rate("onecycle", 25, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate("onecycle", 100, 100, 0.1) == pytest.approx(0.0)
    assert learning_rate("cosine", 5, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate("cosine", 100, 100, 0.1) == pytest.approx(0.0)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_weight_decay_acts_on_weights_and_leaves_biases_and_batch_norm_alone(name):
    model = create_model("resnet9", 3, (3, 16, 16), width=4)
    optimizer = make_optimizer(name, list(model.parameters()), 0.01, 0.1, torch.device("cpu"))
    decayed, free = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and all(p.dim() > 1 for p in decayed["params"])
    assert free["weight_decay"] == 0.0 and all(p.dim() == 1 for p in free["params"])
    assert len(decayed["params"]) + len(free["params"]) == len(list(model.parameters()))
    if name != "sgd":
        assert decayed["decoupled_weight_decay"]  # AdamW-style for both Adams
    before = [p.detach().clone() for p in free["params"]]
    optimizer.step()  # no gradients: only weight decay could move anything, and it must not touch these
    assert all(torch.equal(a, b) for a, b in zip(before, free["params"]))


def test_learning_rate_shares_follow_the_schedule():
    a, b = torch.nn.Parameter(torch.zeros(2, 2)), torch.nn.Parameter(torch.zeros(2, 2))
    optimizer = make_optimizer("adam", [a, b], 0.1, 0.0, torch.device("cpu"), lr_scale={b: 0.5})
    set_learning_rate(optimizer, 0.02)
    assert {id(g["params"][0]): g["lr"] for g in optimizer.param_groups} == {id(a): 0.02, id(b): 0.01}


def test_l1_penalty_is_added_to_the_loss_and_the_curves_show_plain_cross_entropy():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    weights = [torch.full((2, 3), -0.5), torch.ones(5)]
    total, data = penalised_loss(logits, labels, weights, 0.0, 0.01)
    assert data == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())
    assert total.item() == pytest.approx(data.item() + 0.01 * (3.0 + 5.0))
    smoothed, plain = penalised_loss(logits, labels, [], 0.1, 0.0, class_weights=torch.tensor([1.0, 2.0, 3.0]))
    assert plain.item() == pytest.approx(data.item()) and smoothed.item() != pytest.approx(data.item())


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_a_re_planned_schedule_goes_on_from_where_it_was_and_ends_at_the_new_end(schedule):
    iterations, peak = 10, 0.1
    # one plan: exactly the plain schedule
    assert [refitted_rate(schedule, s, iterations, peak, [3]) for s in range(30)] == \
        [learning_rate(schedule, s, 30, peak) for s in range(30)]
    # re-planned from 3 epochs to 6 after epoch 2 (past the warm-up): no jump, then down to 0 at the new end
    plans = [3, 3, 6, 6, 6, 6]
    rates = [refitted_rate(schedule, s, iterations, peak, plans) for s in range(60)]
    assert rates[:20] == [learning_rate(schedule, s, 30, peak) for s in range(20)]  # the past is not rewritten
    assert rates[20] == pytest.approx(learning_rate(schedule, 20, 30, peak))
    if schedule != "constant":
        assert rates[20] > learning_rate(schedule, 21, 30, peak)  # slower annealing than the old plan
        assert set(rates[20:42]) == {rates[20]} and rates[42] == rates[20] > rates[43]  # held, then the last 30%
        assert all(a >= b for a, b in zip(rates[20:], rates[21:])) and rates[-1] == pytest.approx(0, abs=1e-3)
    # shortened from 6 epochs to 3 after epoch 2: the rate still reaches 0 at the new end
    short = [refitted_rate(schedule, s, iterations, peak, [6, 6, 3]) for s in range(30)]
    if schedule != "constant":
        assert short[20] == pytest.approx(learning_rate(schedule, 20, 60, peak)) and short[29] < 0.03 * peak


def test_plans_that_differ_by_timing_noise_train_at_the_same_rate_until_one_of_them_anneals():
    # filling a budget re-plans after every epoch from its measured time: hymenoptera's three runs held 48, 55 and 54
    # epochs after the first fine-tuning epoch (3 planned); the rate must not carry that noise into every epoch
    iterations, peak = 10, 1e-3
    runs = [[refitted_rate("onecycle", s, iterations, peak, [3, held]) for s in range(held * iterations)]
            for held in (27, 34)]
    anneals = 27 * iterations - int(0.3 * 27 * iterations)  # the shorter plan's last 30% anneal
    assert runs[0][:anneals] == runs[1][:anneals]
    assert runs[0][10] == runs[0][anneals] > runs[0][anneals + 1] and runs[1][anneals + 1] == runs[1][10]
    assert runs[0][-1] < 0.01 * peak and runs[1][-1] < 0.01 * peak


def test_a_plan_changed_during_the_warm_up_warms_up_over_the_new_plan():
    # 8 epochs of 10 steps warm up over 20 steps; re-planned to 16 after the first epoch: the same warm-up, the peak
    # held, then a cosine down to 0 over the new plan's last 30%
    rates = [refitted_rate("onecycle", s, 10, 0.1, [8, 16]) for s in range(160)]
    assert rates[:20] == [learning_rate("onecycle", s, 80, 0.1) for s in range(20)]
    assert rates[20:112] == [0.1] * 92
    assert rates[112:] == pytest.approx([0.05 * (1 + math.cos(math.pi * (s - 112) / 48)) for s in range(112, 160)])
    assert warm_up_epochs("onecycle", 3) == 0 and warm_up_epochs("onecycle", 8) == 2
    assert warm_up_epochs("cosine", 8) == 0 and warm_up_epochs("constant", 8) == 0
