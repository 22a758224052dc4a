"""The faster CPU layers compute what PyTorch's own layers compute."""
import copy

import pytest
import torch

from visionpath.models import DepthwiseConv2d, DepthwiseConv2dSame, Dropout, use_fast_depthwise


@pytest.mark.parametrize("layer", [Dropout(0.3), torch.nn.Dropout(0.3)], ids=["ours", "pytorch"])
def test_dropout_drops_the_same_share_and_scales_the_same_as_pytorchs(layer):
    torch.manual_seed(0)
    x = torch.ones(200_000)
    out = layer.train()(x)
    assert out.unique().tolist() == [0.0, pytest.approx(1 / 0.7)]  # dropped, or kept and scaled up
    assert abs((out == 0).float().mean().item() - 0.3) < 0.005
    assert abs(out.mean().item() - 1.0) < 0.01  # the expected value is kept
    assert torch.equal(layer.eval()(x), x)  # off at evaluation


@pytest.mark.parametrize("side", [2, 4, 9])  # kernel larger than the map (own gradient) and smaller (oneDNN's)
@pytest.mark.parametrize("bf16", [False, True])  # under bf16 autocast, depthwise layers run in fp32
def test_depthwise_convolution_gradients_match_pytorchs(side, bf16):
    from timm.layers import Conv2dSame
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
