"""Augmentation: presets, flags, and that every transform works per picture on whole batches."""
import pytest
import torch

from visionpath.augment import PRESETS, Augmentation, augment_batch, erase, geometric, make_augmentation
from visionpath.errors import VisionpathError


def batch(n=64, size=16, channels=3):
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_presets_and_flag_overrides():
    assert not make_augmentation("none").active
    standard = make_augmentation("standard")
    assert standard.flip and standard.shift == 0.125 and not standard.trivial_augment
    strong = make_augmentation("strong")
    assert strong.trivial_augment and strong.erasing > 0 and strong.flip
    custom = make_augmentation("standard", rotation=15, zoom=0.1, flip=False)
    assert (custom.rotation, custom.zoom, custom.flip, custom.shift) == (15, 0.1, False, 0.125)
    assert make_augmentation("none", shift=0.1).describe() == "shift ±10%"
    assert not make_augmentation("standard", mirror_safe=False).flip  # digits: no mirrors unless asked for
    assert make_augmentation("standard", flip=True, mirror_safe=False).flip
    with pytest.raises(VisionpathError, match="unknown augmentation preset 'heavy'"):
        make_augmentation("heavy")
    with pytest.raises(VisionpathError, match="--rotation must be between 0 and 180"):
        make_augmentation("none", rotation=400)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_keeps_shape_and_scale(preset):
    images = batch()
    out = augment_batch(images, PRESETS[preset], [0.0] * 3, [1.0] * 3, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    if preset == "none":
        assert torch.equal(out, images.float() / 255)


def test_flip_mirrors_about_half_of_the_pictures_each_its_own_way():
    x = torch.rand(400, 1, 5, 5)
    out = geometric(x, Augmentation(flip=True), torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped | kept).all() and 150 < flipped.sum() < 250


def test_shift_is_a_whole_pixel_crop_with_mirrored_edges():
    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(200, 1, 1, 1)
    out = geometric(x, Augmentation(shift=0.25), torch.Generator().manual_seed(0))
    assert torch.equal(out, out.round())  # pixels copied, not blended
    moved = [not torch.equal(o, x[0]) for o in out]
    assert 100 < sum(moved) < 200
    # every output row is an input row shifted sideways: its values are consecutive (or mirrored at an edge)
    assert set(out.flatten().tolist()) <= set(x.flatten().tolist())


def test_rotation_and_zoom_change_pictures_differently():
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    out = geometric(x, Augmentation(rotation=30, zoom=0.2), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    differences = (out - x).abs().mean(dim=(1, 2, 3))
    assert (differences > 0.01).all() and len(set(differences.round(decimals=4).tolist())) == 8


def test_erasing_blanks_a_rectangle_in_the_chosen_share():
    x = torch.ones(1000, 3, 16, 16)
    out = erase(x, 0.25, torch.Generator().manual_seed(0))
    erased = (out == 0).flatten(1).any(1)
    assert 180 < erased.sum() < 320
    one = out[erased.nonzero()[0, 0], 0] == 0
    rows, cols = one.any(1).nonzero().flatten(), one.any(0).nonzero().flatten()
    assert one[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a filled rectangle


def test_strong_works_on_grey_pictures_too():
    out = augment_batch(batch(channels=1), PRESETS["strong"], [0.5], [0.5], torch.Generator().manual_seed(0))
    assert out.shape == (64, 1, 16, 16)
