"""What a run chooses for the settings left out: the user's value, else the model's recipe, else the photo
defaults, else the setting's fallback; each with its reason."""
import pytest

from conftest import make_folder
from visionpath import defaults
from visionpath.config import TrainConfig, fallback
from visionpath.defaults import announce, photo_defaults, resolve
from visionpath.models import MODELS, TRANSFER_RECIPE


def test_given_values_stay_the_recipe_fills_the_rest_then_the_fallbacks():
    config, chosen = resolve(TrainConfig(data="cifar10", model="resnet9", epochs=3))
    recipe = MODELS["resnet9"].recipe
    assert config.epochs == 3 and "epochs" not in chosen  # given
    assert (config.lr, config.batch_size, config.augment) == (recipe["lr"], recipe["batch_size"], recipe["augment"])
    assert {k for k, c in chosen.items() if c.source == "recipe"} == set(recipe) - {"epochs"}
    assert config.schedule == fallback("schedule") == "onecycle" and chosen["schedule"].source == "fallback"
    assert config.pretrained is False and config.fine_tune_lr is None  # no backbone: nothing to fine-tune
    assert resolve(config) == (config, {})  # a decided config has nothing left to decide


def test_a_built_in_dataset_without_a_model_trains_the_mlp_quietly(capsys):
    config, chosen = resolve(TrainConfig(data="mnist"))
    assert config.model == "mlp" and chosen["model"].source == "fallback"
    announce(chosen)
    assert capsys.readouterr().out == ""  # plain fallbacks go unsaid


def test_a_pretrained_backbone_fine_tunes_ten_times_gentler_unless_told(capsys):
    config, chosen = resolve(TrainConfig(data="cifar10", model="efficientnet_lite0", pretrained=True, lr=0.02))
    assert config.fine_tune_lr == pytest.approx(0.002) and chosen["fine_tune_lr"].source == "derived"
    assert config.fine_tune_epochs == TRANSFER_RECIPE["fine_tune_epochs"]
    announce(chosen)
    assert capsys.readouterr().out == ("efficientnet_lite0's recipe: epochs 10, fine tune epochs 3, augment "
                                       "standard\n")


def test_a_folder_of_photos_gets_the_pretrained_backbone_and_says_why(tmp_path, capsys):
    photos = make_folder(tmp_path / "photos", size=32)
    config, chosen = resolve(TrainConfig(data=str(photos), device="cpu", batch_size=8))
    assert (config.model, config.pretrained, config.image_size) == ("efficientnet_lite0", True, 224)
    assert (config.unfreeze, config.fine_tune_lr, config.early_stopping) == (3, 1e-5, 3)
    assert config.batch_size == 8 and "batch_size" not in chosen  # given stays given
    assert chosen["epochs"].source == "recipe" and chosen["image_size"].source == "photos"
    announce(chosen)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "no --model", "resolution 224×224", "fine-tuning", "early stopping", "efficientnet_lite0's recipe"]


def test_the_photo_defaults_fit_the_pictures_and_the_cpu(tmp_path, monkeypatch):
    photos = make_folder(tmp_path / "photos", size=32)
    chosen = {k: c.value for k, c in photo_defaults(TrainConfig(data=str(photos), device="cpu")).items()}
    assert chosen == dict(image_size=224, batch_size=25, early_stopping=3, fine_tune_lr=1e-5, unfreeze=3)
    large = make_folder(tmp_path / "large", size=300, per_class={"train": 2, "validation": 1})
    assert photo_defaults(TrainConfig(data=str(large), device="cpu"))["image_size"].value == 288  # above 224
    monkeypatch.setattr(defaults, "CPU_PIXELS_PER_EPOCH", 30 * 100 * 100)  # as if there were far more photos
    chosen = photo_defaults(TrainConfig(data=str(photos), device="cpu", batch_size=8, early_stopping=5, unfreeze=1))
    assert {k: c.value for k, c in chosen.items()} == dict(image_size=96, fine_tune_lr=1e-5)
    assert "the largest that keeps a fine-tuning epoch of 30 pictures near a minute" in chosen["image_size"].why
    assert "the top 1 blocks at lr 1e-05" in chosen["fine_tune_lr"].why
