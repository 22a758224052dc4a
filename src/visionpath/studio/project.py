"""A studio project is folders on disk, nothing else: restarting the studio shows what they hold.

    PROJECT/data/train/<class>/<picture>   an ordinary class-folder dataset: `visionpath train PROJECT/data` trains
    PROJECT/data/test/<class>/<picture>    on it; every fifth picture of a class is held out here, never trained on
    PROJECT/runs/<run>/                    the runs, as `visionpath train --project PROJECT/runs` makes them

Names from the browser never become paths as given: a class name is checked (class_name) and a picture is named
by its content's hash and its real format, so that nothing can be written outside the project folder.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from ..data.images import IMAGE_EXTENSIONS, InMemory, load_images
from ..data.layout import JUNK
from ..errors import VisionpathError
from ..files import atomic_write
from ..i18n import tr

SPLITS = ("train", "test")
TEST_SHARE = 5          # every fifth picture of a class is held out for the test split
FEWEST = 10             # pictures a class needs before a run can learn it and score it (8 train, 2 test)
LONGEST_NAME = 64       # characters in a class name
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
FORBIDDEN = set('/\\<>:"|?*')  # a path's separators, and what Windows refuses in a file name
EXTENSION = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp",
             "TIFF": ".tif", "AVIF": ".avif", "HEIF": ".heic"}


class Refusal(VisionpathError):
    """A request the project refuses, with one sentence and the HTTP status that goes with it."""

    def __init__(self, sentence: str, status: int = 400):
        super().__init__(sentence)
        self.status = status


def class_name(raw: object) -> str:
    """A class name as the browser sent it, checked: any script, but nothing that is not a plain folder name on
    every system (separators, '..', a leading dot that the loader ignores, reserved names, control characters,
    text that is not UTF-8). Returns it NFC-normalised; Refusal otherwise."""
    if not isinstance(raw, str):
        raise Refusal(tr("send the class name as text."))
    name = unicodedata.normalize("NFC", raw.strip())
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise Refusal(tr("a class name must be text a file system can store (valid UTF-8); type it again.")) from None
    if not name:
        raise Refusal(tr("give the class a name."))
    if len(name) > LONGEST_NAME:
        raise Refusal(tr("'{name}…' is longer than {most} characters; choose a shorter class name.",
                         name=name[:20], most=LONGEST_NAME))
    bad = sorted({c for c in name if c in FORBIDDEN or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")})
    if bad:
        raise Refusal(tr("a class name cannot hold {chars}; choose one without them.",
                         chars=" ".join(repr(c) for c in bad)))
    if name.startswith(".") or name.endswith((".", " ")) or name in JUNK \
            or name.split(".")[0].strip().lower() in RESERVED:
        raise Refusal(tr("'{name}' cannot be a class name (a dot at either end, or a name systems keep for "
                         "themselves); choose another.", name=name))
    return name


@dataclass(frozen=True)
class Picture:
    split: str
    label: str
    name: str


class Project:
    """The studio's project folder: its classes, their pictures, and where runs go."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.data, self.runs = self.root / "data", self.root / "runs"
        for folder in (self.data / split for split in SPLITS):
            folder.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(exist_ok=True)

    # ---------------------------------------------------------------------------------------------- classes
    def classes(self) -> list[str]:
        """The classes: folders of train/ (or test/) that the loader takes, sorted as it sorts them."""
        names = {p.name for split in SPLITS for p in (self.data / split).iterdir()
                 if p.is_dir() and not p.name.startswith(".") and p.name not in JUNK}
        return sorted(names)

    def add_class(self, raw: object) -> str:
        name = class_name(raw)
        if name in self.classes():
            raise Refusal(tr("there is a class '{name}' already.", name=name), 409)
        for split in SPLITS:
            (self.data / split / name).mkdir(exist_ok=True)
        return name

    def existing(self, raw: object) -> str:
        """A class that exists, named by the browser; Refusal (404) otherwise."""
        name = class_name(raw)
        if name not in self.classes():
            raise Refusal(tr("there is no class '{name}'; make it first.", name=name), 404)
        return name

    def remove_class(self, raw: object) -> None:
        name = self.existing(raw)
        for split in SPLITS:
            shutil.rmtree(self.data / split / name, ignore_errors=True)

    # --------------------------------------------------------------------------------------------- pictures
    def pictures(self, label: str) -> list[Picture]:
        """A class's pictures in both splits, by name."""
        found = []
        for split in SPLITS:
            folder = self.data / split / label
            if folder.is_dir():
                found += [Picture(split, label, p.name) for p in folder.iterdir()
                          if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
        return sorted(found, key=lambda p: p.name)

    def picture(self, raw_class: object, raw_name: object) -> Path:
        """The file of a picture the browser names: looked up among the files there, never built from the name."""
        label = self.existing(raw_class)
        match = [p for p in self.pictures(label) if p.name == raw_name]
        if not match:
            raise Refusal(tr("class '{label}' has no picture '{name}'.", label=label, name=str(raw_name)[:80]), 404)
        return self.data / match[0].split / label / match[0].name

    def add_picture(self, raw_class: object, upload: InMemory) -> Picture:
        """Store an upload in a class, named by its content: refused when it does not decode (with why), or when
        the same picture is in another class (one of the two labels would be wrong). Already in this class: kept
        once. Every fifth picture of a class goes to the test split."""
        label = self.existing(raw_class)
        decoded = load_images([upload], (32, 32), 3)[0]
        if isinstance(decoded, str):
            raise Refusal(decoded, 415)
        with Image.open(io.BytesIO(upload.data)) as img:
            extension = EXTENSION.get(img.format or "", Path(upload.name).suffix.lower())
        if extension not in IMAGE_EXTENSIONS:
            raise Refusal(tr("{name} is a {kind} picture, which training does not read; send JPEG, PNG, WebP, BMP, "
                             "GIF, TIFF, AVIF or HEIC.", name=upload.name, kind=extension or "?"), 415)
        name = hashlib.sha256(upload.data).hexdigest()[:16] + extension
        stored = {p.name: p for other in self.classes() for p in self.pictures(other)}
        if name in stored:
            if stored[name].label == label:
                return stored[name]
            raise Refusal(tr("{file} is already in class '{other}'; the same picture in two classes teaches "
                             "both. Move it there instead, or leave it.", file=upload.name, other=stored[name].label),
                          409)
        mine = [p for p in stored.values() if p.label == label]
        split = "test" if (len(mine) + 1) // TEST_SHARE > sum(p.split == "test" for p in mine) else "train"
        atomic_write(self.data / split / label / name, upload.data)
        return Picture(split, label, name)

    def remove_picture(self, raw_class: object, raw_name: object) -> None:
        self.picture(raw_class, raw_name).unlink()

    def move_picture(self, raw_class: object, raw_name: object, raw_to: object) -> Picture:
        """Move a picture to another class, in the same split."""
        source = self.picture(raw_class, raw_name)
        to = self.existing(raw_to)
        target = self.data / source.parent.parent.name / to / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        return Picture(target.parent.parent.name, to, target.name)

    def thumbnail(self, raw_class: object, raw_name: object, side: int = 160) -> bytes:
        """A small JPEG of a picture, upright (EXIF orientation), for the page's grid."""
        with Image.open(self.picture(raw_class, raw_name)) as img:
            img = ImageOps.exif_transpose(img)
            img.thumbnail((side, side))
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()

    # ------------------------------------------------------------------------------------------------ state
    def summary(self) -> dict:
        """Each class with its pictures in each split, for the page; and what is too few."""
        classes = []
        for label in self.classes():
            pictures = self.pictures(label)
            classes.append({"name": label, "train": sum(p.split == "train" for p in pictures),
                            "test": sum(p.split == "test" for p in pictures),
                            "pictures": [p.name for p in pictures]})
        return {"classes": classes, "advice": advice(classes)}

    def run_folders(self) -> list[Path]:
        """The project's runs, oldest first (run-1, run-2, ... as new_run_dir numbers them)."""
        def number(path: Path) -> tuple[int, str]:
            tail = path.name.rsplit("-", 1)[-1]
            return (int(tail) if tail.isdigit() else 0, path.name)
        return sorted((p for p in self.runs.iterdir() if (p / "config.json").is_file()), key=number)

    def run(self, raw: object) -> Path:
        """A run of this project, named by the browser: looked up among them."""
        match = [p for p in self.run_folders() if p.name == raw]
        if not match:
            raise Refusal(tr("this project has no run '{name}'.", name=str(raw)[:80]), 404)
        return match[0]


def advice(classes: list[dict]) -> list[str]:
    """What stands between the project and a run it can trust: two classes, and FEWEST pictures in each."""
    if len(classes) < 2:
        return [tr("make at least two classes: a classifier tells pictures of one from another.")]
    short = [c for c in classes if c["train"] + c["test"] < FEWEST]
    return [tr("add at least {more} more picture(s) to '{name}': {fewest} a class let a run learn it and keep some "
               "to test it on.", more=FEWEST - c["train"] - c["test"], name=c["name"], fewest=FEWEST)
            for c in short]
