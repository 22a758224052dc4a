"""The one decoding function: orientation, modes, formats, and clear errors."""
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from visionpath.data import images
from visionpath.data.images import InMemory, load_image, load_images, peek_image
from visionpath.errors import VisionpathError


def test_exif_orientation_is_applied(tmp_path):
    image, exif = banded(6)  # "rotate 90° clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    tensor = load_image(tmp_path / "rotated.jpg")
    assert tensor.shape == (3, 40, 20)  # shown as portrait
    assert tensor[:, :8].float().mean() > 200 and tensor[:, -8:].float().mean() < 50  # the band is now on top
    assert peek_image(tmp_path / "rotated.jpg") == ((40, 20), False)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "LA", "1"])
def test_every_mode_becomes_uint8_grey_or_rgb(tmp_path, mode):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    image = rgb.convert("L").convert(mode) if mode in ("I;16", "LA", "1") else rgb.convert(mode)
    path = tmp_path / ("x.tiff" if mode == "CMYK" else "x.png")
    image.save(path)
    tensor = load_image(path)
    assert tensor.dtype == torch.uint8 and tensor.shape[0] in (1, 3) and tensor.shape[1:] == (8, 8)
    assert load_image(path, channels=3).shape == (3, 8, 8) and load_image(path, channels=1).shape == (1, 8, 8)


def test_16_bit_grey_keeps_its_brightness(tmp_path):
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "white16.png")
    assert load_image(tmp_path / "white16.png").min() == 255


GREY_RAMP = np.array([[0, 64, 128, 255]], np.float64) / 255  # black to white, as shares of white


@pytest.mark.parametrize("name, pixels, mode", [
    ("floats of 0-1.tif", GREY_RAMP.astype(np.float32), "F"),  # decoded black before: clipped at 0-255 as if 8-bit
    ("floats of 0-255.tif", (GREY_RAMP * 255).astype(np.float32), "F"),
    ("16-bit.png", (GREY_RAMP * 65535).astype(np.uint16), "I;16"),
    ("16-bit big-endian.tif", (GREY_RAMP * 65535).astype(">u2"), "I;16B"),
    ("32-bit integers.tif", (GREY_RAMP * (2 ** 31 - 1)).astype(np.int32), "I"),  # decoded white before: clipped
    ("16-bit values in 32 bits.tif", (GREY_RAMP * 65535).astype(np.int32), "I"),
])
def test_every_pixel_format_decodes_to_the_grey_it_shows(tmp_path, name, pixels, mode):
    image = Image.fromarray(pixels)
    assert image.mode == mode
    image.save(tmp_path / name)
    with Image.open(tmp_path / name) as reread:
        assert reread.mode.startswith(mode[:3])  # the file holds the pixel format under test
    assert load_image(tmp_path / name)[0, 0].tolist() == [0, 64, 128, 255]


def test_a_float_picture_with_missing_values_decodes(tmp_path):  # not-a-number and infinite: black, as missing
    pixels = np.array([[np.nan, 0.5, np.inf, 1.0]], np.float32)
    Image.fromarray(pixels).save(tmp_path / "holes.tif")
    assert load_image(tmp_path / "holes.tif")[0, 0].tolist() == [0, 128, 0, 255]


def banded(orientation: int) -> tuple[Image.Image, Image.Exif]:
    """A landscape picture with a white band on its left, and EXIF saying how to turn it for display."""
    array = np.zeros((20, 40, 3), np.uint8)
    array[:, :10] = 255
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    return image, exif


def test_avif_photos_are_read_with_their_exif_orientation(tmp_path):
    image, exif = banded(6)  # "rotate 90° clockwise to display", as for JPEG
    image.save(tmp_path / "rotated.avif", exif=exif, quality=95)
    assert images.is_image_file(tmp_path / "rotated.avif")  # a folder's AVIF photos are pictures (skipped before)
    tensor = load_image(tmp_path / "rotated.avif")
    assert tensor.shape == (3, 40, 20) and tensor[:, :8].float().mean() > 200 and tensor[:, -8:].float().mean() < 50


def test_iphone_heic_photos_are_read_and_a_folder_of_them_trains(tmp_path):
    """HEIC through pillow-heif (the heif extra): a folder of them was refused ("has no images"). libheif applies
    the rotation the file stores and sets its EXIF orientation to 1, so the picture is not turned twice: it reads
    as a viewer shows it."""
    pytest.importorskip("pillow_heif", reason="the heif extra is not installed")
    import pillow_heif
    from visionpath.data import load_dataset
    pillow_heif.register_heif_opener()  # to write the test's files (reading registers it by itself)
    image, exif = banded(6)
    image.save(tmp_path / "photo.HEIC", exif=exif, quality=95)
    tensor = load_image(tmp_path / "photo.HEIC")
    assert tensor.shape == (3, 20, 40) and tensor[:, :, :8].float().mean() > 200  # as saved: shown so
    assert peek_image(tmp_path / "photo.HEIC") == ((20, 40), False)
    for split in ("train", "validation"):
        for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
            (tmp_path / "photos" / split / name).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (48, 32), colour).save(tmp_path / "photos" / split / name / f"IMG_{i}.heic")
    data = load_dataset(tmp_path / "photos", image_size=32)
    assert data.classes == ["blue", "red"] and len(data.train) == 6 and len(data.validation) == 6
    assert data.train.images[data.train.labels == 1][:, 0].float().mean() > 180  # red


