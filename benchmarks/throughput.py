"""Benchmark: pictures per second, visionpath's way against the usual way, side by side in the same run.

    python benchmarks/throughput.py [--only SECTIONS] [--quick]

Sections, each written to benchmarks/results/<section>.md and .json:
  cifar10_cnn_loader     a cnn epoch on CIFAR-10: visionpath's loop against the textbook DataLoader loop over the same
                         model and data (benchmarks/plain_dataloader.py), and the shared plain peer for reference.
  cifar10_feature_cache  stage 1 of a pretrained backbone (head on the frozen backbone) with the feature cache against
                         recomputing the backbone every epoch.
  predict_throughput     `predict` on the CIFAR-10 test JPEGs against the model's own forward pass on the same
                         pictures decoded beforehand: resnet9 at 32 px (decoding is the hard part) and the photo
                         default (Lite0 at its chosen side); and the design predict does not use (the next batch
                         decoding beside the model).
  decode_workers         the first pass's decoding (hymenoptera's photos to 224 px) in threads, as visionpath does it,
                         against torch DataLoader worker processes (2 and 4), medians of 3.
  profile_cifar10_resnet9  where one resnet9 epoch goes, under torch.profiler, by kind of work.
  cached_load            a cached second load of cats-vs-dogs at 224 px (the picture cache's checks included) against
                         --compare-src, in fresh processes, alternating.
The in-process sections apply `keep_freed_memory()` first, as the `visionpath` command does.
"""
from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from collections import defaultdict
from pathlib import Path

from runner import REPO, SHARED, Bench, main, median

from visionpath.devices import keep_freed_memory


def cifar10_cnn_loader(bench: Bench) -> None:
    epochs = "1" if bench.quick else "2"
    plain = bench.peer(sys.executable, str(REPO / "benchmarks" / "plain_dataloader.py"), "--model", "cnn",
                       "--epochs", epochs)
    ours = bench.train(bench.tmp, "cifar10", "--model", "cnn", "--augment", "standard", "--epochs", epochs)
    ours32 = bench.train(bench.tmp, "cifar10", "--model", "cnn", "--augment", "standard", "--epochs", epochs,
                         "--precision", "fp32")
    shared = bench.peer(sys.executable, "torch_plain.py", "--recipe", "cifar10-cnn", "--loader", "tutorial",
                        "--epochs", "1")
    med = lambda r: median(r["seconds_per_epoch"])  # noqa: E731
    lines = ["| loop | s/epoch (45,000 images, batch 256, Adam, crop + flip augmentation) | images/s | vs plain |",
             "|---|---|---|---|",
             f"| plain DataLoader loop, per-image v2 transforms, 2 workers, fp32 (`benchmarks/plain_dataloader.py`) | "
             f"{med(plain):.1f} | {45000 / med(plain):,.0f} | 1.00× |",
             f"| visionpath, `--precision fp32` | {med(ours32):.1f} | {45000 / med(ours32):,.0f} | "
             f"{med(plain) / med(ours32):.2f}× |",
             f"| visionpath, defaults (precision auto) | {med(ours):.1f} | {45000 / med(ours):,.0f} | "
             f"{med(plain) / med(ours):.2f}× |", "",
             "- visionpath's epoch also validates 5,000 images and writes two checkpoints; the plain loop's does not.",
             f"- for reference, the shared peer `torch_plain.py --recipe cifar10-cnn --loader tutorial` (the Keras "
             f"network, 50,000 images, batch 64): {shared['train_seconds']:.1f} s per epoch."]
    bench.write("cifar10_cnn_loader", "CIFAR-10, cnn per epoch: visionpath against the textbook DataLoader loop, same "
                "model and data", lines, {"plain": plain, "visionpath": ours, "visionpath_fp32": ours32,
                                          "shared_peer": shared})


