"""Training pictures whose label the model disputes: out-of-fold predictions from frozen features, ranked."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import visionpath
from visionpath.data.check import check_data
from visionpath.errors import VisionpathError
from visionpath.data.suspects import SUSPECTS_FILE, disputed_labels, out_of_fold, read_suspects


def clusters(per_class: int, flipped: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of three well-separated classes (as frozen features of distinct subjects are), and their labels
    with the pictures `flipped` given the next class's label."""
    rng = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat_interleave(per_class)
    features = torch.randn(3, 32, generator=rng)[labels] * 3 + torch.randn(len(labels), 32, generator=rng)
    given = labels.clone()
    given[flipped] = (labels[flipped] + 1) % 3
    return features, given


def test_flipped_labels_top_the_list_and_correct_ones_are_left_alone():
    """5% of 300 labels flipped on purpose: those 15 are the list, the correct ones are not in it."""
    flipped = list(range(0, 300, 20))
    features, given = clusters(100, flipped)
    paths = [f"{i}.png" for i in range(300)]
    found, agreed = disputed_labels(features, given, ["ant", "bee", "cat"], paths)
    assert 0.93 <= agreed <= 0.95  # every label but the flipped ones (and a few it is unsure of)
    assert {int(d.path.split(".")[0]) for d in found} == set(flipped)
    assert all(d.given_probability < 0.5 < d.predicted_probability for d in found)
    assert [d.given_probability for d in found] == sorted(d.given_probability for d in found)  # most disputed first
    first = found[0]
    assert (first.given, first.predicted) == (["ant", "bee", "cat"][given[int(first.path[:-4])]],
                                              ["ant", "bee", "cat"][(given[int(first.path[:-4])] - 1) % 3])


def test_each_prediction_comes_from_a_head_that_never_saw_the_picture():
    """A picture whose features are unlike any other's, alone in its class: a head that saw it would give it its
    own class; out of fold, no head saw it, so its class gets next to nothing."""
    features, given = clusters(20, [])
    features = torch.cat([features, torch.full((1, 32), 40.0)])
    given = torch.cat([given, torch.tensor([3])])
    p = out_of_fold(features, given, 4)
    assert p[-1, 3] < 0.05 and torch.allclose(p.sum(1), torch.ones(len(p)), atol=1e-5)


@pytest.mark.slow  # over 2.5 s here: the full suite runs it
def test_a_photo_run_lists_the_pictures_whose_labels_it_disputes(tmp_path, capsys):
    """Plain colours with noise, 3 of 60 training pictures filed under the wrong colour: the run says so and
    suspects.csv names those three, the most disputed first."""
    rng = np.random.default_rng(0)
    colours = {"blue": (30, 30, 200), "green": (30, 200, 30), "red": (200, 30, 30)}
    wrong = {("blue", 3): "green", ("green", 5): "red", ("red", 7): "blue"}
    for split, count in (("train", 20), ("validation", 6)):
        for name, colour in colours.items():
            for i in range(count):
                folder = wrong.get((name, i), name) if split == "train" else name
                (tmp_path / "photos" / split / folder).mkdir(parents=True, exist_ok=True)
                pixels = np.clip(np.array(colour) + rng.normal(0, 10, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(tmp_path / "photos" / split / folder / f"{name}-{i}.png")
    run = visionpath.train(tmp_path / "photos", project=tmp_path / "runs", model="efficientnet_lite0",
                           pretrained=True, image_size=32, epochs=2, fine_tune_epochs=0, batch_size=16,
                           precision="fp32")
    assert "labels: a head that never saw them disputes 3 of the 60 training pictures' labels" in \
        capsys.readouterr().out
    found = read_suspects(run.path)
    assert sorted((d.given, d.predicted, d.path.rsplit("/", 1)[1]) for d in found) == [
        ("blue", "red", "red-7.png"), ("green", "blue", "blue-3.png"), ("red", "green", "green-5.png")]
    assert (run.path / SUSPECTS_FILE).read_text().startswith("path,given,predicted,given_probability,")
    page = (run.path / "report.html").read_text()
    assert "Training labels the model disputes (3 of 60)" in page and page.count("looks like ") == 3
    checked = check_data(tmp_path / "photos", run=run.path)
    (finding,) = [f for f in checked.findings if f.kind == "disputed-label"]
    assert sorted(Path(p).name for p in finding.paths) == ["blue-3.png", "green-5.png", "red-7.png"]
    assert [label["given"] for label in finding.numbers["labels"]] == [d.given for d in found]


def test_a_run_that_did_not_look_says_so(tiny_folder, tmp_path):
    """A model from scratch caches no features: no suspects.csv, no section in its report, and the data check
    asked about its labels says why in one sentence."""
    run = visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    assert read_suspects(run.path) is None and "disputes" not in (run.path / "report.html").read_text()
    with pytest.raises(VisionpathError, match="has no suspects.csv: only a run of a pretrained backbone"):
        check_data(tiny_folder, run=run.path)