def test_heic_photos_without_the_extra_are_one_sentence_naming_it(tmp_path, monkeypatch):
    from visionpath.data import load_dataset
    for split in ("train", "validation"):
        for name in ("a", "b"):
            (tmp_path / "photos" / split / name).mkdir(parents=True)
            (tmp_path / "photos" / split / name / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if it were not installed
    images._heif_plugin.cache_clear()
    try:
        with pytest.raises(VisionpathError, match=r"IMG_0001.HEIC is a HEIC/HEIF photo \(an iPhone's\); reading it "
                                                  r"needs pillow-heif, which is not installed: pip install "
                                                  r"'visionpath\[heif\]'"):
            load_dataset(tmp_path / "photos")
    finally:
        images._heif_plugin.cache_clear()


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").min() == 255


def test_first_frame_of_an_animated_gif(tmp_path):
    frames = [Image.new("L", (6, 6), v) for v in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert abs(int(load_image(tmp_path / "anim.gif", channels=1).float().mean()) - 10) <= 2


@pytest.mark.parametrize("suffix", [".bmp", ".webp", ".tif", ".jpg"])
def test_other_formats(tmp_path, suffix):
    Image.new("RGB", (10, 6), (200, 30, 30)).save(tmp_path / f"x{suffix}")
    tensor = load_image(tmp_path / f"x{suffix}")
    assert tensor.shape == (3, 6, 10) and tensor[0].float().mean() > 150


def test_resize_crops_the_centre_without_stretching(tmp_path):
    array = np.zeros((10, 30), np.uint8)
    array[:, 10:20] = 255  # a white square in the middle of a wide picture
    Image.fromarray(array).save(tmp_path / "wide.png")
    tensor = load_image(tmp_path / "wide.png", size=(5, 5))
    assert tensor.shape == (1, 5, 5) and tensor.min() > 200


def test_unreadable_files_get_one_clear_sentence(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture")
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "full.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:200])
    for name in ("notes.jpg", "cut.jpg", "missing.png"):
        with pytest.raises(VisionpathError, match=name):
            load_image(tmp_path / name)


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    Image.new("L", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(VisionpathError, match="too large"):
        load_image(tmp_path / "big.png")


def test_many_at_once_gives_the_same_pixels_as_one_at_a_time(tmp_path, monkeypatch):
    """load_images decodes small JPEGs with torchvision: every kind of file must still come out as load_image's."""
    rng = np.random.default_rng(0)
    colour = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    colour.save(tmp_path / "colour.jpg", quality=90)
    colour.save(tmp_path / "progressive.jpg", quality=90, progressive=True)
    colour.convert("L").save(tmp_path / "grey.jpg")
    colour.convert("CMYK").save(tmp_path / "cmyk.jpg")
    colour.resize((24, 16)).save(tmp_path / "wide.jpg")  # not at the wanted size: cropped and resized by Pillow
    for name, orientation in (("turned.jpg", 6), ("turned-wide.jpg", 8)):
        picture = colour if name == "turned.jpg" else colour.resize((16, 24))
        exif = picture.getexif()
        exif[0x0112] = orientation
        picture.save(tmp_path / name, exif=exif)
    colour.save(tmp_path / "png.jpg", format="PNG")  # a PNG named .jpg
    data = (tmp_path / "colour.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    paths = sorted(tmp_path.iterdir())
    by_pillow = []
    monkeypatch.setattr(images, "load_image", lambda path, *a: by_pillow.append(str(path).split("/")[-1])
                        or load_image(path, *a))
    uploads = [InMemory(path.name, path.read_bytes()) for path in paths]  # files sent to `visionpath serve`
    for channels in (None, 1, 3):
        by_pillow.clear()
        batch = load_images(paths, (16, 16), channels)
        from_memory = load_images(uploads, (16, 16), channels)
        for path, image, same in zip(paths, batch, from_memory):  # a sentence names the upload as it was sent
            assert isinstance(same, type(image)), path.name  # a picture from the file is one from its bytes too
            assert torch.equal(image, same) if isinstance(image, torch.Tensor) else image == same.replace(
                path.name, str(path)), path.name
        # the rest went through torchvision: the test is only worth something if some did
        odd = {"cmyk.jpg", "wide.jpg", "turned-wide.jpg", "png.jpg", "truncated.jpg"}
        assert set(by_pillow) == odd | {1: {"colour.jpg", "progressive.jpg", "turned.jpg"}, 3: {"grey.jpg"}}.get(
            channels, set())
        for path, image in zip(paths, batch):
            if path.name == "truncated.jpg":
                assert isinstance(image, str) and "truncated.jpg" in image
            else:
                assert torch.equal(image, load_image(path, (16, 16), channels)), (path.name, channels)
