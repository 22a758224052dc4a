"""The model registry."""
import copy

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


@pytest.mark.parametrize("side", [2, 4, 9])  # kernel larger than the map (own gradient) and smaller (oneDNN's)
@pytest.mark.parametrize("bf16", [False, True])  # under bf16 autocast, depthwise layers run in fp32
def test_depthwise_convolution_gradients_match_pytorchs(side, bf16):
    from timm.layers import Conv2dSame
    from visionpath.models import DepthwiseConv2d, DepthwiseConv2dSame, use_fast_depthwise
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 5, padding=2, groups=8, bias=False),
                                torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False),
                                Conv2dSame(8, 8, 3, stride=2, groups=8, bias=False))
    fast = copy.deepcopy(plain)
    use_fast_depthwise(fast)
    assert [type(layer) for layer in fast] == [DepthwiseConv2d, DepthwiseConv2d, DepthwiseConv2dSame]
    assert fast.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(6, 8, side, side).contiguous(memory_format=torch.channels_last)
    grads = []
    for net, autocast in ((plain, False), (fast, bf16)):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = net(xi)
        assert out.dtype == torch.float32
        (out * torch.arange(8.0).view(1, 8, 1, 1)).sum().backward()
        grads.append((xi.grad, *(layer.weight.grad for layer in net)))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    if bf16:  # without a gradient to take, bf16 stays: its forward pass is the fast one
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            assert fast(x).dtype == torch.bfloat16
