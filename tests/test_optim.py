"""Optimisers, learning-rate schedules and the penalised loss."""
import pytest
import torch

from visionpath.models import create_model
from visionpath.optim import learning_rate, make_optimizer, penalised_loss, set_learning_rate


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
