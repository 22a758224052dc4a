"""Benchmark: Part 4 (your own photos) on the real photos in ../shared/data.

    .venv/bin/python benchmarks/part4.py [--only hymenoptera,predict,balance,memory,stream,workers]

Sections, each written to benchmarks/results/<section>.md and .json with the machine and the command:
  hymenoptera  `visionpath train hymenoptera/` with no options, offline, from an empty picture cache: wall-clock
               time of the whole command (start-up, decoding, weights, both stages, test report) and the best
               validation accuracy; then the same command again, and how long each run spent reading pictures.
  predict      `predict` on the 10,000 CIFAR-10 test JPEGs (unzipped from the shared zip) against the model's own
               forward-pass throughput on the same pictures already decoded, side by side, for a small model
               (resnet9 at 32 px, where decoding is the hard part) and the photo default (Lite0 at its chosen side);
               and, for comparison, the design predict does not use (the next batch decoding beside the model).
  balance      --balance none|weights|sampler on an unbalanced copy of hymenoptera (train/bees cut to 30 photos, a
               4:1 ratio; val/ untouched): best balanced validation accuracy and macro-F1 of each, no other options.
  memory       peak memory (max RSS) of `visionpath train cifar10-train-folder/ --image-size 224` (the photo
               default, Lite0, on the 50,000 CIFAR-10 training JPEGs): one run stopped with Ctrl-C after
               --memory-seconds (loading, the data check and the start of the 224-px feature pass), and one on 100
               pictures a class through both stages (fine-tuning's memory does not grow with the folder).
  stream       bounded memory on photo folders 10× apart in size (hymenoptera's train/ photos repeated through
               symbolic links, so every file is a distinct path; --stream-copies): the process's own (anonymous)
               memory and its mapped cache pages, sampled every 0.1 s, for loading at 224 px (first pass: decoding
               into the picture cache; second: from it) plus one epoch of random batches, and for `visionpath
               train FOLDER --image-size 224` stopped after --stream-seconds. --before SRC adds the same data pass
               with another checkout's src/ (the code before streaming) for comparison.
  workers      the first pass's decoding (hymenoptera's 398 photos, each decoded --workers-repeat times under
               distinct names, to 224 px) in threads, as visionpath does it, against torch DataLoader worker
               processes (2 and 4), side by side, medians of 3.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from common import SHARED, machine, write_results

HOURS = time.strftime("%Y-%m-%d %H:%M")


def command_line() -> str:
    return f"python benchmarks/part4.py {' '.join(sys.argv[1:])}".strip()


def visionpath(*args: str, env: dict) -> tuple[float, str]:
    """Run the visionpath command in a fresh process: (wall seconds, stdout)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "visionpath", *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise RuntimeError(f"visionpath {' '.join(args)} failed:\n{done.stderr[-2000:]}\n{done.stdout[-3000:]}")
    return wall, done.stdout


def hymenoptera(tmp: Path) -> None:
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(tmp / "hymenoptera")
    root = next((tmp / "hymenoptera").rglob("train")).parent
    env = {**os.environ, "VISIONPATH_HOME": str(tmp / "home"), "VISIONPATH_OFFLINE": "1"}
    runs = []
    for attempt in (1, 2):
        os.chdir(tmp)  # runs/ lands in tmp: the command is typed exactly as a user would
        wall, out = visionpath("train", str(root), env=env)
        run = sorted((tmp / "runs").iterdir(), key=lambda p: p.stat().st_mtime)[-1]
        history = [json.loads(json.dumps(r)) for r in _csv(run / "results.csv")]
        data = json.loads((run / "data.json").read_text())
        best = max(history, key=lambda r: float(r["val_accuracy"]))
        runs.append({"run": run.name, "wall_seconds": wall, "best_val_accuracy": float(best["val_accuracy"]),
                     "best_epoch": int(best["epoch"]), "epochs": len(history),
                     "stages": [int(r["stage"]) for r in history], "train_seconds": float(history[-1]["time"]),
                     "load_seconds": data["load_seconds"], "from_cache": data["from_cache"],
                     "unreadable": data["unreadable"],
                     "chosen": [line for line in out.splitlines() if line.startswith(CHOSEN)]})
    first, second = runs
    met = first["best_val_accuracy"] >= 0.95 and first["wall_seconds"] <= 120
    lines = ["# Your own photos: `visionpath train hymenoptera/` with no options", "",
             f"- command: `{command_line()}`; data: ../shared/data/hymenoptera.zip unzipped (train/ 245, val/ 153 "
             "photos); offline (VISIONPATH_OFFLINE=1), empty picture cache before the first run",
             f"- machine: {machine()}, {HOURS}", "",
             "| run | wall-clock (whole command) | best validation accuracy (epoch) | epochs (stages) | "
             "reading pictures | from the picture cache |", "|---|---|---|---|---|---|"]
    for name, r in (("first", first), ("second, identical", second)):
        lines.append(f"| {name} (`{r['run']}`) | {r['wall_seconds']:.1f} s | {r['best_val_accuracy']:.2%} "
                     f"({r['best_epoch']}) | {r['epochs']} ({'+'.join(str(r['stages'].count(s)) for s in (1, 2))}) "
                     f"| {r['load_seconds']:.2f} s | {r['from_cache']} |")
    lines += ["", f"- target ≥ 95% validation accuracy within 2 minutes of wall-clock, first run included: "
                  f"**{'met' if met else 'NOT met'}** ({first['best_val_accuracy']:.2%} in "
                  f"{first['wall_seconds']:.0f} s).",
              f"- second run's picture reading: {second['load_seconds']:.2f} s against {first['load_seconds']:.2f} s "
              f"(**{first['load_seconds'] / max(second['load_seconds'], 1e-9):.0f}× less**; target ≤ 1/10: "
              f"{'met' if second['load_seconds'] <= first['load_seconds'] / 10 else 'NOT met'}).",
              "- what the run chose and printed:", *[f"  - `{line}`" for line in first["chosen"]]]
    write_results("hymenoptera_defaults", {"machine": machine(), "date": HOURS, "runs": runs}, lines)


