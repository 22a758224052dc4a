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
  resnet9_long     the 94% attempts: resnet9 at --width 64 (the Myrtle.ai width), recipes in LONG_RECIPES
  streaming        5 epochs of resnet9 with the pictures on the GPU and streamed from main memory (forced)
  layouts          a model's training steps alone: contiguous, channels_last, channels_last + torch.compile
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


# The 94% attempts, all resnet9 at the Myrtle.ai width (64): the recipe's own optimiser longer, and David Page's
# (SGD with Nesterov momentum at 0.4, L2 5e-4, label smoothing 0.2, 24 epochs), with standard and strong
# augmentation (strong adds TrivialAugment and random erasing, where Page used cutout).
LONG_RECIPES = {
    "adamw_30": "--epochs 30",
    "sgd_24": "--epochs 24 --optimizer sgd --lr 0.4 --weight-decay 5e-4 --label-smoothing 0.2",
    "sgd_24_strong": "--epochs 24 --optimizer sgd --lr 0.4 --weight-decay 5e-4 --label-smoothing 0.2 --augment strong",
    "sgd_40_strong": "--epochs 40 --optimizer sgd --lr 0.4 --weight-decay 5e-4 --label-smoothing 0.2 --augment strong",
    "adamw_40_strong": "--epochs 40 --augment strong",
}


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
                          env={**os.environ, "PYTHONPATH": f"{airbench.parent}:{os.environ.get('PYTHONPATH', '')}"})
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
    lines = [line.split(",") for line in (run / "results.csv").read_text().splitlines()]
    rows = [dict(zip(lines[0], values)) for values in lines[1:]]
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
    from visionpath.run_files import load_model
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
    trained = visionpath_train(work, "lite0", device, "--model", "efficientnet_lite0", "--no-pretrained",
                               "--image-size", side, "--epochs", "1", "--batch-size", "128")  # every layer trains
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


def streaming(work: Path) -> dict:
    """The default resnet9 recipe for 5 epochs with the training pictures on the GPU, then streamed from main
    memory as when they do not fit (forced): seconds an epoch, and whether the two runs agree."""
    result = {}
    for name, force in (("on_gpu", ""), ("streamed", "pictures.fits_on = lambda device, images: False\n")):
        code = ("import sys\nfrom visionpath.training import pictures\n" + force +
                "from visionpath.cli import main\nsys.exit(main(sys.argv[1:]))\n")
        command = [sys.executable, "-c", code, "train", "cifar10", "--data-dir", str(work / "data"), "--device",
                   "cuda", "--project", str(work / "runs"), "--name", f"stream_{name}", "--model", "resnet9",
                   "--epochs", "5"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        print(done.stdout[-1500:], done.stderr[-1500:])
        run = max((work / "runs").glob(f"stream_{name}-*"), key=lambda p: p.stat().st_mtime)
        rows = (run / "results.csv").read_text().splitlines()
        result[name] = {"epoch_seconds": [float(r.split(",")[2]) for r in rows[1:]], "last_row": rows[-1],
                        "said": [line for line in done.stdout.splitlines() if "streams" in line]}
    return result


def layouts() -> dict:
    """Training steps a second of a model alone (random pictures, Adam, bf16 autocast) in channels_last against
    the default contiguous layout, and compiled: the measurements behind visionpath's defaults on a GPU."""
    import torch
    from visionpath.models import create_model
    result = {}
    for model_name, side, batch, args in (("resnet9", 32, 512, {"width": 64}),
                                          ("efficientnet_lite0", 224, 128, {})):
        for variant in ("contiguous", "channels_last", "channels_last+compile"):
            net = create_model(model_name, 10, (3, side, side), **args).cuda()
            layout = torch.contiguous_format if variant == "contiguous" else torch.channels_last
            net = net.to(memory_format=layout)
            forward = torch.compile(net) if "compile" in variant else net
            opt = torch.optim.Adam(net.parameters(), fused=True)
            x = torch.randn(batch, 3, side, side, device="cuda").contiguous(memory_format=layout)
            y = torch.randint(0, 10, (batch,), device="cuda")

            def step():
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = torch.nn.functional.cross_entropy(forward(x).float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            t0 = time.perf_counter()
            for _ in range(3):
                step()
            torch.cuda.synchronize()
            warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(20):
                step()
            torch.cuda.synchronize()
            seconds = (time.perf_counter() - t0) / 20
            result[f"{model_name}_{variant}"] = {"pictures_per_second": batch / seconds, "warm_up_seconds": warm}
            print(model_name, variant, result[f"{model_name}_{variant}"], flush=True)
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
        "streaming": lambda: streaming(work),
        "layouts": layouts,
        "resnet9_long": lambda: {name: visionpath_train(work, name, device, "--model", "resnet9", "--width", "64",
                                                        *(short or recipe.split()), timeout=150)
                                 for name, recipe in LONG_RECIPES.items()},
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
