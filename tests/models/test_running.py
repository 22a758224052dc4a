"""Running a model: pixel scaling, and scores for many pictures a batch at a time."""
import torch

from visionpath.models import MODELS, create_model, logits_in_batches, scale_pixels, scaling_for


def test_scale_pixels():
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert scale_pixels(x, [0.0], [1.0]).tolist() == [[[[0.0, 1.0]]]]
    assert scale_pixels(x, [0.5], [0.5]).tolist() == [[[[-1.0, 1.0]]]]


def test_each_model_gets_its_own_scaling():
    data_mean, data_std = (0.3, 0.4, 0.5), (0.2, 0.2, 0.2)
    assert scaling_for(MODELS["mlp"], data_mean, data_std) == ([0.0] * 3, [1.0] * 3)
    assert scaling_for(MODELS["resnet9"], data_mean, data_std) == (list(data_mean), list(data_std))
    assert scaling_for(MODELS["efficientnet_lite0"], data_mean, data_std) == ([0.5] * 3, [0.5] * 3)
    grey = scaling_for(MODELS["resnet18"], (0.3,), (0.2,))  # ImageNet's, averaged over the channels
    assert grey == ([sum((0.485, 0.456, 0.406)) / 3], [sum((0.229, 0.224, 0.225)) / 3])


def test_scores_in_batches_are_the_scores_of_the_whole_set_in_eval_mode():
    torch.manual_seed(0)
    model = create_model("cnn", 3, (3, 8, 8), width=4, depth=1, dropout=0.5).train()
    images = torch.randint(0, 256, (23, 3, 8, 8), dtype=torch.uint8)
    batched = logits_in_batches(model, images, [0.0] * 3, [1.0] * 3, torch.device("cpu"), batch_size=5)
    assert model.training  # the caller's mode is given back
    with torch.no_grad():
        whole = model.eval()(images.float() / 255)  # dropout off, as in batches
    torch.testing.assert_close(batched, whole)
