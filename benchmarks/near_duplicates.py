"""Near duplicates that are real: `visionpath data check` on folders of look-alikes and of real photos, each with
edited copies of some of its pictures planted, and the pairs it calls near duplicates counted against the truth.

    python benchmarks/near_duplicates.py [--only all,memory] [--quick] [--compare-src OTHER/src]

Folders (150 pictures made, or 300 photos drawn, in two classes; 30 of them copied with one edit each):
  scans     synthetic axial scans: dark background, a skull ring, brain texture of their own, sometimes a lesion
  products  one object on white, of a random shape and colour
  tiles     map tiles: beige land, blocks, roads, sometimes a river
  hymenoptera, cats_vs_dogs   300 real photos of each (../shared/data; not the 18 saved twice)
Edits, in turn: re-encoded (JPEG quality 15-50), resized (to 25-60%), cropped (0-8% off each side), recoloured
(brightness, contrast and saturation 0.7-1.3, 0-1.6), greyed, mixed (cropped up to 5%, resized, brightened,
JPEG 40-80). A found pair is right when it is a copy and its original; every other pair found is false.
The check as it was before (a 64-bit difference hash, at most 3 bits apart) is counted on the same folders.

memory: `visionpath data check` on 3,500 and 7,000 CIFAR-10 training pictures (a few hundred with --quick), each
in a fresh process: its peak memory and time, and the near duplicates it found; with --compare-src, the other
checkout's beside it (its own results file, near_duplicates_memory).
"""
from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps
from runner import SHARED, Bench, main

from visionpath.console import quietly
from visionpath.data.check import check_data
from visionpath.data.images import load_image

RESULTS: dict[str, dict] = {}


def smooth_noise(rng: np.random.Generator, side: int, scale: int) -> np.ndarray:
    """Random values on a grid `scale` px apart, smoothly enlarged to side × side (0-1)."""
    cells = max(2, side // scale)
    small = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return np.asarray(small.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32) / 255


def scan(rng: np.random.Generator, side: int = 224) -> Image.Image:
    """A synthetic axial scan: dark background, a bright skull ring, brain texture, sometimes a lesion."""
    y, x = np.mgrid[:side, :side] / side - 0.5
    a, b = rng.uniform(0.36, 0.42), rng.uniform(0.40, 0.46)
    r = (x / a) ** 2 + (y / b) ** 2
    picture = np.zeros((side, side), np.float32)
    brain = r < 0.85
    picture[brain] = (0.35 + 0.25 * smooth_noise(rng, side, 12)[brain] + 0.15 * smooth_noise(rng, side, 40)[brain])
    picture[(r >= 0.85) & (r < 1)] = 0.9
    if rng.random() < 0.5:
        cx, cy, radius = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), rng.uniform(0.04, 0.1)
        picture[((x - cx) ** 2 + (y - cy) ** 2) < radius ** 2] = 0.85
    picture += rng.normal(0, 0.03, picture.shape)
    return Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)).convert("RGB")


def product(rng: np.random.Generator, side: int = 224) -> Image.Image:
    """An object on white: a rounded shape of one colour, with a highlight, centred."""
    picture = Image.new("RGB", (side, side), (250, 250, 250))
    draw = ImageDraw.Draw(picture)
    colour = tuple(int(c) for c in rng.integers(20, 220, 3))
    w, h = rng.uniform(0.3, 0.6) * side, rng.uniform(0.4, 0.75) * side
    box = [side / 2 - w / 2, side / 2 - h / 2, side / 2 + w / 2, side / 2 + h / 2]
    if rng.random() < 0.5:
        draw.rounded_rectangle(box, radius=int(rng.uniform(5, 40)), fill=colour)
    else:
        draw.ellipse(box, fill=colour)
    draw.ellipse([box[0] + w * 0.2, box[1] + h * 0.1, box[0] + w * 0.35, box[1] + h * 0.3],
                 fill=tuple(min(255, c + 60) for c in colour))
    return picture.filter(ImageFilter.GaussianBlur(1))


def tile(rng: np.random.Generator, side: int = 224) -> Image.Image:
    """A map tile: beige land, blocks, a few roads and sometimes a river."""
    picture = Image.new("RGB", (side, side), (242, 239, 233))
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.integers(10, 30)):
        (x, y), (w, h) = rng.uniform(0, side, 2), rng.uniform(8, 30, 2)
        draw.rectangle([x, y, x + w, y + h], fill=(217, 208, 201))
    for _ in range(rng.integers(3, 7)):
        draw.line([tuple(rng.uniform(0, side, 2)) for _ in range(3)], fill=(255, 255, 255),
                  width=int(rng.integers(3, 8)))
    if rng.random() < 0.6:
        draw.line([tuple(rng.uniform(0, side, 2)) for _ in range(4)], fill=(170, 211, 223),
                  width=int(rng.integers(6, 14)))
    return picture