CHOSEN = ("no --model", "resolution", "batch size", "fine-tuning:", "early stopping", "read ", "skipped", "data check")


def _csv(path: Path) -> list[dict]:
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


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


def predict_throughput(tmp: Path, hymenoptera_run: Path | None, lite0_pictures: int) -> None:
    import torch

    from visionpath.data.images import load_image
    from visionpath.models import logits_in_batches
    from visionpath.predict import collect_images, predict
    from visionpath.runs import load_model

    with zipfile.ZipFile(SHARED / "data" / "cifar10-jpg.zip") as z:
        z.extractall(tmp / "cifar", [n for n in z.namelist() if n.startswith("test/")])
    test = tmp / "cifar" / "test"
    os.environ["VISIONPATH_HOME"] = str(tmp / "home")
    # a resnet9 run on these pictures: only its architecture matters for throughput
    subprocess.run([sys.executable, "-m", "visionpath", "train", str(test), "--model", "resnet9", "--epochs", "1",
                    "--project", str(tmp / "runs"), "--name", "cifar-resnet9"], check=True, capture_output=True)
    models = [("resnet9 at 32×32", tmp / "runs" / "cifar-resnet9-1", collect_images(test))]
    if hymenoptera_run is not None:
        side = json.loads((hymenoptera_run / "config.json").read_text())["settings"]["image_size"]
        models.append((f"efficientnet_lite0 at {side}×{side} (the hymenoptera run; first {lite0_pictures:,} pictures)",
                       hymenoptera_run, collect_images(test)[:lite0_pictures]))
    rows = []
    for name, run, paths in models:
        model, meta = load_model(run)
        channels, height, width = meta["input_shape"]
        batch = torch.stack([load_image(p, (height, width), channels) for p in paths])  # decoded beforehand
        forward = []
        for _ in range(3):
            t0 = time.perf_counter()
            logits_in_batches(model, batch, meta["mean"], meta["std"], torch.device("cpu"))
            forward.append(time.perf_counter() - t0)
        del batch
        full, beside = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            predict(run, paths, csv=tmp / "labels.csv")
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _beside_the_model(model, meta, paths)
            beside.append(time.perf_counter() - t0)
        f, p, b = statistics.median(forward), statistics.median(full), statistics.median(beside)
        rows.append({"model": name, "pictures": len(paths), "forward_seconds": forward, "predict_seconds": full,
                     "beside_seconds": beside, "forward_per_s": len(paths) / f, "predict_per_s": len(paths) / p,
                     "ratio": f / p, "beside_ratio": f / b})
    lines = ["# Prediction at scale: `predict` (decoding, model, CSV) against the model's own forward pass", "",
             f"- command: `{command_line()}`; pictures: the CIFAR-10 test JPEGs of ../shared/data/cifar10-jpg.zip, "
             "unzipped; medians of 3", f"- machine: {machine()}, {HOURS}", "",
             "| model | pictures | forward pass alone (pictures decoded beforehand) | `predict` to CSV (each batch "
             "decoded, then classified) | share of the forward-pass throughput | for comparison: the next batch "
             "decoding in threads beside the model (no CSV) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['pictures']:,} | {r['forward_per_s']:,.0f} /s | {r['predict_per_s']:,.0f} /s | "
              f"**{r['ratio']:.0%}** | {r['beside_ratio']:.0%} |" for r in rows]
    lines += ["", "- target: `predict` at ≥ 80% of the forward-pass throughput: " + "; ".join(
        f"{r['model'].split(' (')[0]} {'met' if r['ratio'] >= 0.8 else 'NOT met'}" for r in rows) + "."]
    write_results("predict_throughput", {"machine": machine(), "date": HOURS, "rows": rows}, lines)