def cifar10_feature_cache(bench: Bench) -> None:
    epochs, size = ("2", "32") if bench.quick else ("10", "64")  # the recipe's stage 1, at 64 px
    common = ["cifar10", "--model", "efficientnet_lite0", "--pretrained", "--fine-tune-epochs", "0",
              "--epochs", epochs, "--image-size", size]
    cached = bench.train(bench.tmp, *common)
    slow = bench.train(bench.tmp, *common, "--no-feature-cache")
    later = lambda r: median(r["seconds_per_epoch"][1:] or r["seconds_per_epoch"])  # noqa: E731
    lines = ["| stage 1 | total s | first epoch s (includes the cache pass) | later epochs s (median) | test accuracy |",
             "|---|---|---|---|---|",
             f"| cached (`{cached['command']}`) | {cached['train_seconds']:.1f} | {cached['seconds_per_epoch'][0]:.1f} | "
             f"{later(cached):.2f} | {cached['test_accuracy']:.2%} |",
             f"| recomputed (`--no-feature-cache`) | {slow['train_seconds']:.1f} | {slow['seconds_per_epoch'][0]:.1f} | "
             f"{later(slow):.2f} | {slow['test_accuracy']:.2%} |", "",
             f"- stage 1 of {epochs} epochs: **{slow['train_seconds'] / cached['train_seconds']:.1f}× faster** with the "
             f"cache; per epoch after the one cache pass, {later(slow) / later(cached):.0f}×. The cached run also "
             "skips augmentation (features of the plain pictures), which the recomputing run applies."]
    bench.write("cifar10_feature_cache", "Feature caching: stage 1 (frozen backbone) with and without the cache",
                lines, {"cached": cached, "recomputed": slow}, about="data: ../shared/data/cifar10-jpg.zip")


def _beside_the_model(model, meta: dict, paths: list[Path], batch_size: int = 256) -> None:
    """The design predict does not use, for comparison: the next batch decodes in threads (load_images, 32 pictures
    a job) while the model classifies this one. Model only: no CSV."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from visionpath.data.images import load_images
    from visionpath.models import logits_in_batches
    channels, height, width = meta["input_shape"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        def start(first: int) -> list:
            batch = paths[first: first + batch_size]
            return [pool.submit(load_images, batch[i: i + 32], (height, width), channels)
                    for i in range(0, len(batch), 32)]
        pending = start(0)
        for first in range(0, len(paths), batch_size):
            following = start(first + batch_size)
            images = torch.stack([image for job in pending for image in job.result()])
            logits_in_batches(model, images, meta["mean"], meta["std"], torch.device("cpu")).softmax(1).topk(2)
            pending = following


def predict_throughput(bench: Bench) -> None:
    import torch

    from visionpath.data.images import load_image
    from visionpath.models import logits_in_batches
    from visionpath.predict import collect_images, predict
    from visionpath.run_files import load_model
    keep_freed_memory()
    with zipfile.ZipFile(SHARED / "data" / "cifar10-jpg.zip") as z:
        z.extractall(bench.tmp / "cifar", [n for n in z.namelist() if n.startswith("test/")])
    test = bench.tmp / "cifar" / "test"
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(bench.tmp / "hymenoptera-predict")
    photos = next((bench.tmp / "hymenoptera-predict").rglob("train")).parent
    env = bench.env(VISIONPATH_HOME=str(bench.tmp / "home-predict"), VISIONPATH_OFFLINE="1")
    os.environ.update(VISIONPATH_HOME=env["VISIONPATH_HOME"], VISIONPATH_OFFLINE="1")
    # a resnet9 run on these pictures and the photo default on hymenoptera: only their architectures matter here
    one = ["--epochs", "1", "--project", str(bench.tmp / "runs-predict")]
    bench.visionpath("train", str(test), "--model", "resnet9", *one, "--name", "cifar-resnet9", env=env)
    bench.visionpath("train", str(photos), *one, "--fine-tune-epochs", "0", "--name", "photos", env=env)
    pictures = collect_images(test)[: 1000 if bench.quick else None]
    lite0 = bench.tmp / "runs-predict" / "photos-1"
    side = json.loads((lite0 / "config.json").read_text())["settings"]["image_size"]
    models = [("resnet9 at 32×32", bench.tmp / "runs-predict" / "cifar-resnet9-1", pictures),
              (f"efficientnet_lite0 at {side}×{side} (the photo default on hymenoptera; first "
               f"{200 if bench.quick else 1000:,} pictures)", lite0, pictures[: 200 if bench.quick else 1000])]
    rows = []
    for name, run, paths in models:
        model, meta = load_model(run)
        channels, height, width = meta["input_shape"]
        batch = torch.stack([load_image(p, (height, width), channels) for p in paths])  # decoded beforehand
        forward, full, beside = [], [], []
        for _ in range(3):
            t0 = time.perf_counter()
            logits_in_batches(model, batch, meta["mean"], meta["std"], torch.device("cpu"))
            forward.append(time.perf_counter() - t0)
        for _ in range(3):
            t0 = time.perf_counter()
            predict(run, paths, csv=bench.tmp / "labels.csv")
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _beside_the_model(model, meta, paths)
            beside.append(time.perf_counter() - t0)
        f, p, b = median(forward), median(full), median(beside)
        rows.append({"model": name, "pictures": len(paths), "forward_seconds": forward, "predict_seconds": full,
                     "beside_seconds": beside, "forward_per_s": len(paths) / f, "predict_per_s": len(paths) / p,
                     "ratio": f / p, "beside_ratio": f / b})
    lines = ["| model | pictures | forward pass alone (pictures decoded beforehand) | `predict` to CSV (each batch "
             "decoded, then classified) | share of the forward-pass throughput | for comparison: the next batch "
             "decoding in threads beside the model (no CSV) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['pictures']:,} | {r['forward_per_s']:,.0f} /s | {r['predict_per_s']:,.0f} /s | "
              f"**{r['ratio']:.0%}** | {r['beside_ratio']:.0%} |" for r in rows]
    lines += ["", "- target: `predict` at ≥ 80% of the forward-pass throughput: " + "; ".join(
        f"{r['model'].split(' (')[0]} {'met' if r['ratio'] >= 0.8 else 'NOT met'}" for r in rows) + "."]
    bench.write("predict_throughput", "Prediction at scale: `predict` (decoding, model, CSV) against the model's own "
                "forward pass", lines, {"rows": rows},
                about="pictures: the CIFAR-10 test JPEGs of ../shared/data/cifar10-jpg.zip, unzipped; medians of 3")


class _Photos:
    """A map-style dataset for DataLoader: the i-th photo decoded by load_image."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from visionpath.data.images import load_image
        return load_image(self.paths[i], (224, 224), 3)


