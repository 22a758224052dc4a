"""Benchmark on a CUDA GPU, in one go: visionpath from its general CLI against airbench94 on the same GPU.

    python benchmarks/gpu.py --pack ../shared/data/cifar10-jpg.zip .bench/cifar10-jpg.pack   # here, once
    python benchmarks/gpu.py --data .bench --airbench .bench/airbench --out OUT            # on the GPU machine

The GPU machine is reached with nothing but the working tree (64 MiB): the CIFAR-10 JPEG zip travels as a pack of
the same JPEG bytes without the zip's 60,000 headers, and is made a zip again there. airbench is the PyPI package
(`airbench.train94`, the packaged airbench94), run on the same JPEG copy, decoded, so both see the same pixels.

Sections, each written to OUT/gpu.json as it finishes (a section that fails is recorded and the next one runs):
  machine          GPU, driver, torch
  airbench94       a warm-up run, then 3 timed runs: its own timer (training and TTA evaluation), test accuracy
  resnet9          `visionpath train cifar10 --model resnet9 --device cuda` (the 85% recipe): wall-clock, training
                   seconds, test accuracy
  lite0            EfficientNet-Lite0 at 224 px, one epoch of the whole network training (as fine-tuning every
                   block), pictures a second; and its inference throughput
  inference        the resnet9 run's test pictures through the model on the GPU and on this machine's CPU, and
                   `visionpath predict` on 2,000 JPEG files with --device cuda and cpu
  resnet9_long     the 94% attempt: --width 64 --epochs 30 (the Myrtle.ai width)
"""
from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ---------------------------------------------------------------------------------------------- the data

def pack(zip_path: Path, destination: Path) -> None:
    """The zip's JPEG files as one blob plus an index of names and lengths (the zip's headers are 10 MB)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    names, lengths = [], []
    with zipfile.ZipFile(zip_path) as z, open(destination, "wb") as blob:
        for info in z.infolist():
            if info.is_dir():
                continue
            data = z.read(info)
            blob.write(data)
            names.append(info.filename)
            lengths.append(len(data))
    destination.with_suffix(".json").write_text(json.dumps({"names": names, "lengths": lengths}))
    print(f"packed {len(names):,} files, {sum(lengths) / 1e6:.1f} MB, into {destination}")


def unpack(packed: Path, zip_path: Path) -> dict[str, list[bytes]]:
    """The zip made again (stored), and the JPEG bytes by split."""
    index = json.loads(packed.with_suffix(".json").read_text())
    blob = packed.read_bytes()
    by_split: dict[str, list[tuple[str, bytes]]] = {"train": [], "test": []}
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
        offset = 0
        for name, length in zip(index["names"], index["lengths"]):
            data = blob[offset: offset + length]
            offset += length
            z.writestr(name, data)
            by_split[name.split("/")[0]].append((name, data))
    return by_split


def airbench_data(by_split: dict, folder: Path) -> None:
    """cifar10/train.pt and test.pt as airbench's loader reads them (uint8 N×32×32×3), from the same JPEGs."""
    import torch
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)

    def decode(item):
        return np.asarray(Image.open(io.BytesIO(item[1])).convert("RGB"))
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for split, items in by_split.items():
            images = np.stack(list(pool.map(decode, items, chunksize=512)))
            labels = [CLASSES.index(name.split("/")[1]) for name, _ in items]
            torch.save({"images": torch.from_numpy(images), "labels": torch.tensor(labels), "classes": CLASSES},
                       folder / f"{split}.pt")


# ------------------------------------------------------------------------------------------- the sections

def machine() -> dict:
    import torch
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    return {"gpu": smi, "torch": torch.__version__, "cuda": torch.version.cuda, "cpu_cores": os.cpu_count()}


def airbench94(work: Path, airbench: Path) -> dict:
    code = ("import airbench\nairbench.warmup94()\n"
            "for run in range(3):\n    airbench.train94(run=run)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": f"{airbench}:{os.environ.get('PYTHONPATH', '')}"})
    print(done.stdout[-3000:], done.stderr[-2000:])
    finals = [line for line in done.stdout.splitlines() if "eval" in line]
    runs = []
    for line in finals:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        numbers = [float(c) for c in cells if re.fullmatch(r"[0-9.]+", c)]
        runs.append({"tta_test_accuracy": numbers[-2], "seconds": numbers[-1]})
    return {"runs": runs[-3:], "returncode": done.returncode}


