"""Pretrained backbones: the offline EfficientNet-Lite0 weights, --weights FILE, the offline error, freezing."""
import importlib
import numpy as np
import pytest
import torch

from visionpath.errors import VisionpathError
from visionpath.models import (MODELS, _fit_to_backbone, create_model, load_pretrained, model_entry,
                               offline_lite0_weights, pretrained_state)

skimage_data = pytest.importorskip("skimage.data")


def imagenet_top5(image: np.ndarray) -> list[int]:
    """Classify a real photo with the offline Lite0 weights and its own ImageNet classifier."""
    import timm
    from torchvision.transforms import v2
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(offline_lite0_weights(), map_location="cpu", weights_only=True)
    model.load_state_dict(dict(zip(model.state_dict(), state.values())))  # the package's order is timm's
    x = torch.from_numpy(image).permute(2, 0, 1)
    x = v2.CenterCrop(224)(v2.Resize(256, antialias=True)(x)).float().div(255)
    with torch.inference_mode():
        logits = model.eval()((x.unsqueeze(0) - 0.5) / 0.5)
    return logits.topk(5).indices[0].tolist()


def test_offline_lite0_weights_recognise_a_cat_and_an_espresso():
    cat = imagenet_top5(skimage_data.chelsea())     # a tabby cat
    assert cat[0] in (281, 282, 285)                # tabby, tiger cat, Egyptian cat
    assert imagenet_top5(skimage_data.coffee())[0] == 967  # espresso


def test_the_backbone_gets_the_same_weights_through_visionpath():
    net = create_model("efficientnet_lite0", 3, (3, 32, 32))
    load_pretrained(net, MODELS["efficientnet_lite0"])
    package = list(torch.load(offline_lite0_weights(), map_location="cpu", weights_only=True).values())
    assert torch.equal(net.backbone.conv_stem.weight, package[0])
    assert net.head[-1].out_features == 3


def test_weights_file_by_name_or_by_order_and_a_wrong_file(tmp_path):
    import timm
    source = timm.create_model("resnet18", pretrained=False)
    torch.save(source.state_dict(), tmp_path / "r18.pth")
    net = create_model("resnet18", 5, (3, 32, 32))
    load_pretrained(net, MODELS["resnet18"], tmp_path / "r18.pth")
    assert torch.equal(net.backbone.conv1.weight, source.conv1.weight)
    renamed = {f"w{i}": v for i, v in enumerate(source.state_dict().values())}
    assert torch.equal(_fit_to_backbone(renamed, "resnet18", "x")["conv1.weight"], source.conv1.weight)
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(VisionpathError, match="do not fit resnet18"):
        load_pretrained(net, MODELS["resnet18"], tmp_path / "wrong.pth")
    (tmp_path / "junk.pth").write_bytes(b"not weights")
    with pytest.raises(VisionpathError, match="not a readable PyTorch or safetensors weights file"):
        load_pretrained(net, MODELS["resnet18"], tmp_path / "junk.pth")


def test_hub_weights_offline_say_how_to_pass_a_file():
    with pytest.raises(VisionpathError, match="--weights resnet50.pth"):
        pretrained_state("resnet50")


def test_any_timm_model_by_name():
    entry = model_entry("timm:mobilenetv3_small_050")
    assert entry.resolution == 224 and entry.input_scaling == "fixed"
    net = create_model("timm:mobilenetv3_small_050", 4, (1, 28, 28))
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 4)  # grey pictures become three channels
    with pytest.raises(VisionpathError, match="timm has no model 'resnet9000'"):
        model_entry("timm:resnet9000")


# ------------------------------------------------------------------------------------------ the two stages

import visionpath  # noqa: E402
from visionpath.checkpoint import load_tensors  # noqa: E402

LITE0 = dict(model="efficientnet_lite0", pretrained=True, batch_size=8, image_size=32, precision="fp32",
             augment="none")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from conftest import make_folder
    return make_folder(tmp_path_factory.mktemp("transfer") / "photos", size=32)