def balance(tmp: Path) -> None:
    import shutil
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(tmp / "unbalanced-src")
    source = next((tmp / "unbalanced-src").rglob("train")).parent
    root = tmp / "unbalanced"
    shutil.copytree(source, root)
    for extra in sorted((root / "train" / "bees").iterdir())[30:]:
        extra.unlink()
    env = {**os.environ, "VISIONPATH_HOME": str(tmp / "home"), "VISIONPATH_OFFLINE": "1"}
    rows = []
    for mode in ("none", "weights", "sampler"):
        wall, _ = visionpath("train", str(root), "--balance", mode, "--project", str(tmp / "runs"), "--name",
                             f"balance-{mode}", env=env)
        history = _csv(tmp / "runs" / f"balance-{mode}-1" / "results.csv")
        best = max(history, key=lambda r: (float(r["val_balanced_accuracy"]), float(r["val_accuracy"])))
        rows.append({"balance": mode, "wall_seconds": wall, "best_epoch": int(best["epoch"]),
                     "val_accuracy": float(best["val_accuracy"]),
                     "val_balanced_accuracy": float(best["val_balanced_accuracy"]),
                     "val_macro_f1": float(best["val_macro_f1"])})
    lines = ["# `--balance` on an unbalanced folder: hymenoptera with train/bees cut to 30 photos (124 ants : 30 bees)",
             "", f"- command: `{command_line()}`; validation untouched (70 ants, 83 bees); otherwise no options",
             f"- machine: {machine()}, {HOURS}", "",
             "| --balance | best balanced val accuracy | val accuracy | val macro-F1 | wall-clock |", "|---|---|---|---|---|"]
    lines += [f"| {r['balance']} | **{r['val_balanced_accuracy']:.2%}** | {r['val_accuracy']:.2%} | "
              f"{r['val_macro_f1']:.3f} | {r['wall_seconds']:.0f} s |" for r in rows]
    write_results("balance_hymenoptera", {"machine": machine(), "date": HOURS, "rows": rows}, lines)


def peak_memory(tmp: Path, seconds: int) -> None:
    import resource
    import shutil
    import signal

    with zipfile.ZipFile(SHARED / "data" / "cifar10-jpg.zip") as z:
        z.extractall(tmp / "cifar", [n for n in z.namelist() if n.startswith("train/")])
    full = tmp / "cifar" / "train"
    small = tmp / "cifar-small" / "train"
    for folder in sorted(full.iterdir()):
        (small / folder.name).mkdir(parents=True)
        for picture in sorted(folder.iterdir())[:100]:
            shutil.copy(picture, small / folder.name)
    env = {**os.environ, "VISIONPATH_HOME": str(tmp / "home"), "VISIONPATH_OFFLINE": "1"}
    rows = []
    for name, root, extra, limit in (
            (f"50,000 pictures, stopped after {seconds} s", full, [], seconds),
            ("1,000 pictures, both stages", small, ["--epochs", "1", "--fine-tune-epochs", "1"], None)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "visionpath", "train", str(root), "--image-size", "224",
                                  "--project", str(tmp / "runs"), *extra], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True,
                                 # a background shell starts us with Ctrl-C ignored; the child must hear it
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            out, _ = child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)  # Ctrl-C: the run saves and exits
            out, _ = child.communicate()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        reached = [line for line in out.splitlines() if line.startswith(("read ", "features", "epoch", "stage"))]
        rows.append({"case": name, "seconds": time.perf_counter() - t0, "peak_rss_gb": peak / 2**20,
                     "grew": peak > before, "reached": reached[-1] if reached else "", "lines": reached})
    lines = ["# Peak memory: the CIFAR-10 training folder at 224 px, photo defaults (Lite0)", "",
             f"- command: `{command_line()}`; each case is `visionpath train FOLDER --image-size 224` in its own "
             "process; peak = the largest max RSS of the children so far", f"- machine: {machine()}, {HOURS}", "",
             "| case | seconds | peak memory | last line reached |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['seconds']:.0f} | **{r['peak_rss_gb']:.2f} GB** | `{r['reached']}` |" for r in rows]
    lines += ["", f"- target: peak under 4 GB: {'met' if max(r['peak_rss_gb'] for r in rows) < 4 else 'NOT met'} "
              "in both cases. The 32-px pictures are kept at their size (the model enlarges each batch), so the "
              "50,000 pictures take 150 MB, not the 7.5 GB of copies enlarged to 224 px. A full run was not "
              "measured (its feature pass alone takes about 15 minutes on these 2 cores)."]
    write_results("cifar10_224_memory", {"machine": machine(), "date": HOURS, "rows": rows}, lines)