def decode_workers(bench: Bench) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from torch.utils.data import DataLoader

    from visionpath.data.images import load_images
    repeat = 1 if bench.quick else 5
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(bench.tmp / "workers-src")
    photos = sorted(p for p in (bench.tmp / "workers-src").rglob("*.jpg"))
    paths = []
    for k in range(repeat):
        for photo in photos:
            link = bench.tmp / "workers" / f"{k}-{photo.parent.parent.name}-{photo.parent.name}-{photo.name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(photo)
            paths.append(link)

    def threads() -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            load_images(paths, (224, 224), 3, pool)

    def workers(n: int):
        def run() -> None:
            for _ in DataLoader(_Photos(paths), batch_size=None, num_workers=n):
                pass
        return run
    ways = {"threads (visionpath: load_images, 4 threads)": threads, "DataLoader, 2 worker processes": workers(2),
            "DataLoader, 4 worker processes": workers(4)}
    times = {name: [] for name in ways}
    for _ in range(3):
        for name, way in ways.items():
            t0 = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - t0)
    rows = [{"way": name, "seconds": t, "median": median(t), "per_second": len(paths) / median(t)}
            for name, t in times.items()]
    lines = ["| way | median | photos / s | runs |", "|---|---|---|---|"]
    lines += [f"| {r['way']} | {r['median']:.1f} s | **{r['per_second']:.0f}** | "
              f"{', '.join(f'{t:.1f}' for t in r['seconds'])} |" for r in rows]
    best_workers = max(rows[1:], key=lambda r: r["per_second"])
    lines += ["", f"- threads decode {rows[0]['per_second'] / best_workers['per_second']:.2f}× as many photos a second "
              f"as the best DataLoader ({best_workers['way']}): Pillow lets go of the GIL while it decodes and "
              "resizes, and threads need no process start-up or copying of every picture between processes."]
    bench.write("decode_workers", "The first pass's decoding: threads against DataLoader worker processes", lines,
                {"rows": rows}, about=f"{len(paths):,} decodes of hymenoptera's {len(photos)} JPEG photos (each "
                                      f"{repeat}× under distinct names) to 224×224, files in the page cache; medians of 3")


# Operator name fragments -> the part of the loop they belong to (first match wins).
PROFILE_GROUPS = [
    ("convolutions, forward and backward", ("convolution", "conv2d", "mkldnn_conv")),
    ("batch norm", ("batch_norm",)),
    ("dense layers (matmul)", ("addmm", "mm", "linear")),
    ("augmentation (affine resampling, flips, erasing)", ("grid_sampler", "affine_grid", "where", "flip")),
    ("pooling", ("pool",)),
    ("activations", ("relu", "threshold", "gelu")),
    ("optimiser step", ("adam", "sgd", "_foreach")),
    ("loss", ("cross_entropy", "log_softmax", "nll_loss")),
    ("batch gathering and scaling (index, dtype, div, sub)", ("index", "to_copy", "copy_", "div", "sub", "_to")),
]