def backbone_tensors(path):
    return {k: v for k, v in load_tensors(path, "model.").items() if k.startswith("backbone.")}


def pretrained_backbone():
    net = create_model("efficientnet_lite0", 3, (3, 32, 32))
    load_pretrained(net, MODELS["efficientnet_lite0"])
    return {f"backbone.{k}": v for k, v in net.backbone.state_dict().items()}


@pytest.mark.parametrize("feature_cache", [True, False])
def test_stage_one_freezes_weights_and_batch_norm_statistics(photos, tmp_path, feature_cache):
    run = visionpath.train(photos, project=tmp_path, epochs=2, fine_tune_epochs=0, feature_cache=feature_cache,
                           **LITE0)
    before, after = pretrained_backbone(), backbone_tensors(run.path / "last.safetensors")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == []  # running_mean and running_var included
    head = load_tensors(run.path / "last.safetensors", "model.head.")
    assert head["1.weight"].shape == (3, 1280)
    assert [r["stage"] for r in run.history] == [1, 1]


def test_cached_features_train_the_same_head_as_recomputing_them(photos, tmp_path):
    cached = visionpath.train(photos, project=tmp_path, epochs=2, fine_tune_epochs=0, dropout=0.0, **LITE0)
    slow = visionpath.train(photos, project=tmp_path, epochs=2, fine_tune_epochs=0, dropout=0.0,
                            feature_cache=False, **LITE0)
    a = load_tensors(cached.path / "last.safetensors", "model.head.")
    b = load_tensors(slow.path / "last.safetensors", "model.head.")
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)


def test_unfreeze_top_blocks_fine_tunes_only_those(photos, tmp_path):
    run = visionpath.train(photos, project=tmp_path, epochs=1, fine_tune_epochs=1, unfreeze=1, **LITE0)
    before, after = pretrained_backbone(), backbone_tensors(run.path / "last.safetensors")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # lite0's coarse groups: stem, blocks.0 ... blocks.5, then blocks.6 with the head convolution: the top one
    top = ("backbone.blocks.6.", "backbone.conv_head.", "backbone.bn2.")
    assert changed and all(k.startswith(top) for k in changed)
    assert "backbone.bn2.weight" in changed  # unfrozen batch norm learns its scale and shift...
    assert not any("running" in k for k in changed)  # ...but keeps ImageNet's statistics
    assert [r["stage"] for r in run.history] == [1, 2]
    assert (run.path / "curves.png").stat().st_size > 10_000


def test_discriminative_learning_rates_shrink_block_by_block():
    from visionpath.train import set_stage
    net = create_model("efficientnet_lite0", 3, (3, 32, 32))
    settings = {"unfreeze": 2, "layer_lr_decay": 0.5, "optimizer": "adam", "weight_decay": 1e-4, "lr": 1e-2}
    opt, _, _ = set_stage(net, 2, True, settings, torch.device("cpu"), fine_tune_lr=1e-3)
    lr_of = {p: group["lr"] for group in opt.param_groups for p in group["params"]}
    top, second, third = (list(p for module in group for p in module.parameters()) for group in net.block_groups()[-1:-4:-1])
    assert {lr_of[p] for p in net.head.parameters()} == {1e-3}
    assert {lr_of[p] for p in top} == {5e-4} and {lr_of[p] for p in second} == {2.5e-4}
    assert not any(p in lr_of for p in third)  # below --unfreeze 2: frozen
    assert {group["lr_scale"] for group in opt.param_groups} == {1.0, 0.5, 0.25}


def test_pretrained_only_for_backbones(photos, tmp_path):
    with pytest.raises(VisionpathError, match="--pretrained and --weights apply to pretrained backbones"):
        visionpath.train(photos, project=tmp_path, model="cnn", pretrained=True)