DATA_PASS = """
import sys, time, torch
from visionpath.data import load_dataset
t0 = time.perf_counter()
data = load_dataset(sys.argv[1], image_size=224)
loaded = time.perf_counter() - t0
order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
for start in range(0, len(order), 64):  # an epoch's reads: random batches, gathered and scaled as training does
    data.train.images[order[start: start + 64]].float().div_(255)
print(f"loaded {loaded:.1f} s, epoch of batches {time.perf_counter() - t0 - loaded:.1f} s, "
      f"{data.folder.from_cache} from the cache")
"""


def _sampled(command: list[str], env: dict, limit: float | None, log: Path) -> dict:
    """Run `command`, stopping it with Ctrl-C after `limit` seconds; peaks of its memory from /proc every 0.1 s."""
    import signal
    fields = {"RssAnon": "anonymous", "RssFile": "mapped_files", "VmRSS": "rss"}
    peaks = dict.fromkeys(fields.values(), 0)
    t0 = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        while child.poll() is None:
            if limit is not None and time.perf_counter() - t0 > limit:
                child.send_signal(signal.SIGINT)
                limit = None
            try:
                status = Path(f"/proc/{child.pid}/status").read_text()
            except OSError:
                break
            for line in status.splitlines():
                key, _, value = line.partition(":")
                if key in fields and value.strip():
                    peaks[fields[key]] = max(peaks[fields[key]], int(value.split()[0]) << 10)
            time.sleep(0.1)
        child.wait()
    text = log.read_text()
    reached = [line for line in text.splitlines() if line.startswith(("read ", "loaded", "features", "epoch"))]
    return {**{k: v / 2**30 for k, v in peaks.items()}, "seconds": time.perf_counter() - t0,
            "reached": reached[-1] if reached else text.strip().splitlines()[-1:]}


