"""Prediction: top-k, CSV, folders, odd pictures, and the same tensor on the training and prediction paths."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

import visionpath
from visionpath.data import load_dataset
from visionpath.data.images import load_image
from visionpath.errors import VisionpathError
from visionpath.models import logits_in_batches


@pytest.fixture
def trained(tiny_folder, tmp_path):
    return visionpath.train(tiny_folder, project=tmp_path / "runs", model="mlp", epochs=3, batch_size=8, width=32,
                            precision="fp32")


def test_top_k_and_csv(trained, tiny_folder, tmp_path):
    out = tmp_path / "labels.csv"
    results = trained.predict([tiny_folder / "test"], top_k=2, csv=out)
    assert len(results) == 12 and all(len(r.top) == 2 for r in results)
    assert all(r.top[0][1] >= r.top[1][1] and r.label == r.top[0][0] for r in results)
    correct = sum(r.label == r.path.split("/")[-2] for r in results)
    assert correct >= 10
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 12 and set(rows[0]) >= {"path", "label", "probability", "top1", "top2"}


def test_a_picture_becomes_the_same_tensor_on_every_path(trained, tiny_folder):
    """Training decoded this file through the dataset; prediction decodes it on its own: same pixels, same scores."""
    data = load_dataset(tiny_folder)
    path = data.test.paths[5]
    assert torch.equal(data.test.images[5], load_image(path, (12, 12), 3))
    model, meta = trained.load_model()
    via_training = logits_in_batches(model, data.test.images[5:6], meta["mean"], meta["std"], torch.device("cpu"))
    via_prediction = trained.predict([path], top_k=3)[0]
    probs = dict(zip(meta["classes"], via_training.softmax(1)[0].tolist()))
    assert all(p == pytest.approx(probs[name], abs=1e-6) for name, p in via_prediction.top)


def test_any_picture_is_converted_to_what_the_model_expects(trained, tmp_path):
    Image.new("L", (50, 80), 128).save(tmp_path / "grey_big.png")
    Image.new("RGBA", (5, 5), (10, 200, 10, 128)).save(tmp_path / "small_rgba.png")
    results = trained.predict([tmp_path / "grey_big.png", tmp_path / "small_rgba.png"], top_k=3)
    # what the model saw: 12×12 colour, grey repeated to three channels, transparency blended onto white
    seen = torch.stack([torch.full((3, 12, 12), 128, dtype=torch.uint8),
                        torch.tensor([132, 227, 132], dtype=torch.uint8).view(3, 1, 1).expand(3, 12, 12)])
    model, meta = trained.load_model()
    expected = logits_in_batches(model, seen, meta["mean"], meta["std"], torch.device("cpu")).softmax(1)
    for result, probabilities in zip(results, expected):
        assert dict(result.top) == pytest.approx(dict(zip(meta["classes"], probabilities.tolist())), abs=1e-6)


def test_unreadable_files_are_listed_not_fatal(trained, tiny_folder, tmp_path):
    folder = tmp_path / "new"
    folder.mkdir()
    Image.new("RGB", (12, 12)).save(folder / "good.png")
    (folder / "bad.jpg").write_text("not a picture")
    results = trained.predict(folder)
    assert [r.path for r in results] == [str(folder / "good.png")]
    (folder / "good.png").unlink()
    with pytest.raises(VisionpathError, match="none of the given files"):
        trained.predict(folder)


def test_missing_inputs_and_checkpoints(trained, tmp_path):
    with pytest.raises(VisionpathError, match="does not exist"):
        trained.predict([tmp_path / "nothing.png"])
    with pytest.raises(VisionpathError, match="does not exist"):
        visionpath.predict(tmp_path / "no-run", [tmp_path])
    with pytest.raises(VisionpathError, match="has no best.safetensors"):
        visionpath.predict(tmp_path, [tmp_path])


def test_pictures_with_the_opposite_background_get_a_warning(tmp_path, capsys):
    root = tmp_path / "digits"
    for label, name in enumerate(("one", "two")):
        (root / name).mkdir(parents=True)
        for i in range(6):
            array = np.zeros((10, 10), np.uint8)  # light strokes on a dark background, like MNIST
            array[2:8, 3 + 3 * label] = 255
            Image.fromarray(array).save(root / name / f"{i}.png")
    run = visionpath.train(root, project=tmp_path / "runs", model="mlp", epochs=1, batch_size=4, width=8,
                           validation_split=0.34, precision="fp32")
    Image.fromarray(np.full((10, 10), 250, np.uint8)).save(tmp_path / "drawn_on_paper.png")
    capsys.readouterr()
    run.predict([tmp_path / "drawn_on_paper.png", root / "one" / "0.png"])
    out = capsys.readouterr().out
    assert "1 picture(s) have a light background" in out and "drawn_on_paper.png" in out


def test_min_confidence_marks_uncertain_predictions_and_tta_averages_the_mirror(trained, tiny_folder, tmp_path):
    out = tmp_path / "p.csv"
    plain = trained.predict([tiny_folder / "test"], csv=out)
    threshold = sorted(r.probability for r in plain)[len(plain) // 2]
    marked = trained.predict([tiny_folder / "test"], min_confidence=threshold, csv=out)
    assert [r.uncertain for r in marked] == [r.probability < threshold for r in plain] and any(r.uncertain for r in marked)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["uncertain"]) for r in rows] == [int(r.uncertain) for r in marked]
    mirrored = trained.predict([tiny_folder / "test"], tta=True)
    model, meta = visionpath.load_model(trained.path)
    x = torch.stack([load_image(r.path, (12, 12), 3) for r in plain])
    both = (logits_in_batches(model, x, meta["mean"], meta["std"], torch.device("cpu")).softmax(1)
            + logits_in_batches(model, x.flip(-1), meta["mean"], meta["std"], torch.device("cpu")).softmax(1)) / 2
    assert np.allclose([r.probability for r in mirrored], both.max(1).values.numpy(), atol=1e-5)
    with pytest.raises(VisionpathError, match="between 0 and 1"):
        trained.predict([tiny_folder / "test"], min_confidence=2)


def test_many_pictures_stream_through_in_batches(trained, tiny_folder):
    """Batches smaller than the number of files: every picture once, in order."""
    results = trained.predict([tiny_folder / "train", tiny_folder / "test"], batch_size=7)
    assert len(results) == 42 and results[0].path.endswith("train/ant/0.png")


def test_tta_mirrors_only_what_training_allowed(trained, tiny_folder, capsys):
    from visionpath.checkpoint import load_tensors, read_metadata, save_checkpoint
    best = trained.path / "best.safetensors"
    meta = read_metadata(best)
    assert meta["mirror_safe"] is True  # photos: a mirrored ant is an ant
    model, _ = visionpath.load_model(trained.path)
    save_checkpoint(best, model, {**meta, "mirror_safe": False})  # as for digits trained without flips
    assert torch.equal(load_tensors(best, "model.")["1.weight"], model.state_dict()["1.weight"])
    plain = trained.predict([tiny_folder / "test"])
    capsys.readouterr()
    asked = trained.predict([tiny_folder / "test"], tta=True)
    assert "--tta: no mirrored copies for this model" in capsys.readouterr().out
    assert [r.probability for r in asked] == [r.probability for r in plain]