def visionpath_train(work: Path, name: str, device: str, *args: str, timeout: int = 300) -> dict:
    project = work / "runs"
    command = [sys.executable, "-m", "visionpath", "train", "cifar10", "--data-dir", str(work / "data"), "--device",
               device, "--project", str(project), "--name", name, *args]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    print(" ".join(command), f"({wall:.1f}s)\n", done.stdout[-4000:], done.stderr[-3000:])
    run = project / f"{name}-1"
    rows = [line.split(",") for line in (run / "results.csv").read_text().splitlines()]
    header, rows = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    test = json.loads((run / "test_metrics.json").read_text())
    return {"command": " ".join(["visionpath", *command[3:]]), "wall_seconds": wall, "returncode": done.returncode,
            "epochs": len(rows), "training_seconds": float(rows[-1]["time"]),
            "epoch_seconds": [float(r["epoch_time"]) for r in rows],
            "val_accuracy": [float(r["val_accuracy"]) for r in rows], "test_accuracy": test["accuracy"],
            "header": [line for line in done.stdout.splitlines() if line.startswith(("model ", "read "))],
            "run": str(run)}


def throughput(run: Path, device: str, images, batch_size: int = 1024) -> dict:
    """Pictures a second through a run's model (scaled as trained), after a warm-up pass."""
    import torch
    from visionpath.models import logits_in_batches
    from visionpath.run_folder import load_model
    model, meta = load_model(run, device=device)
    go = lambda: logits_in_batches(model, images, meta["mean"], meta["std"], torch.device(device),  # noqa: E731
                                   batch_size=batch_size, bf16=device == "cuda")
    go()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    go()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"pictures": len(images), "seconds": seconds, "pictures_per_second": len(images) / seconds}


def test_images(work: Path):
    from visionpath.data import load_dataset
    return load_dataset("cifar10", data_dir=work / "data").test.images


def lite0(work: Path, device: str, smoke: bool) -> dict:
    side = "64" if smoke else "224"
    trained = visionpath_train(work, "lite0", device, "--model", "efficientnet_lite0", "--image-size", side,
                               "--epochs", "1", "--batch-size", "128")
    trained["pictures_per_second"] = 45_000 / trained["epoch_seconds"][0]  # the epoch's validation counted in
    trained["inference"] = throughput(work / "runs" / "lite0-1", device, test_images(work)[:5000], batch_size=256)
    return trained


def inference(run: Path, by_split: dict, work: Path, devices: list[str]) -> dict:
    import visionpath
    result = {f"model_{d}": throughput(run, d, test_images(work)) for d in devices}
    folder = work / "predict"
    for name, data in by_split["test"][:2000]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    for device in devices:
        t0 = time.perf_counter()
        visionpath.predict(run, [folder], device=device)
        result[f"predict_{device}"] = {"files": 2000, "seconds": time.perf_counter() - t0}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", nargs=2, metavar=("ZIP", "PACK"))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--airbench", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", default="machine,airbench94,resnet9,lite0,inference,resnet9_long")
    parser.add_argument("--smoke", action="store_true", help="on this machine's CPU, an epoch each: checks the script")
    args = parser.parse_args()
    if args.pack:
        return pack(Path(args.pack[0]), Path(args.pack[1]))
    work = Path("/tmp/gpu-bench")
    device, short = ("cpu", ["--epochs", "1"]) if args.smoke else ("cuda", [])
    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}
    t0 = time.perf_counter()
    by_split = unpack(args.data / "cifar10-jpg.pack", work / "data" / "cifar10-jpg.zip")
    airbench_data(by_split, work / "cifar10")
    results["data_seconds"] = time.perf_counter() - t0
    sections = {
        "machine": machine,
        "airbench94": lambda: airbench94(work, args.airbench.resolve()),
        "resnet9": lambda: visionpath_train(work, "resnet9", device, "--model", "resnet9", *short),
        "lite0": lambda: lite0(work, device, args.smoke),
        "inference": lambda: inference(work / "runs" / "resnet9-1", by_split, work, [device, "cpu"][:2 - args.smoke]),
        "resnet9_long": lambda: visionpath_train(work, "resnet9_long", device, "--model", "resnet9", "--width", "64",
                                                 *(short or ["--epochs", "30"]), timeout=330),
    }
    for name in args.only.split(","):
        t1 = time.perf_counter()
        try:
            results[name] = sections[name]()
        except Exception:
            results[name] = {"error": traceback.format_exc()[-3000:]}
            print(results[name]["error"])
        results[name] = {**results[name], "section_seconds": time.perf_counter() - t1} \
            if isinstance(results[name], dict) else results[name]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu.json").write_text(json.dumps(results, indent=2))
        print(f"== {name} done in {time.perf_counter() - t1:.1f}s", flush=True)


if __name__ == "__main__":
    main()
