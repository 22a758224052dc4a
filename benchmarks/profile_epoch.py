"""Where one epoch's time goes: torch.profiler around one epoch of `visionpath train`, grouped by kind of work.

    .venv/bin/python benchmarks/profile_epoch.py [--model resnet9] [--data cifar10]

Writes benchmarks/results/profile_<data>_<model>.md: the share of CPU time per group of operators (self time,
so nothing is counted twice) and the 15 most expensive operators.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict

from torch.profiler import ProfilerActivity, profile

from common import SHARED, machine, write_results
import visionpath

# Operator name fragments -> the part of the loop they belong to (first match wins).
GROUPS = [
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet9")
    parser.add_argument("--data", default="cifar10")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        visionpath.train(args.data, model=args.model, epochs=1, data_dir=SHARED / "data", project=tmp)
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = defaultdict(float)
    for e in events:
        group = next((g for g, keys in GROUPS if any(k in e.key.lower() for k in keys)), "everything else")
        groups[group] += e.self_cpu_time_total
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:15]
    lines = [f"# Where one epoch goes: {args.model} on {args.data}", "",
             f"- command: `python benchmarks/profile_epoch.py --model {args.model} --data {args.data}` "
             f"(one epoch of `visionpath train {args.data} --model {args.model}`, its defaults, under torch.profiler)",
             f"- machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M')}; wall time incl. data loading and "
             f"profiler overhead {wall:.1f} s; operator self time {total / 1e6:.1f} s", "",
             "| part of the work | share of operator time |", "|---|---|"]
    lines += [f"| {g} | {t / total:.1%} |" for g, t in sorted(groups.items(), key=lambda kv: -kv[1])]
    lines += ["", "| operator | self CPU s | calls |", "|---|---|---|"]
    lines += [f"| `{e.key}` | {e.self_cpu_time_total / 1e6:.2f} | {e.count} |" for e in top]
    write_results(f"profile_{args.data}_{args.model}", {"groups": {g: t / 1e6 for g, t in groups.items()},
                                                        "wall_seconds": wall}, lines)


if __name__ == "__main__":
    main()