def test_compare_runs(photos, tmp_path, capsys):
    from visionpath.cli import main
    a = visionpath.train(photos, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    b = visionpath.train(photos, project=tmp_path, model="cnn", epochs=1, batch_size=8, precision="fp32")
    assert main(["compare", str(a.path), str(b.path), "--output", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp.md").read_text()
    assert "photos-mlp-1" in table and "photos-cnn-1" in table and "test accuracy" in table
    assert (tmp_path / "cmp.csv").read_text().startswith("run,model,data,epochs,training_seconds,parameters")
    assert (tmp_path / "cmp.png").stat().st_size > 10_000


def test_a_transfer_run_evaluates_and_predicts_like_any_other(photos, tmp_path):
    run = visionpath.train(photos, project=tmp_path, epochs=1, fine_tune_epochs=0, **LITE0)
    evaluation = run.evaluate()
    assert evaluation.confusion.sum() == 12
    predictions = run.predict([photos / "test" / "ant" / "0.png"])
    assert predictions[0].label in ("ant", "bee", "cat")


def test_a_folder_with_no_model_gets_the_photo_defaults(photos, tmp_path, capsys):
    run = visionpath.train(photos, project=tmp_path, epochs=1, fine_tune_epochs=1, batch_size=8, image_size=32)
    out = capsys.readouterr().out
    assert "no --model: a folder of photos trains efficientnet_lite0, pretrained on ImageNet" in out
    assert "early stopping: fine-tuning stops after 3 epochs" in out
    assert run.settings["model"] == "efficientnet_lite0" and run.settings["pretrained"]
    assert run.settings["early_stopping"] == 3 and [r["stage"] for r in run.history] == [1, 2]
    assert (run.path / "report.html").is_file() and (run.path / "split.csv").is_file()


def test_the_photo_defaults_fit_the_pictures_and_the_cpu(photos, tmp_path, monkeypatch, capsys):
    from conftest import make_folder
    train_module = importlib.import_module("visionpath.train")
    chosen = train_module.photo_defaults(photos, None, "cpu")
    assert chosen == dict(image_size=224, batch_size=25, early_stopping=3, fine_tune_lr=1e-5, unfreeze=3)
    assert "resolution 224×224: the backbone's own resolution (the pictures are smaller" in capsys.readouterr().out
    large = make_folder(tmp_path / "large", size=300, per_class={"train": 2, "validation": 1})
    assert train_module.photo_defaults(large, None, "cpu")["image_size"] == 288  # above 224: features are best
    monkeypatch.setattr(train_module, "CPU_PIXELS_PER_EPOCH", 30 * 100 * 100)  # as if there were far more photos
    chosen = train_module.photo_defaults(photos, None, "cpu", batch_size=8, early_stopping=5, unfreeze=1)
    assert chosen == dict(image_size=96, batch_size=8, early_stopping=5, fine_tune_lr=1e-5, unfreeze=1)
    assert "the largest that keeps a fine-tuning epoch of 30 pictures near a minute" in capsys.readouterr().out


def test_early_stopping_waits_for_fine_tuning(photos, tmp_path, monkeypatch):
    """Stage 1 is cheap and stopping it would skip fine-tuning: patience counts in stage 2 only, from its start."""
    train_module = importlib.import_module("visionpath.train")

    def flat(real):
        def evaluate(*args, **kwargs):
            e = real(*args, **kwargs)
            if kwargs.get("split", args[-1] if isinstance(args[-1], str) else None) == "validation":
                e.accuracy, e.loss = 0.5, 1.0  # never better than epoch 1
            return e
        return evaluate
    monkeypatch.setattr(train_module, "evaluate_images", flat(train_module.evaluate_images))
    monkeypatch.setattr(train_module, "evaluate_logits", flat(train_module.evaluate_logits))
    run = visionpath.train(photos, project=tmp_path, epochs=3, fine_tune_epochs=3, early_stopping=1, **LITE0)
    assert [r["stage"] for r in run.history] == [1, 1, 1, 2]
