"""Benchmark: Part 1, the MNIST dense network, against its peers in the same run.

    .venv/bin/python benchmarks/mnist_mlp.py [--rounds 3] [--keras /tmp/peers-keras/bin/python]

Each round runs, one after the other on the same machine: the guide's Keras recipe, the hand-written PyTorch
loop (tensor slices, no DataLoader: the fastest plain loop) and `visionpath train mnist --model mlp` with its
defaults. The machine is shared and noisy, so we report medians and ratios, and scale visionpath's time to the
reference machine of the issue (where Keras took 12.0 s for its 5 epochs): scaled = ours × 12.0 / keras_now.
Results go to benchmarks/results/mnist_mlp.md (and .json) with the machine and the command.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import machine, run_peer, run_visionpath, write_results

REFERENCE_KERAS_SECONDS = 12.0   # the reference machine: Keras MLP, 5 epochs
TARGET_SECONDS, TARGET_ACCURACY = 10.0, 0.982


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keras", default="/tmp/peers-keras/bin/python", help="python of the Keras environment")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            keras = run_peer(args.keras, "keras_mnist_mlp.py")
            plain = run_peer(sys.executable, "torch_plain.py", "--recipe", "mnist-mlp", "--loader", "slices")
            ours = run_visionpath(Path(tmp), "mnist", "--model", "mlp")
            rounds.append({"keras": keras, "torch_plain_slices": plain, "visionpath": ours})
            print(f"round {i + 1}: keras {keras['train_seconds']:.2f}s {keras['test_accuracy']:.4f} · plain "
                  f"{plain['train_seconds']:.2f}s · visionpath {ours['train_seconds']:.2f}s "
                  f"{ours['test_accuracy']:.4f}", flush=True)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    keras_s = med([r["keras"]["train_seconds"] for r in rounds])
    ours_s = med([r["visionpath"]["train_seconds"] for r in rounds])
    ours_wall = med([r["visionpath"]["wall_seconds"] for r in rounds])
    ours_epoch = med([med(r["visionpath"]["seconds_per_epoch"]) for r in rounds])
    plain_epoch = med([med(r["torch_plain_slices"]["seconds_per_epoch"]) for r in rounds])
    accuracy = med([r["visionpath"]["test_accuracy"] for r in rounds])
    # Scaled per round (each round's own Keras time is its yardstick), then the median.
    scaled = med([r["visionpath"]["train_seconds"] * REFERENCE_KERAS_SECONDS / r["keras"]["train_seconds"]
                  for r in rounds])
    # Per image, since visionpath trains on 54,000 images an epoch (10% held out) and the plain loop on 60,000.
    ours_ips, plain_ips = 54000 / ours_epoch, 60000 / plain_epoch
    summary = {
        "command": "python benchmarks/mnist_mlp.py " + " ".join(sys.argv[1:]), "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"), "rounds": rounds,
        "median": {"keras_seconds": keras_s, "visionpath_seconds": ours_s, "visionpath_wall_seconds": ours_wall,
                   "visionpath_epoch_seconds": ours_epoch, "plain_epoch_seconds": plain_epoch,
                   "visionpath_images_per_second": ours_ips, "plain_images_per_second": plain_ips,
                   "visionpath_test_accuracy": accuracy, "visionpath_seconds_scaled_to_reference": scaled}}
    lines = [
        "# MNIST dense network (Part 1): visionpath against its peers, same run", "",
        f"- command: `{summary['command']}` (visionpath side: `visionpath train mnist --model mlp --data-dir "
        "../shared/data`, all defaults: 6 epochs, batch 128, Adam with a one-cycle schedule peaking at 0.004, precision auto)",
        f"- machine: {summary['machine']}, {summary['date']}; {args.rounds} rounds, medians below", "",
        "| | training seconds (Keras and plain loop: 5 epochs; visionpath: 6) | per epoch | images/s | test accuracy |", "|---|---|---|---|---|",
        f"| Keras (guide's recipe) | {keras_s:.2f} | {keras_s / 5:.2f} | – | "
        f"{med([r['keras']['test_accuracy'] for r in rounds]):.4f} |",
        f"| plain PyTorch loop (slices) | {med([r['torch_plain_slices']['train_seconds'] for r in rounds]):.2f} | "
        f"{plain_epoch:.2f} | {plain_ips:,.0f} | {med([r['torch_plain_slices']['test_accuracy'] for r in rounds]):.4f} |",
        f"| visionpath | {ours_s:.2f} (wall, process start to exit: {ours_wall:.1f}) | {ours_epoch:.2f} | "
        f"{ours_ips:,.0f} | {accuracy:.4f} |", "",
        f"- target: ≥ {TARGET_ACCURACY:.1%} test accuracy in ≤ {TARGET_SECONDS:.0f} s of training on the reference "
        f"machine. Scaled, per round ours × {REFERENCE_KERAS_SECONDS} / Keras's, median: **{scaled:.2f} s**, "
        f"accuracy **{accuracy:.2%}** → {'met' if scaled <= TARGET_SECONDS and accuracy >= TARGET_ACCURACY else 'NOT met'}.",
        f"- visionpath per image vs the plain loop: {ours_ips / plain_ips:.2f}× its throughput "
        "(visionpath's epoch also includes validating 6,000 images and writing two checkpoints; the plain loop's "
        "excludes its evaluation).",
        "- per round: " + "; ".join(f"keras {r['keras']['train_seconds']:.2f}s, visionpath "
                                    f"{r['visionpath']['train_seconds']:.2f}s / {r['visionpath']['test_accuracy']:.4f}"
                                    for r in rounds),
    ]
    write_results("mnist_mlp", summary, lines)


if __name__ == "__main__":
    main()
