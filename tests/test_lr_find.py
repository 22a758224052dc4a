"""The learning-rate range test: the rate rises step by step, the test stops when the loss explodes, the suggestion
is a tenth of the rate at the lowest loss, nothing but the plot is written, and on MNIST the suggestion trains
as well as the recipe's own rate."""
from __future__ import annotations

import json

import pytest

import visionpath
from conftest import SHARED_DATA
from visionpath.lr_find import lr_find


def test_the_rate_rises_until_the_loss_explodes_and_a_tenth_of_the_best_is_suggested(tiny_folder, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = lr_find(tiny_folder, model="cnn", steps=60, start=1e-5, end=1e4, batch_size=8)
    assert found.rates == sorted(found.rates) and found.rates[0] == pytest.approx(1e-5)
    assert len(found.rates) < 60 and max(found.losses) > 4 * min(found.losses)  # stopped once it exploded
    best = min(range(len(found.losses)), key=found.losses.__getitem__)
    assert found.suggestion == pytest.approx(found.rates[best] / 10)
    assert found.losses[best] < found.losses[0]  # the loss did fall on the way
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "photos-lr-find.png"]  # no run folder


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs ../shared/data/mnist")
def test_on_mnist_the_suggested_rate_trains_the_dense_network_to_98_percent(tmp_path):
    found = lr_find("mnist", model="mlp", data_dir=SHARED_DATA, output=tmp_path / "lr.png")
    assert 1e-4 < found.suggestion < 1e-1
    run = visionpath.train("mnist", model="mlp", lr=found.suggestion, data_dir=SHARED_DATA,
                           project=tmp_path / "runs")
    accuracy = json.loads((run.path / "test_metrics.json").read_text())["accuracy"]
    assert accuracy >= 0.98, (found.suggestion, accuracy)
