"""Seeing inside: Grad-CAM looks where the model learned to look, the filters and feature maps drawn are the
model's own, and `show` draws the training pictures with their labels and the run's augmentation."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from PIL import Image

import visionpath
from visionpath.errors import VisionpathError
from visionpath.models import scale_pixels
from visionpath.run_files import load_model

inside = importlib.import_module("visionpath.inside")


def corner_folder(root, per_class: int = 40, size: int = 16):
    """Two classes told apart only by a bright square: top-left for one, bottom-right for the other; the rest
    is noise. A model can only be right by looking at the square."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("validation", 8)):
        for name in ("top-left", "bottom-right"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                picture = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
                square = (slice(1, 5), slice(1, 5)) if name == "top-left" else (slice(-5, -1), slice(-5, -1))
                picture[square] = 255
                Image.fromarray(picture).save(folder / f"{i}.png")
    return root


@pytest.mark.slow  # over 3 s here: the full suite runs it
def test_grad_cam_peaks_where_the_model_learned_to_look(tmp_path):
    folder = corner_folder(tmp_path / "corners")
    run = visionpath.train(folder, project=tmp_path / "runs", model="cnn", width=8, epochs=6, batch_size=16,
                           augment="none")
    pictures = sorted((folder / "validation").rglob("*.png"))
    found = visionpath.inside.explain(run.path, pictures, output=tmp_path / "explained.png")
    assert (tmp_path / "explained.png").stat().st_size > 0
    for picture, item in zip(pictures, found):
        assert item.label == picture.parent.name  # right, so the map shows the evidence for the true class
        assert item.heatmap.shape == (16, 16) and 0 <= item.heatmap.min() and item.heatmap.max() == pytest.approx(1)
        row, column = divmod(int(item.heatmap.argmax()), 16)
        assert (row < 8 and column < 8) if item.label == "top-left" else (row >= 8 and column >= 8), (picture, row,
                                                                                                       column)


def test_grad_cam_weighs_each_feature_map_by_how_much_it_moves_the_class_score():
    """Two feature maps: a spot top-left in the first, a brighter one bottom-right in the second; the class score
    reads the first alone. Grad-CAM must show the first spot, not the brighter one the score ignores."""
    model = torch.nn.Sequential(torch.nn.Identity(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        model[3].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.1]]))
    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 0, 1, 1], maps[0, 1, 6, 6] = 1.0, 3.0
    probabilities, heat = inside.grad_cam(model, maps)
    assert probabilities.argmax() == 0
    assert divmod(int(heat[0].argmax()), 8) == (1, 1) and heat[0, 6, 6] == 0


@pytest.mark.slow
def test_grad_cam_works_for_a_pretrained_backbone_and_refuses_a_dense_network(trained, photos, tmp_path):
    found = visionpath.inside.explain(trained["lite0"], sorted(photos.iterdir()), output=tmp_path / "e.png")
    assert len(found) == 4 and all(item.heatmap.max() == pytest.approx(1) for item in found)
    predicted = visionpath.predict(trained["lite0"], sorted(photos.iterdir()))
    assert [item.label for item in found] == [p.label for p in predicted]
    assert [item.probability for item in found] == pytest.approx([p.probability for p in predicted], abs=1e-5)
    dense = visionpath.train(trained["pictures"].parent, project=tmp_path / "runs", model="mlp", epochs=1, batch_size=8)
    with pytest.raises(VisionpathError, match="needs a convolutional model"):
        visionpath.inside.explain(dense.path, sorted(photos.iterdir()), output=tmp_path / "d.png")


def test_the_filters_drawn_are_the_first_convolution_s_and_so_are_the_feature_maps(trained, photos, tmp_path):
    picture = photos / "chelsea.jpg"
    weights, maps = visionpath.inside.filters(trained["cnn"], picture, output=tmp_path / "filters.png", maps=4)
    model, meta = load_model(trained["cnn"])
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert torch.equal(weights, conv.weight.detach())
    pixels = visionpath.load_image(picture, tuple(meta["input_shape"][1:]), 3)[None]
    assert torch.allclose(maps, conv(scale_pixels(pixels, meta["mean"], meta["std"]))[0].detach(), atol=1e-5)
    assert (tmp_path / "filters.png").stat().st_size > 0
    weights, maps = visionpath.inside.filters(trained["lite0"], output=tmp_path / "lite0.png")  # no picture
    assert weights.shape[1:] == (3, 3, 3) and maps is None


@pytest.mark.slow
def test_show_draws_training_pictures_with_their_labels_and_the_run_s_augmentation(tiny_folder, tmp_path):
    plain, same = visionpath.inside.show(tiny_folder, output=tmp_path / "none.png", count=6, augment="none")
    # at the size `visionpath train` decodes them (run_files.picture_size): a backbone's 224 px, but 12-px photos are
    # not enlarged (the backbone resizes them as it reads them)
    assert plain.shape == (6, 3, 12, 12) and torch.equal(plain, same)
    dataset = visionpath.load_dataset(tiny_folder, image_size=224, enlarge=False)
    assert all(any(torch.equal(p, q) for q in dataset.train.images) for p in plain)  # real training pictures
    pictures, augmented = visionpath.inside.show(tiny_folder, output=tmp_path / "strong.png", count=6,
                                                 augment="strong")
    assert torch.equal(pictures, plain) and not torch.equal(pictures, augmented)  # the same pictures, changed
    assert (tmp_path / "none.png").stat().st_size > 0 and (tmp_path / "strong.png").stat().st_size > 0
    with pytest.raises(VisionpathError, match="--count must be a whole number between 1 and 64"):
        visionpath.inside.show(tiny_folder, count=100)
