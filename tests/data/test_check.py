"""`data check`: every planted duplicate, leak, unreadable file, empty class and odd one out is found."""
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import SHARED_DATA, make_folder, photo, photo_folder
from visionpath.cli import main
from visionpath.data.check import check_data


def planted(root):
    """train/validation/test of ant and bee, each picture distinct, then the problems planted."""
    seed = 0
    for split, n in (("train", 6), ("validation", 3), ("test", 3)):
        for name in ("ant", "bee"):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                photo(seed).save(root / split / name / f"{i}.png")
                seed += 1
    shutil.copy(root / "train" / "ant" / "0.png", root / "test" / "ant" / "leak.png")          # exact, across splits
    photo(3).resize((80, 80)).save(root / "validation" / "bee" / "near.jpg", quality=90)      # near, across splits
    shutil.copy(root / "train" / "bee" / "1.png", root / "train" / "bee" / "copy.png")        # exact, within
    shutil.copy(root / "train" / "bee" / "2.png", root / "train" / "ant" / "mislabelled.png")  # exact, two classes
    (root / "train" / "ant" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")       # unreadable
    Image.new("RGB", (12, 12)).save(root / "train" / "bee" / "tiny.png")                      # tiny
    (root / "test" / "wasp").mkdir()                                                            # empty, not in train
    return root


def test_every_planted_problem_is_found(tmp_path):
    report = check_data(planted(tmp_path / "photos"), output=tmp_path / "out" / "check")
    text = report.table()
    found = {f.what.split(":")[0]: f.paths for f in report.findings}
    assert report.status == 2  # the empty class in test, which train lacks
    assert any("test/wasp has no images" in f.what for f in report.findings)
    assert any("wasp that train/ lacks" in f.what for f in report.findings)
    assert any("broken.jpg" in p for f in report.findings for p in f.paths if "cannot be decoded" in f.what)
    leaks = [f for f in report.findings if "across splits" in f.what]
    assert {frozenset(p.split("photos/")[1] for p in f.paths) for f in leaks} == {
        frozenset({"train/ant/0.png", "test/ant/leak.png"}), frozenset({"train/ant/3.png", "validation/bee/near.jpg"})}
    assert any("within train/bee" in f.what and len(f.paths) == 2 for f in report.findings)
    assert any("different classes (ant, bee)" in f.what for f in report.findings)
    assert any("tiny" in key for key in found)
    assert "ant" in text and "error" in text
    saved = json.loads((tmp_path / "out" / "check.json").read_text())
    assert saved["status"] == 2 and len(saved["pictures"]) == 30
    assert (tmp_path / "out" / "check.png").stat().st_size > 10_000


def test_every_finding_has_a_kind_a_program_can_count_and_the_json_counts_them(tmp_path):
    from visionpath.data.check import kinds
    report = check_data(planted(tmp_path / "photos"), output=tmp_path / "check")
    found = {f.kind for f in report.findings}
    assert found == {"no-images", "class-not-in-train", "unreadable", "tiny", "odd-format", "exact-leak", "near-leak",
                     "exact-within", "exact-two-classes"}
    saved = json.loads((tmp_path / "check.json").read_text())
    assert {f["kind"] for f in saved["findings"]} == found <= set(kinds())
    assert saved["kinds"]["exact-leak"] == {"level": "warning", "count": 1, "paths": 2}
    leak = next(f for f in saved["findings"] if f["kind"] == "near-leak")
    assert leak["numbers"] == {"pictures": 2, "splits": ["train", "validation"], "classes": ["ant", "bee"],
                               "distance": pytest.approx(0, abs=0.01)}  # resized and re-encoded: the same picture
    page = (tmp_path / "check.html").read_text()  # every picture of every finding, inline; the broken file said
    decodable = {r["path"] for r in saved["pictures"] if "error" not in r}
    shown = [p for f in saved["findings"] for p in f["paths"] if p in decodable]
    assert page.count("data:image/jpeg;base64,") == len(shown) == 10 and "cannot be decoded" in page
    assert all(f"<code>{kind}</code>" in page for kind in found) and "http" not in page  # works offline
    documented = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert all(f"`{kind}`" in documented for kind in kinds())  # every code a program may meet is in the README


@pytest.mark.slow
def test_the_summary_stays_short_on_a_folder_with_thousands_of_findings(tmp_path, capsys):
    """1,200 pictures in train also in test, 30 classes, a few broken files: the terminal shows a table by kind, the
    first examples of each and where the rest is, in at most 60 lines; the JSON has every group."""
    root = tmp_path / "leaky"
    for k in range(1200):
        name = f"class{k % 30:02d}"
        for split in ("train", "test"):
            (root / split / name).mkdir(parents=True, exist_ok=True)
        photo(k, size=16).save(root / "train" / name / f"{k}.png")
        shutil.copy(root / "train" / name / f"{k}.png", root / "test" / name / f"{k}.png")
    for k in range(5):
        (root / "train" / "class00" / f"broken{k}.jpg").write_bytes(b"not a picture")
    assert main(["data", "check", str(root), "--output", str(tmp_path / "leaky-check")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) <= 60
    assert any("1,200 × exact duplicates across splits [exact-leak]: test, train; 30 classes" in line for line in out)
    assert any("5 × files that cannot be decoded [unreadable]" in line for line in out)
    assert any("... and 1,197 more" in line for line in out)  # three examples shown, the rest counted
    assert any(line.startswith("    train/class") and " = test/class" in line for line in out)
    assert any("... and 18 more classes" in line for line in out)
    assert any(str(tmp_path / "leaky-check.json") in line for line in out)
    saved = json.loads((tmp_path / "leaky-check.json").read_text())
    assert len([f for f in saved["findings"] if f["kind"] == "exact-leak"]) == 1200


@pytest.mark.slow
def test_a_clean_folder_is_clean_and_warnings_exit_1(tmp_path, capsys):
    root = tmp_path / "clean"
    for name, seeds in (("ant", range(0, 12)), ("bee", range(12, 24))):
        (root / name).mkdir(parents=True)
        for s in seeds:
            photo(s).save(root / name / f"{s}.png")
    assert check_data(root).status == 0
    assert main(["data", "check", str(root), "--output", str(tmp_path / "c")]) == 0
    Image.new("P", (64, 64)).save(root / "ant" / "odd.gif")
    assert main(["data", "check", str(root), "--output", str(tmp_path / "c")]) == 1
    assert "file format GIF" in capsys.readouterr().out


def framed(seed: int) -> Image.Image:
    """photo(seed) on a white mount: a plain border a fifth of the side wide."""
    mount = Image.new("RGB", (80, 80), "white")
    mount.paste(photo(seed, 48), (16, 16))
    return mount


@pytest.mark.parametrize("plant, words", [
    # the ants scanned to grey PNG, the bees photographed as colour JPEG: two properties tell them apart
    (lambda i, name: (photo(i).convert("L"), "png") if name == "ant" else (photo(i), "jpg"),
     ["the file format tells training classes apart (PNG: 12 of ant's 12; JPEG: 12 of bee's 12",
      "the colour mode tells training classes apart (L: 12 of ant's 12; RGB: 12 of bee's 12"]),
    # the bees cut out and mounted on white: only the border tells
    (lambda i, name: (framed(i) if name == "bee" else photo(i, 80), "png"),
     ["the border tells training classes apart (no plain border: 12 of ant's 12; a white border: 12 of bee's 12, "
      "no other class)"]),
    # a third of the bees from another camera, at another size
    (lambda i, name: (photo(i, 96) if name == "bee" and i % 3 == 0 else photo(i), "png"),
     []),  # 4 pictures: too few to tell from chance
    (lambda i, name: (photo(i), "png"), []),  # nothing tells them apart but what they show
])
def test_a_file_property_that_tells_the_classes_apart_is_a_shortcut(tmp_path, plant, words):
    root = tmp_path / "photos"
    for name, seeds in (("ant", range(0, 12)), ("bee", range(12, 24))):
        (root / "train" / name).mkdir(parents=True)
        for i in seeds:
            picture, extension = plant(i, name)
            picture.save(root / "train" / name / f"{i}.{extension}")
    shortcuts = [f for f in check_data(root).findings if f.kind == "shortcut"]
    assert len(shortcuts) == len(words) and all(w in f.what for f, w in zip(shortcuts, words)), shortcuts
    assert all("a model can learn it instead of what the pictures show" in f.what and f.level == "warning"
               for f in shortcuts)


def test_unbalanced_classes_are_flagged(tmp_path):
    root = make_folder(tmp_path / "u", classes=("common", "rare"), per_class={"": 1})
    for i in range(1, 8):
        photo(100 + i).save(root / "common" / f"{i}.png")
    assert any("unbalanced" in f.what for f in check_data(root).findings)


@pytest.mark.slow  # over 3 s here: the full suite runs it
@pytest.mark.realdata
def test_hymenoptera_the_odd_file_is_flagged(tmp_path):
    archive = SHARED_DATA / "hymenoptera.zip"
    if not archive.is_file():
        pytest.skip("no ../shared/data/hymenoptera.zip")
    zipfile.ZipFile(archive).extractall(tmp_path)
    root = next(p for p in tmp_path.rglob("train")).parent
    report = check_data(root)
    odd = [f for f in report.findings if "GIF" in f.what]
    assert odd and odd[0].paths[0].endswith("train/ants/imageNotFound.gif")
    assert report.counts["train"] == {"ants": 124, "bees": 121} and report.counts["validation"]["bees"] == 83


def test_train_s_quick_check_finds_a_leak_and_hashes_each_file_once(tmp_path, monkeypatch):
    import hashlib

    import visionpath.data.leaks as leaks
    from visionpath.data import load_dataset
    root = make_folder(tmp_path / "leaky")
    shutil.copy(root / "train" / "ant" / "0.png", root / "test" / "ant" / "copy.png")
    dataset = load_dataset(root)
    line = leaks.quick_check(dataset)
    assert "1 across splits (a leak" in line and "0 exact duplicate group(s) within a split" in line
    monkeypatch.setattr(hashlib, "sha256", lambda data: pytest.fail("hashed a file seen before"))
    assert leaks.quick_check(dataset) == line


def test_dedupe_copies_a_leaking_folder_with_each_group_in_one_split_and_leaves_it_untouched(tmp_path, capsys):
    root = tmp_path / "photos"
    for split, n in (("train", 4), ("test", 3)):
        for k, name in enumerate(("ant", "bee")):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                photo(100 * k + 10 * (split == "test") + i).save(root / split / name / f"{i}.png")
    shutil.copy(root / "train" / "ant" / "0.png", root / "test" / "ant" / "leak.png")             # the same file
    photo(101).resize((90, 90)).save(root / "test" / "bee" / "near.jpg", quality=80)              # resized, re-encoded
    shutil.copy(root / "train" / "bee" / "2.png", root / "train" / "bee" / "again.png")          # twice in train
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert main(["data", "dedupe", str(root), str(tmp_path / "clean")]) == 0
    assert "wrote " in capsys.readouterr().out
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # the original untouched
    clean = tmp_path / "clean"
    assert sorted(p.name for p in (clean / "test" / "ant").iterdir()) == ["0.png", "1.png", "2.png"]
    assert sorted(p.name for p in (clean / "test" / "bee").iterdir()) == ["0.png", "1.png", "2.png"]
    assert {"leak.from-test.png", "0.png"} <= {p.name for p in (clean / "train" / "ant").iterdir()}
    assert "near.from-test.jpg" in {p.name for p in (clean / "train" / "bee").iterdir()}
    assert len(list((clean / "train" / "bee").iterdir())) == 5  # 4, the near copy from test, one of the two copies
    assert not [f for f in check_data(clean).findings if f.kind.endswith("leak")]
    assert main(["data", "dedupe", str(root), str(clean)]) != 0  # nothing overwritten
    assert "already exists and is not empty; choose a new folder" in capsys.readouterr().err


def test_split_keeps_a_picture_and_its_edited_copies_in_one_split(tmp_path):
    from visionpath.data.split import split_folder
    root = tmp_path / "flat"
    for k, name in enumerate(("ant", "bee")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            photo(50 * k + i).save(root / name / f"{i}.png")
    for i in range(3):  # resized and re-encoded copies of three ants
        photo(i).resize((80, 80)).save(root / "ant" / f"{i}-small.jpg", quality=90)
    for seed in range(5):
        split_folder(root, tmp_path / f"split{seed}", 0.2, 0.2, seed)
        where = {p.name: p.parts[-3] for p in (tmp_path / f"split{seed}").rglob("ant/*.*")}  # the split of each ant
        assert all(where[f"{i}.png"] == where[f"{i}-small.jpg"] for i in range(3))


def test_exact_copies_do_not_hide_near_ones(tmp_path):
    root = tmp_path / "photos" / "train"
    for k, name in enumerate(("ant", "bee")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            photo(50 * k + i).save(root / name / f"{i}.png")
    for name in ("ant", "bee"):  # most pictures saved twice: at distance 0 they would set the folder's scale
        for i in (0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11):
            shutil.copy(root / name / f"{i}.png", root / name / f"{i}(1).png")
    photo(7).resize((90, 90)).save(root / "ant" / "7-small.jpg", quality=85)
    near = [f for f in check_data(tmp_path / "photos").findings if f.kind.startswith("near")]
    assert [sorted(Path(p).name for p in f.paths) for f in near] == [["7-small.jpg", "7.png"]]


def test_near_copies_that_chain_are_one_group_and_dedupe_moves_all_of_it(tmp_path, capsys):
    """A photo in train, a resized copy of it in validation (saved twice: the same bytes), and a cropped copy in
    test: one picture, said once with all four files, and data dedupe leaves no part of it outside train."""
    root = photo_folder(tmp_path / "photos")
    original = photo(999, size=96)
    original.save(root / "train" / "ant" / "original.png")
    original.resize((60, 60)).save(root / "validation" / "ant" / "resized.jpg", quality=85)
    shutil.copy(root / "validation" / "ant" / "resized.jpg", root / "validation" / "ant" / "resized again.jpg")
    original.crop((5, 3, 92, 94)).save(root / "test" / "ant" / "cropped.jpg", quality=90)
    near = [f for f in check_data(root).findings if f.kind.startswith("near")]
    assert [(f.kind, sorted(Path(p).name for p in f.paths)) for f in near] == [
        ("near-leak", ["cropped.jpg", "original.png", "resized again.jpg", "resized.jpg"])]
    assert main(["data", "dedupe", str(root), str(tmp_path / "clean")]) == 0
    capsys.readouterr()
    clean = tmp_path / "clean"
    assert sorted(p.name for p in (clean / "validation" / "ant").iterdir()) == ["0.png", "1.png", "2.png"]
    assert sorted(p.name for p in (clean / "test" / "ant").iterdir()) == ["0.png", "1.png", "2.png"]
    assert not [f for f in check_data(clean).findings if f.kind.endswith("leak")]
