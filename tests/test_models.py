"""The model registry."""
import pytest
import torch

from visionpath.models import MODELS, count_parameters, create_model, scale_pixels
from visionpath.errors import VisionpathError


# every model trained from scratch, and one pretrained backbone (the others are the same wrapper around timm)
@pytest.mark.parametrize("name", [n for n, e in MODELS.items() if e.timm_name is None] + ["efficientnet_lite0"])
def test_every_model_has_a_docstring_and_runs_on_grey_and_colour(name):
    assert len(MODELS[name].build.__doc__) > 200  # written for a beginner
    for shape in ((1, 28, 28), (3, 32, 32)):
        model = create_model(name, 7, shape)
        assert model(torch.zeros(2, *shape)).shape == (2, 7)


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


def test_scale_pixels():
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert scale_pixels(x, [0.0], [1.0]).tolist() == [[[[0.0, 1.0]]]]
    assert scale_pixels(x, [0.5], [0.5]).tolist() == [[[[-1.0, 1.0]]]]
