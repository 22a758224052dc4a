"""Benchmark: Part 3 (transfer learning on CIFAR-10), the pretrained backbone against the best CNN from scratch.

    .venv/bin/python benchmarks/part3.py [--only budget,finetune,cache] [--keras /tmp/peers-keras/bin/python]

Sections, each written to benchmarks/results/<section>.md and .json with the machine and the command:
  budget    a 10-minute training budget: resnet9 from scratch (Part 2's best, epochs filling the budget) against
            efficientnet_lite0 --pretrained; `visionpath compare` of the two.
  finetune  efficientnet_lite0 --pretrained with longer fine-tuning: the accuracy within 30 minutes.
  cache     stage 1 (head on the frozen backbone) with the feature cache against recomputing the backbone every
            epoch, side by side.
Times are scaled to the issue's reference machine by the Keras CIFAR-10 CNN (40 s an epoch there), timed in the
same run before and after ours: scaled = ours × 40 / (mean of the two Keras epochs).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, machine, run_peer, run_visionpath, write_results

HOURS = time.strftime("%Y-%m-%d %H:%M")


def keras_epoch(keras: str) -> dict:
    return run_peer(keras, "keras_cifar10_cnn.py", "--epochs", "1")


def keras_scale(before: dict, after: dict) -> tuple[float, str]:
    """This machine's speed for the yardstick, measured before and after our runs (machines here change speed,
    even mid-session), and the line that reports both."""
    epoch = (before["train_seconds"] + after["train_seconds"]) / 2
    return 40.0 / epoch, (f"- Keras CIFAR-10 CNN epoch here: {before['train_seconds']:.1f} s before and "
                          f"{after['train_seconds']:.1f} s after our runs (reference 40 s): × {40.0 / epoch:.2f}.")


def header(title: str) -> list[str]:
    return [f"# {title}", "", f"- command: `python benchmarks/part3.py {' '.join(sys.argv[1:])}`; data: "
            "../shared/data/cifar10-jpg.zip (JPEG copy)", f"- machine: {machine()}, {HOURS}", ""]


def row(r: dict, scale: float) -> str:
    stages = {int(h.get("stage", 1)) for h in r["history"]}
    return (f"| `{r['command']}` | {r['epochs']} ({'+'.join(str(sum(1 for h in r['history'] if int(h.get('stage', 1)) == s)) for s in sorted(stages))}) | "
            f"{r['train_seconds']:.0f} | {r['train_seconds'] * scale:.0f} | {r['test_accuracy']:.2%} |")


def against_30_minutes(lite0: dict, scale: float) -> str:
    seconds = lite0["train_seconds"] * scale
    met = lite0["test_accuracy"] >= 0.9 and seconds <= 1800
    return f"{lite0['test_accuracy']:.2%} in {seconds:.0f} s scaled → {'met' if met else 'NOT met'}"


TABLE = ["| run | epochs (per stage) | training s here | scaled to reference | test accuracy |", "|---|---|---|---|---|"]


def budget(keras: str, tmp: Path, scratch_epochs: int, lite0_args: list[str]) -> None:
    before = keras_epoch(keras)
    scratch = run_visionpath(tmp, "cifar10", "--model", "resnet9", "--epochs", str(scratch_epochs))
    lite0 = run_visionpath(tmp, "cifar10", "--model", "efficientnet_lite0", "--pretrained", *lite0_args)
    scale, keras_line = keras_scale(before, keras_epoch(keras))
    output = RESULTS / "cifar10_transfer_budget_compare"
    subprocess.run([sys.executable, "-m", "visionpath", "compare", scratch["run"], lite0["run"], "--output",
                    str(output)], check=True, capture_output=True)
    shutil.copy(Path(lite0["run"]) / "curves.png", RESULTS / "cifar10_transfer_budget_lite0_curves.png")
    winner = lite0["test_accuracy"] > scratch["test_accuracy"]
    within = [r["train_seconds"] * scale <= 600 for r in (scratch, lite0)]
    lines = header("CIFAR-10 in a 10-minute budget: pretrained EfficientNet-Lite0 against resnet9 from scratch")
    lines += TABLE + [row(scratch, scale), row(lite0, scale), "", keras_line,
                      f"- both runs within the 600 s budget (scaled): {'yes' if all(within) else 'NO'}.",
                      f"- the pretrained backbone is {'ahead' if winner else 'NOT ahead'}: "
                      f"{lite0['test_accuracy']:.2%} against {scratch['test_accuracy']:.2%}.",
                      f"- the same Lite0 run against the 30-minute target (≥ 90% test): "
                      f"{against_30_minutes(lite0, scale)}.",
                      "- `visionpath compare` output: `cifar10_transfer_budget_compare.md/.csv/.png`; Lite0's curves "
                      "(stage switch marked): `cifar10_transfer_budget_lite0_curves.png`.", "",
                      (output.with_suffix(".md")).read_text()]
    write_results("cifar10_transfer_budget", {"machine": machine(), "date": HOURS, "keras_line": keras_line, "scale": scale,
                                              "scratch": scratch, "lite0": lite0}, lines)


def finetune(keras: str, tmp: Path, lite0_args: list[str]) -> None:
    before = keras_epoch(keras)
    lite0 = run_visionpath(tmp, "cifar10", "--model", "efficientnet_lite0", "--pretrained", *lite0_args)
    scale, keras_line = keras_scale(before, keras_epoch(keras))
    lines = header("CIFAR-10, EfficientNet-Lite0 fine-tuned: the 30-minute figure")
    lines += TABLE + [row(lite0, scale), "", keras_line,
                      f"- target: ≥ 90% test accuracy within 30 minutes (1,800 s) on the reference machine: "
                      f"{against_30_minutes(lite0, scale)}."]
    write_results("cifar10_transfer_finetune", {"machine": machine(), "date": HOURS, "keras_line": keras_line, "scale": scale,
                                                "lite0": lite0}, lines)


def cache(tmp: Path, epochs: int, size: str) -> None:
    common = ["cifar10", "--model", "efficientnet_lite0", "--pretrained", "--fine-tune-epochs", "0",
              "--epochs", str(epochs), "--image-size", size]
    cached = run_visionpath(tmp, *common)
    slow = run_visionpath(tmp, *common, "--no-feature-cache")
    med = lambda r: statistics.median(r["seconds_per_epoch"][1:] or r["seconds_per_epoch"])  # noqa: E731
    lines = header("Feature caching: stage 1 (frozen backbone) with and without the cache")
    lines += ["| stage 1 | total s | first epoch s (includes the cache pass) | later epochs s (median) | test accuracy |",
              "|---|---|---|---|---|",
              f"| cached (`{cached['command']}`) | {cached['train_seconds']:.1f} | {cached['seconds_per_epoch'][0]:.1f} | "
              f"{med(cached):.2f} | {cached['test_accuracy']:.2%} |",
              f"| recomputed (`--no-feature-cache`) | {slow['train_seconds']:.1f} | {slow['seconds_per_epoch'][0]:.1f} | "
              f"{med(slow):.2f} | {slow['test_accuracy']:.2%} |", "",
              f"- stage 1 of {epochs} epochs: **{slow['train_seconds'] / cached['train_seconds']:.1f}× faster** with the "
              f"cache; per epoch after the one cache pass, {med(slow) / med(cached):.0f}×. The cached run also "
              "skips augmentation (features of the plain pictures), which the recomputing run applies."]
    write_results("cifar10_feature_cache", {"machine": machine(), "date": HOURS, "cached": cached, "recomputed": slow},
                  lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="cache,budget,finetune")
    parser.add_argument("--keras", default="/tmp/peers-keras/bin/python")
    parser.add_argument("--scratch-epochs", type=int, default=26, help="resnet9 epochs filling 10 reference minutes")
    parser.add_argument("--budget-args", default="--image-size 64 --epochs 2 --fine-tune-epochs 5 --fine-tune-lr 1e-3 "
                        "--layer-lr-decay 0.7 --unfreeze 5")
    parser.add_argument("--finetune-args", default="--image-size 96 --epochs 2 --fine-tune-epochs 6 --fine-tune-lr 1e-3 "
                        "--layer-lr-decay 0.7 --unfreeze 5")
    parser.add_argument("--cache-epochs", type=int, default=10)  # the recipe's stage 1
    parser.add_argument("--cache-size", default="64")
    args = parser.parse_args()
    chosen = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "cache" in chosen:
            cache(Path(tmp), args.cache_epochs, args.cache_size)
        if "budget" in chosen:
            budget(args.keras, Path(tmp), args.scratch_epochs, args.budget_args.split())
        if "finetune" in chosen:
            finetune(args.keras, Path(tmp), args.finetune_args.split())


if __name__ == "__main__":
    main()