def streaming_memory(tmp: Path, copies: int, seconds: int, before: str | None) -> None:
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(tmp / "stream-src")
    source = next((tmp / "stream-src").rglob("train"))
    rows = []
    for n in (max(1, copies // 10), copies):
        root = tmp / f"photos-x{n}"
        for folder in sorted(p for p in source.iterdir() if p.is_dir()):
            (root / folder.name).mkdir(parents=True)
            for k in range(n):
                for photo in sorted(folder.iterdir()):
                    (root / folder.name / f"{k}-{photo.name}").symlink_to(photo)
        pictures = sum(1 for _ in root.rglob("*.*"))
        env = {**os.environ, "VISIONPATH_HOME": str(tmp / f"home-x{n}"), "VISIONPATH_OFFLINE": "1"}
        cases = [("load (decoding into the cache) + an epoch of batches", [sys.executable, "-c", DATA_PASS, str(root)],
                  env, None),
                 ("load (from the cache) + an epoch of batches", [sys.executable, "-c", DATA_PASS, str(root)], env,
                  None),
                 (f"`visionpath train` stopped after {seconds} s", [sys.executable, "-m", "visionpath", "train",
                  str(root), "--image-size", "224", "--project", str(tmp / "runs")], env, seconds)]
        if before:
            cases.insert(0, ("before streaming: load (decoding) + an epoch of batches",
                             [sys.executable, "-c", DATA_PASS, str(root)],
                             {**env, "PYTHONPATH": before, "VISIONPATH_HOME": str(tmp / f"home-before-x{n}")}, None))
        for name, command, case_env, limit in cases:
            row = _sampled(command, case_env, limit, tmp / "stream.log")
            cache = sum(f.stat().st_size for f in Path(case_env["VISIONPATH_HOME"]).rglob("rows.u8"))
            rows.append({"pictures": pictures, "case": name, "cache_gb": cache / 2**30, **row})
            print(rows[-1], flush=True)
    lines = ["# Bounded memory: photo folders 10× apart, streamed through the picture cache at 224 px", "",
             f"- command: `{command_line()}`; folders: hymenoptera's train/ photos repeated through symbolic links "
             "(each a distinct path, so each is decoded and cached); peaks sampled from /proc every 0.1 s: "
             "anonymous = the process's own memory (what cannot be given back), mapped = pages of the picture "
             "cache mapped in (the system drops them when memory is short and reads them again)",
             f"- machine: {machine()}, {HOURS}"]
    if before:
        commit = subprocess.run(["git", "-C", before, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        lines += [f"- before streaming: the same data pass with `{before}` (commit {commit or 'unknown'})"]
    lines += ["", "| pictures | case | picture cache on disk | peak anonymous | peak mapped cache | seconds | "
              "last line |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['pictures']:,} | {r['case']} | {r['cache_gb']:.2f} GB | **{r['anonymous']:.2f} GB** | "
              f"{r['mapped_files']:.2f} GB | {r['seconds']:.0f} | `{r['reached']}` |" for r in rows]
    first_pass = [r["anonymous"] for r in rows if r["case"].startswith("load (decoding")]
    lines += ["", f"- 10× the photos, the process's own memory in the first pass: {first_pass[0]:.2f} GB → "
              f"{first_pass[-1]:.2f} GB (bounded: one chunk of pictures at a time, the rest in the mapped cache)."]
    if before:
        old = [r["anonymous"] for r in rows if r["case"].startswith("before")]
        lines[-1] += f" Before streaming it grew with the folder: {old[0]:.2f} GB → {old[-1]:.2f} GB."
    write_results("stream_memory", {"machine": machine(), "date": HOURS, "rows": rows}, lines)


class _Photos:
    """A map-style dataset for DataLoader: the i-th photo decoded by load_image."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from visionpath.data.images import load_image
        return load_image(self.paths[i], (224, 224), 3)


def decode_workers(tmp: Path, repeat: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from torch.utils.data import DataLoader

    from visionpath.data.images import load_images
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(tmp / "workers-src")
    photos = sorted(p for p in (tmp / "workers-src").rglob("*.jpg"))
    paths = []
    for k in range(repeat):
        for photo in photos:
            link = tmp / "workers" / f"{k}-{photo.parent.parent.name}-{photo.parent.name}-{photo.name}"
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
    rows = [{"way": name, "seconds": t, "median": statistics.median(t), "per_second": len(paths) / statistics.median(t)}
            for name, t in times.items()]
    lines = ["# The first pass's decoding: threads against DataLoader worker processes", "",
             f"- command: `{command_line()}`; {len(paths):,} decodes of hymenoptera's {len(photos)} JPEG photos (each "
             f"{repeat}× under distinct names) to 224×224, files in the page cache; medians of 3",
             f"- machine: {machine()}, {HOURS}", "", "| way | median | photos / s | runs |", "|---|---|---|---|"]
    lines += [f"| {r['way']} | {r['median']:.1f} s | **{r['per_second']:.0f}** | "
              f"{', '.join(f'{t:.1f}' for t in r['seconds'])} |" for r in rows]
    best_workers = max(rows[1:], key=lambda r: r["per_second"])
    lines += ["", f"- threads decode {rows[0]['per_second'] / best_workers['per_second']:.2f}× as many photos a second "
              f"as the best DataLoader ({best_workers['way']}): Pillow lets go of the GIL while it decodes and "
              "resizes, and threads need no process start-up or copying of every picture between processes."]
    write_results("decode_workers", {"machine": machine(), "date": HOURS, "rows": rows}, lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="hymenoptera,predict,balance,memory,stream,workers")
    parser.add_argument("--lite0-pictures", type=int, default=1000)
    parser.add_argument("--memory-seconds", type=int, default=240)
    parser.add_argument("--stream-copies", type=int, default=100)
    parser.add_argument("--stream-seconds", type=int, default=150)
    parser.add_argument("--before", help="src/ of another checkout, for the stream section's comparison")
    parser.add_argument("--workers-repeat", type=int, default=5)
    args = parser.parse_args()
    chosen = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "hymenoptera" in chosen:
            hymenoptera(tmp)
        if "predict" in chosen:
            runs = sorted((tmp / "runs").glob("hymenoptera*")) if (tmp / "runs").is_dir() else []
            predict_throughput(tmp, runs[0] if runs else None, args.lite0_pictures)
        if "balance" in chosen:
            balance(tmp)
        if "memory" in chosen:
            peak_memory(tmp, args.memory_seconds)
        if "stream" in chosen:
            streaming_memory(tmp, args.stream_copies, args.stream_seconds, args.before)
        if "workers" in chosen:
            decode_workers(tmp, args.workers_repeat)


if __name__ == "__main__":
    main()