EDITS = ["reencode", "resize", "crop", "recolour", "grey", "mixed"]


def edit(picture: Image.Image, rng: np.random.Generator, kind: str) -> bytes:
    """A copy of the picture with one edit of EDITS, as JPEG bytes."""
    w, h = picture.size
    quality = 90
    if kind == "reencode":
        out, quality = picture, int(rng.integers(15, 50))
    elif kind == "resize":
        f = rng.uniform(0.25, 0.6)
        out, quality = picture.resize((max(16, int(w * f)), max(16, int(h * f))), Image.Resampling.BILINEAR), 85
    elif kind == "crop":
        left, top, right, bottom = rng.uniform(0.0, 0.08, 4)
        out = picture.crop((int(left * w), int(top * h), int(w - right * w), int(h - bottom * h)))
    elif kind == "recolour":
        out = ImageEnhance.Brightness(picture).enhance(rng.uniform(0.7, 1.3))
        out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.7, 1.3))
        out = ImageEnhance.Color(out).enhance(rng.uniform(0.0, 1.6))
    elif kind == "grey":
        out = ImageOps.grayscale(picture).convert("RGB")
    else:  # mixed: cropped a little, resized, brightened, re-encoded
        f = rng.uniform(0.4, 0.8)
        left, top, right, bottom = rng.uniform(0.0, 0.05, 4)
        out = picture.crop((int(left * w), int(top * h), int(w - right * w), int(h - bottom * h)))
        out = out.resize((max(16, int(out.width * f)), max(16, int(out.height * f))), Image.Resampling.BILINEAR)
        out, quality = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2)), int(rng.integers(40, 80))
    buffer = io.BytesIO()
    out.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def plant(bench: Bench, name: str, pictures: list[Image.Image], copies: int, seed: int = 0) -> tuple[Path, set]:
    """train/{a,b}/ with the pictures, and an edited copy of the first `copies` beside its original."""
    rng = np.random.default_rng(seed)
    folder, truth = bench.tmp / name, set()
    for i, picture in enumerate(pictures):
        target = folder / "train" / ("a" if i % 2 else "b") / f"{i:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        picture.save(target)
        if i < copies:
            kind = EDITS[i % len(EDITS)]
            copy = target.with_name(f"{i:04d}-{kind}.jpg")
            copy.write_bytes(edit(picture, rng, kind))
            truth.add(frozenset({str(target), str(copy)}))
    return folder, truth