def profile_cifar10_resnet9(bench: Bench) -> None:
    from torch.profiler import ProfilerActivity, profile

    import visionpath
    keep_freed_memory()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        visionpath.train("mnist" if bench.quick else "cifar10", model="resnet9", epochs=1,
                         data_dir=SHARED / "data", project=bench.tmp / "profile")
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = defaultdict(float)
    for e in events:
        group = next((g for g, keys in PROFILE_GROUPS if any(k in e.key.lower() for k in keys)), "everything else")
        groups[group] += e.self_cpu_time_total
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:15]
    lines = [f"- one epoch of `visionpath train cifar10 --model resnet9` (its defaults) under torch.profiler; wall time "
             f"incl. data loading and profiler overhead {wall:.1f} s; operator self time {total / 1e6:.1f} s", "",
             "| part of the work | share of operator time |", "|---|---|"]
    lines += [f"| {g} | {t / total:.1%} |" for g, t in sorted(groups.items(), key=lambda kv: -kv[1])]
    lines += ["", "| operator | self CPU s | calls |", "|---|---|---|"]
    lines += [f"| `{e.key}` | {e.self_cpu_time_total / 1e6:.2f} | {e.count} |" for e in top]
    bench.write("profile_cifar10_resnet9", "Where one epoch goes: resnet9 on cifar10", lines,
                {"groups": {g: t / 1e6 for g, t in groups.items()}, "wall_seconds": wall})


LOAD_SCRIPT = """
import json, sys, time
from visionpath.data import load_dataset
t0 = time.perf_counter()
data = load_dataset(sys.argv[1], image_size=224, enlarge=False)
seconds = time.perf_counter() - t0
total = sum(len(images) + 0 * int(images.images.sum()) for _, images in data.splits())  # every row read once
print(json.dumps({"seconds": seconds, "with_a_pass": time.perf_counter() - t0, "pictures": total,
                  "from_cache": data.folder.from_cache}))
"""


def cached_load(bench: Bench) -> None:
    """A cached second load of cats-vs-dogs at 224 px, this code (whose every load checks the rows it maps against
    their CRC-32s and every index entry against its seal) against --compare-src, alternating, in fresh processes."""
    zipfile.ZipFile(SHARED / "data" / "cats-vs-dogs.zip").extractall(bench.tmp / "cvd")
    root = bench.tmp / "cvd" / "cats-vs-dogs"
    codes = {"visionpath": None, **({"before": bench.compare_src} if bench.compare_src else {})}
    rounds = 1 if bench.quick else 7
    results: dict[str, list[dict]] = {code: [] for code in codes}
    first = {}
    for code, src in codes.items():  # each code fills its own cache once
        env = bench.env(src, VISIONPATH_HOME=str(bench.tmp / f"home-{code}"))
        first[code] = _load(env, root)
    for _ in range(rounds):
        for code, src in codes.items():
            results[code].append(_load(bench.env(src, VISIONPATH_HOME=str(bench.tmp / f"home-{code}")), root))
    lines = ["| code | first load (decoding) | cached load, median | cached load + reading every row, median | "
             "rounds | from the cache |", "|---|---|---|---|---|---|"]
    for code in codes:
        rows = results[code]
        lines.append(f"| {code} | {first[code]['seconds']:.2f} s | {median([r['seconds'] for r in rows]):.3f} s | "
                     f"{median([r['with_a_pass'] for r in rows]):.3f} s | {len(rows)} | {rows[-1]['from_cache']:,} of "
                     f"{rows[-1]['pictures']:,} |")
    if bench.compare_src:
        ratio = median([r["with_a_pass"] for r in results["visionpath"]]) / \
            median([r["with_a_pass"] for r in results["before"]])
        lines += ["", f"- cached load with a pass over every row, this code against before: **×{ratio:.2f}** (target: "
                      f"no more than ×1.10: {'met' if ratio <= 1.10 else 'NOT met'})"]
    bench.write("cached_load", "A cached second load of a photo folder: what the cache's checks cost", lines,
                {"first": first, "rounds": results},
                about="data: ../shared/data/cats-vs-dogs.zip unzipped (1,802 photos, two class folders) at 224 px; "
                      "each load in a fresh process, the codes alternating; the time includes a pass over every "
                      "picture (as an epoch makes), so that rows mapped but not yet read are counted")


def _load(env: dict, root: Path) -> dict:
    import subprocess
    done = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(root)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main(__doc__, {"cifar10_cnn_loader": cifar10_cnn_loader, "cifar10_feature_cache": cifar10_feature_cache,
                   "predict_throughput": predict_throughput, "decode_workers": decode_workers,
                   "profile_cifar10_resnet9": profile_cifar10_resnet9, "cached_load": cached_load})
