"""Near duplicates that are real: edited copies are found, pictures that merely look alike are not."""
import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from visionpath.data.check import check_data
from visionpath.data.near import colour_distance, near_duplicates, thumbnails


def scan(rng: np.random.Generator, side: int = 128) -> Image.Image:
    """A synthetic axial scan: dark background, a bright skull ring, brain texture of its own, sometimes a lesion.
    Scans of one kind look alike (the same layout) and are all different."""
    y, x = np.mgrid[:side, :side] / side - 0.5
    r = (x / rng.uniform(0.36, 0.42)) ** 2 + (y / rng.uniform(0.40, 0.46)) ** 2
    texture = np.asarray(Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    picture = np.where(r < 0.85, 0.35 + 0.4 * texture, np.where(r < 1, 0.9, 0.0))
    if rng.random() < 0.5:
        cx, cy = rng.uniform(-0.2, 0.2, 2)
        picture[(x - cx) ** 2 + (y - cy) ** 2 < 0.006] = 0.85
    picture = np.clip(picture + rng.normal(0, 0.03, picture.shape), 0, 1)
    return Image.fromarray((picture * 255).astype(np.uint8)).convert("RGB")


def jpeg(picture: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


EDITS = {  # each an edit that leaves the same picture
    "reencoded": lambda p: jpeg(p, 25),
    "resized": lambda p: jpeg(p.resize((p.width * 2 // 5, p.height * 2 // 5)), 85),
    "cropped": lambda p: jpeg(p.crop((7, 4, p.width - 2, p.height - 6)), 90),
    "recoloured": lambda p: jpeg(ImageEnhance.Color(ImageEnhance.Brightness(p).enhance(1.2)).enhance(0.5), 90),
    "greyed": lambda p: jpeg(ImageOps.grayscale(p), 90),
}


@pytest.mark.slow
def test_look_alike_pictures_are_not_near_duplicates_and_edited_copies_are(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "scans"
    originals = {}
    for i in range(40):  # two classes of look-alikes: nothing may be said to be mislabelled
        name = "tumour" if i % 2 else "healthy"
        (root / "train" / name).mkdir(parents=True, exist_ok=True)
        originals[i] = root / "train" / name / f"{i}.png"
        scan(rng).save(originals[i])
    report = check_data(root)
    assert not [f for f in report.findings if f.kind.startswith("near")]
    for (edit, make), i in zip(EDITS.items(), (1, 3, 5, 7, 9)):
        (root / "test" / "tumour").mkdir(parents=True, exist_ok=True)
        (root / "test" / "tumour" / f"{i}-{edit}.jpg").write_bytes(make(Image.open(originals[i])))
    report = check_data(root)
    near = {frozenset(p.split("scans/")[1] for p in f.paths) for f in report.findings if f.kind.startswith("near")}
    assert near == {frozenset({f"train/tumour/{i}.png", f"test/tumour/{i}-{edit}.jpg"})
                    for edit, i in zip(EDITS, (1, 3, 5, 7, 9))}  # every copy, with its original, and nothing else
    assert all(f.kind == "near-leak" for f in report.findings if f.kind.startswith("near"))


def test_products_of_one_shape_in_different_colours_are_different_pictures():
    pictures = []
    for colour in ((200, 30, 40), (30, 160, 60), (40, 60, 200)):
        picture = Image.new("RGB", (96, 96), (250, 250, 250))
        picture.paste(colour, (28, 20, 68, 76))
        pictures.append(picture)
    pictures.append(ImageEnhance.Color(pictures[0]).enhance(0.6))  # the red one, less saturated: a copy
    grey, colour = (np.stack(t) for t in zip(*(thumbnails(p) for p in pictures)))
    assert [(i, j) for i, j, _ in near_duplicates(grey, colour)] == [(0, 3)]
    assert colour_distance(colour[0], colour[1]) > 0.5 and colour_distance(colour[0], colour[3]) < 0.01
    assert colour_distance(colour[0], thumbnails(ImageOps.grayscale(pictures[0]).convert("RGB"))[1]) == 0


@pytest.mark.slow  # over 2.5 s here: the full suite runs it
def test_a_long_check_tells_how_far_it_is():
    """Comparing every picture with all, then confirming the pairs proposed: each phase reported as it goes (the
    data check draws them as progress bars), the comparison to its end; the answer is the same as unobserved."""
    rng = np.random.default_rng(1)
    pictures = [scan(rng) for _ in range(100)]
    pictures.append(Image.open(io.BytesIO(EDITS["resized"](pictures[7]))))
    grey, colour = (np.stack(t) for t in zip(*(thumbnails(p) for p in pictures)))
    heard = []
    found = near_duplicates(grey, colour, lambda what, done, total: heard.append((what, done, total)))
    compared = [(done, total) for what, done, total in heard if what == "near duplicates: comparing pictures"]
    assert compared == [(64, 101), (101, 101)]
    confirming = [h for h in heard if h[0].startswith("near duplicates: confirming ")]
    assert confirming and [done for _, done, _ in confirming] == sorted(done for _, done, _ in confirming)
    assert all(done <= total for _, done, total in confirming)
    assert found == near_duplicates(grey, colour) and (7, 100) in [(i, j) for i, j, _ in found]
