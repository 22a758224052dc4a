"""The model registry: every model builds, learns, and takes only the arguments and recipes that exist."""
import pytest
import torch

from visionpath.config import TrainConfig
from visionpath.errors import VisionpathError
from visionpath.models import MODELS, count_parameters, create_model, model_entry


# every model trained from scratch, and one pretrained backbone (the others are the same wrapper around timm)
@pytest.mark.parametrize("name", [n for n, e in MODELS.items() if not e.pretrained] + ["efficientnet_lite0"])
def test_every_model_is_explained_and_every_weight_learns_on_grey_and_colour(name):
    assert len(MODELS[name].build.__doc__) > 200  # written for a beginner
    torch.manual_seed(0)
    for shape in ((1, 28, 28), (3, 32, 32)):
        model = create_model(name, 7, shape)
        scores = model(torch.rand(4, *shape))
        assert scores.shape == (4, 7)
        torch.nn.functional.cross_entropy(scores, torch.arange(4)).backward()
        silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert silent == []  # no layer is cut off from the loss


def test_mlp_is_the_guides_network():
    model = create_model("mlp", 10, (1, 28, 28))
    assert count_parameters(model) == 784 * 512 + 512 + 512 * 10 + 10  # Dense 512 -> Dense 10
    deep = create_model("mlp", 10, (1, 28, 28), width=64, depth=3, dropout=0.5)
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in deep) == 3


def test_unknown_model_or_argument():
    with pytest.raises(VisionpathError, match="Known models: mlp"):
        create_model("vit", 10, (1, 28, 28))
    with pytest.raises(VisionpathError, match="no argument kernel_size; it takes width=512, depth=1, dropout=0.2"):
        create_model("mlp", 10, (1, 28, 28), kernel_size=3)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_recipe_is_a_set_of_valid_training_settings(name):
    recipe = MODELS[name].recipe
    assert TrainConfig(model=name, **recipe).to_dict().items() >= recipe.items()


def test_a_backbone_row_carries_its_timm_architecture_and_scaling():
    lite0, resnet = MODELS["efficientnet_lite0"], MODELS["resnet18"]
    assert (lite0.timm_name, lite0.input_scaling, lite0.resolution) == ("tf_efficientnet_lite0", "symmetric", 224)
    assert (resnet.timm_name, resnet.input_scaling, resnet.mean) == ("resnet18", "fixed", (0.485, 0.456, 0.406))
    assert lite0.pretrained and resnet.pretrained and not MODELS["cnn"].pretrained
    assert model_entry("timm:mobilenetv3_small_050").recipe == lite0.recipe  # any timm model: the same recipe