def dhash_pairs(folder: Path) -> set:
    """The check before: difference hashes at most 3 bits apart (of 64)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    hashes = []
    for path in files:
        thumb = load_image(path, (8, 9), 1)[0].numpy().astype(np.int16)
        hashes.append(int("".join("1" if b else "0" for b in (thumb[:, 1:] > thumb[:, :-1]).flatten()), 2))
    return {frozenset({str(files[i]), str(files[j])}) for i in range(len(files)) for j in range(i + 1, len(files))
            if bin(hashes[i] ^ hashes[j]).count("1") <= 3}


def measure(bench: Bench, name: str, folder: Path, truth: set) -> None:
    t0 = time.perf_counter()
    with quietly():
        report = check_data(folder)
    seconds = time.perf_counter() - t0
    found = {frozenset(f.paths) for f in report.findings if f.kind.startswith("near")}
    before = dhash_pairs(folder)
    missed = sorted(Path(next(p for p in pair if "-" in Path(p).stem)).stem.split("-")[1] for pair in truth - found)
    RESULTS[name] = {"pictures": sum(1 for p in folder.rglob("*") if p.is_file()), "copies": len(truth),
                     "found": len(found & truth), "false": len(found - truth), "missed": missed,
                     "seconds": seconds, "dhash_found": len(before & truth), "dhash_false": len(before - truth)}
    print(json.dumps({name: RESULTS[name]}), flush=True)


def write(bench: Bench) -> None:
    lines = ["| folder | pictures | copies planted | found | false claims | missed (edit) | check time | "
             "before: found | before: false claims |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in RESULTS.items():
        lines.append(f"| {name} | {r['pictures']} | {r['copies']} | {r['found']} | {r['false']} | "
                     f"{', '.join(r['missed']) or '—'} | {r['seconds']:.1f} s | {r['dhash_found']} | "
                     f"{r['dhash_false']} |")
    found = sum(r["found"] for r in RESULTS.values())
    claimed = found + sum(r["false"] for r in RESULTS.values())
    planted = sum(r["copies"] for r in RESULTS.values())
    before = sum(r["dhash_found"] for r in RESULTS.values())
    before_claimed = before + sum(r["dhash_false"] for r in RESULTS.values())
    lines += ["", f"Precision {found / max(1, claimed):.1%} ({found} of {claimed} pairs claimed), recall "
              f"{found / max(1, planted):.1%} ({found} of {planted} copies). Before: precision "
              f"{before / max(1, before_claimed):.1%} ({before} of {before_claimed}), recall "
              f"{before / max(1, planted):.1%}."]
    bench.write("near_duplicates", "Near duplicates: edited copies found, look-alikes left alone", lines,
                {"results": RESULTS})


def all_folders(bench: Bench) -> None:
    rng = np.random.default_rng(0)
    n, copies = (40, 12) if bench.quick else (150, 30)
    for name, make in (("scans", scan), ("products", product), ("tiles", tile)):
        measure(bench, name, *plant(bench, name, [make(rng) for _ in range(n)], copies))
    for archive, name in (("hymenoptera.zip", "hymenoptera"), ("cats-vs-dogs.zip", "cats_vs_dogs")):
        with zipfile.ZipFile(SHARED / "data" / archive) as z:
            names = sorted(m for m in z.namelist() if m.lower().endswith((".jpg", ".jpeg")) and "(1)" not in m)
            chosen = random.Random(0).sample(names, n * 2)
            pictures = [Image.open(io.BytesIO(z.read(m))).convert("RGB") for m in chosen]
        measure(bench, name, *plant(bench, name, pictures, copies))
    write(bench)


# a command's peak memory is its own: measured by a fresh wrapper process whose only child it is
PEAK = ("import json, resource, subprocess, sys, time; t0 = time.perf_counter(); subprocess.run(sys.argv[1:], "
        "capture_output=True); print(json.dumps({'seconds': time.perf_counter() - t0, "
        "'peak_gb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20}))")


def memory(bench: Bench) -> None:
    """`visionpath data check` on the first N CIFAR-10 training pictures of each class: its peak memory and time
    as the folder grows, and the near duplicates it found; with --compare-src, the other checkout's beside it."""
    rows, summary = [], {}
    with zipfile.ZipFile(SHARED / "data" / "cifar10-jpg.zip") as z:
        names = sorted(m for m in z.namelist() if m.startswith("train/") and m.endswith(".jpg"))
        for n in (300, 600) if bench.quick else (3500, 7000):
            folder = bench.tmp / f"cifar10-{n}"
            per_class: dict[str, int] = {}
            for m in names:
                label = m.split("/")[1]
                if per_class.get(label, 0) < n // 10:
                    per_class[label] = per_class.get(label, 0) + 1
                    (folder / m).parent.mkdir(parents=True, exist_ok=True)
                    (folder / m).write_bytes(z.read(m))
            for who, src in (("this", None), ("before", bench.compare_src)):
                if who == "before" and not src:
                    continue
                output = bench.tmp / f"check-{n}-{who}"
                done = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "visionpath", "data", "check",
                                       str(folder), "--output", str(output)],
                                      capture_output=True, text=True, env=bench.env(src), check=True)
                r = json.loads(done.stdout)
                findings = json.loads(output.with_suffix(".json").read_text())["findings"]
                r["near"] = sum(1 for f in findings if f["kind"].startswith("near"))
                summary.setdefault(str(n), {})[who] = r
                print(json.dumps({n: {who: r}}), flush=True)
                rows.append(f"| {n:,} | {who} | {r['peak_gb']:.2f} GB | {r['seconds']:.0f} s | {r['near']} |")
    lines = ["`visionpath data check FOLDER --output NAME` on the first N/10 CIFAR-10 training pictures (32 px) of "
             "each class, from a fresh process each time (the command keeps freed memory for speed: "
             "devices.keep_freed_memory); near: its findings of near duplicates.", "",
             "| pictures | code | peak memory | time | near findings |", "|---|---|---|---|---|", *rows]
    bench.write("near_duplicates_memory", "Near duplicates: the data check's memory as the folder grows", lines,
                {"results": summary})


if __name__ == "__main__":
    main(__doc__, {"all": all_folders, "memory": memory})
