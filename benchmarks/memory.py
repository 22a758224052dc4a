"""Benchmark: memory, on folders of photos large and larger.

    python benchmarks/memory.py [--only SECTIONS] [--quick]

Sections, each written to benchmarks/results/<section>.md and .json:
  cifar10_224_memory  peak memory (max RSS) of `visionpath train cifar10-train-folder/ --image-size 224` (the photo
                      default, Lite0, on the 50,000 CIFAR-10 training JPEGs) stopped with Ctrl-C after 240 s
                      (loading, the data check and the start of the 224-px feature pass), and one on 100 pictures a
                      class through both stages (fine-tuning's memory does not grow with the folder).
  stream_memory       bounded memory on photo folders 10× apart in size (hymenoptera's train/ photos repeated through
                      symbolic links, so every file is a distinct path): the process's own (anonymous) memory and its
                      mapped cache pages, sampled every 0.1 s, for loading at 224 px (first pass: decoding into the
                      picture cache; second: from it) plus one epoch of random batches, and for `visionpath train
                      FOLDER --image-size 224` stopped after 150 s. With --compare-src, the same data pass with that
                      checkout (e.g. the code before streaming).
--quick: fewer pictures and seconds.
"""
from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from runner import SHARED, Bench, main


def cifar10_224_memory(bench: Bench) -> None:
    seconds, per_class = (60, 20) if bench.quick else (240, 100)
    with zipfile.ZipFile(SHARED / "data" / "cifar10-jpg.zip") as z:
        z.extractall(bench.tmp / "cifar", [n for n in z.namelist() if n.startswith("train/")])
    full = bench.tmp / "cifar" / "train"
    small = bench.tmp / "cifar-small" / "train"
    for folder in sorted(full.iterdir()):
        (small / folder.name).mkdir(parents=True)
        for picture in sorted(folder.iterdir())[:per_class]:
            shutil.copy(picture, small / folder.name)
    env = bench.env(VISIONPATH_HOME=str(bench.tmp / "home"), VISIONPATH_OFFLINE="1")
    rows = []
    for name, root, extra, limit in (
            (f"50,000 pictures, stopped after {seconds} s", full, [], seconds),
            (f"{10 * per_class:,} pictures, both stages", small, ["--epochs", "1", "--fine-tune-epochs", "1"], None)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "visionpath", "train", str(root), "--image-size", "224",
                                  "--project", str(bench.tmp / "runs"), *extra], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True,
                                 # a background shell starts us with Ctrl-C ignored; the child must hear it
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            out, _ = child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)  # Ctrl-C: the run stops and exits
            out, _ = child.communicate()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        reached = [line for line in out.splitlines() if line.startswith(("read ", "features", "epoch", "stage"))]
        rows.append({"case": name, "seconds": time.perf_counter() - t0, "peak_rss_gb": peak / 2**20,
                     "grew": peak > before, "reached": reached[-1] if reached else "", "lines": reached})
    lines = ["| case | seconds | peak memory | last line reached |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['seconds']:.0f} | **{r['peak_rss_gb']:.2f} GB** | `{r['reached']}` |" for r in rows]
    lines += ["", f"- target: peak under 4 GB: {'met' if max(r['peak_rss_gb'] for r in rows) < 4 else 'NOT met'} "
              "in both cases. The 32-px pictures are kept at their size (the model enlarges each batch), so the "
              "50,000 pictures take 150 MB, not the 7.5 GB of copies enlarged to 224 px. A full run was not "
              "measured (its feature pass alone takes about 15 minutes on these 2 cores)."]
    bench.write("cifar10_224_memory", "Peak memory: the CIFAR-10 training folder at 224 px, photo defaults (Lite0)",
                lines, {"rows": rows}, about="each case is `visionpath train FOLDER --image-size 224` in its own "
                                             "process; peak = the largest max RSS of the children so far")


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


def stream_memory(bench: Bench) -> None:
    copies, seconds = (10, 45) if bench.quick else (100, 150)
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(bench.tmp / "stream-src")
    source = next((bench.tmp / "stream-src").rglob("train"))
    rows = []
    for n in (max(1, copies // 10), copies):
        root = bench.tmp / f"photos-x{n}"
        for folder in sorted(p for p in source.iterdir() if p.is_dir()):
            (root / folder.name).mkdir(parents=True)
            for k in range(n):
                for photo in sorted(folder.iterdir()):
                    (root / folder.name / f"{k}-{photo.name}").symlink_to(photo)
        pictures = sum(1 for _ in root.rglob("*.*"))
        env = bench.env(VISIONPATH_HOME=str(bench.tmp / f"home-x{n}"), VISIONPATH_OFFLINE="1")
        data_pass = [sys.executable, "-c", DATA_PASS, str(root)]
        cases = [("load (decoding into the cache) + an epoch of batches", data_pass, env, None),
                 ("load (from the cache) + an epoch of batches", data_pass, env, None),
                 (f"`visionpath train` stopped after {seconds} s", [sys.executable, "-m", "visionpath", "train",
                  str(root), "--image-size", "224", "--project", str(bench.tmp / "runs")], env, seconds)]
        if bench.compare_src:
            cases.insert(0, ("before: load (decoding) + an epoch of batches", data_pass,
                             bench.env(bench.compare_src, VISIONPATH_HOME=str(bench.tmp / f"home-before-x{n}")), None))
        for name, command, case_env, limit in cases:
            row = _sampled(command, case_env, limit, bench.tmp / "stream.log")
            cache = sum(f.stat().st_size for f in Path(case_env["VISIONPATH_HOME"]).rglob("rows.u8"))
            rows.append({"pictures": pictures, "case": name, "cache_gb": cache / 2**30, **row})
            print(rows[-1], flush=True)
    lines = ["| pictures | case | picture cache on disk | peak anonymous | peak mapped cache | seconds | last line |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['pictures']:,} | {r['case']} | {r['cache_gb']:.2f} GB | **{r['anonymous']:.2f} GB** | "
              f"{r['mapped_files']:.2f} GB | {r['seconds']:.0f} | `{r['reached']}` |" for r in rows]
    first_pass = [r["anonymous"] for r in rows if r["case"].startswith("load (decoding")]
    lines += ["", f"- 10× the photos, the process's own memory in the first pass: {first_pass[0]:.2f} GB → "
              f"{first_pass[-1]:.2f} GB (bounded: one chunk of pictures at a time, the rest in the mapped cache)."]
    if bench.compare_src:
        old = [r["anonymous"] for r in rows if r["case"].startswith("before")]
        lines[-1] += f" With `{bench.compare_src}`: {old[0]:.2f} GB → {old[-1]:.2f} GB."
    bench.write("stream_memory", "Bounded memory: photo folders 10× apart, streamed through the picture cache at "
                "224 px", lines, {"rows": rows},
                about="folders: hymenoptera's train/ photos repeated through symbolic links (each a distinct path, so "
                      "each is decoded and cached); peaks sampled from /proc every 0.1 s: anonymous = the process's "
                      "own memory (what cannot be given back), mapped = pages of the picture cache mapped in (the "
                      "system drops them when memory is short and reads them again)")


if __name__ == "__main__":
    main(__doc__, {"cifar10_224_memory": cifar10_224_memory, "stream_memory": stream_memory})
