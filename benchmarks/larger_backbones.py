"""Where does a larger backbone win within the budget? The photo defaults (`visionpath train FOLDER --budget B`, no
other option) on two folders, once as the planner chooses, and once with each Lite backbone put in Lite0's place
(the same plan, rules and budget; the child process sets `visionpath.defaults.PHOTO_MODEL`).

    python benchmarks/larger_backbones.py [--only hymenoptera,cifar10_subset_90,cifar10_subset_90_default_budget]
                                          [--quick]

  hymenoptera        245 training photos, frozen Lite0 features nearly fit (a head 97% right), the default budget
  cifar10_subset_90  90 training pictures a class of CIFAR-10, frozen features 23 points short, --budget 15; the
                     larger backbones at 260 px, and Lite0 at 260 px too (is it the backbone or the side?)
  cifar10_subset_90_default_budget
                     the same folder at the default budget: the planner, and each backbone in Lite0's place at the
                     side its plan takes (results in larger_backbones_default_budget.md: the file of the two
                     sections above stays)

Every run from an empty picture cache and visionpath home, offline, one at a time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from photo_defaults import cifar10_subset_folder, hymenoptera_folder
from runner import Bench, main, read_csv
from visionpath.run_files import kept_epoch, read_history

RESULTS: dict[str, list[dict]] = {}
REPLACE = ("import sys, visionpath.defaults as d; d.PHOTO_MODEL = sys.argv[1] or d.PHOTO_MODEL; "
           "from visionpath.cli import main; sys.exit(main(sys.argv[2:]))")


def run(bench: Bench, name: str, folder: Path, backbone: str, *flags: str) -> dict:
    """`visionpath train FOLDER FLAGS` with `backbone` in Lite0's place ("" for the planner's own choice)."""
    label = f"{name}-{backbone or 'planner'}-{len(RESULTS.get(name, []))}"
    home, project = bench.tmp / f"home-{label}", bench.tmp / f"runs-{label}"
    env = bench.env(VISIONPATH_HOME=str(home), VISIONPATH_OFFLINE="1")
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", REPLACE, backbone, "train", str(folder), "--project", str(project),
                           *(["--budget", "1"] if bench.quick else []), *flags], capture_output=True, text=True,
                          env=env, cwd=bench.tmp)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"{label} failed:\n{done.stderr[-2000:]}")
    (run_dir,) = project.iterdir()
    history = read_csv(run_dir / "results.csv")
    best = kept_epoch(read_history(run_dir))  # the epoch of best.safetensors
    settings = json.loads((run_dir / "config.json").read_text())["settings"]
    metrics = run_dir / "test_metrics.json"
    result = {"backbone": settings["model"], "replaced": bool(backbone), "flags": list(flags), "wall_seconds": wall,
              "side": settings["image_size"], "fine_tune_epochs_run": sum(r["stage"] == "2" for r in history),
              "best_val_accuracy": float(best["val_accuracy"]),
              "test_accuracy": json.loads(metrics.read_text())["accuracy"] if metrics.is_file() else None,
              "model_line": next((line for line in done.stdout.splitlines() if line.startswith("no --model")), "")}
    RESULTS.setdefault(name, []).append(result)
    print(json.dumps(result), flush=True)
    return result


def write(bench: Bench, file: str = "larger_backbones") -> None:
    lines = ["| folder | backbone | how | flags | side | fine-tuning epochs | best validation | test | wall |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, results in RESULTS.items():
        for r in results:
            test = f"{r['test_accuracy']:.2%}" if r["test_accuracy"] is not None else "—"
            lines.append(f"| {name} | {r['backbone']} | {'in Lite0’s place' if r['replaced'] else 'the planner'} | "
                         f"`{' '.join(r['flags'])}` | {r['side']} | {r['fine_tune_epochs_run']} | "
                         f"{r['best_val_accuracy']:.2%} | {test} | {r['wall_seconds']:.0f} s |")
    lines += ["", "What the planner said of its backbone:", ""]
    lines += [f"- {name}: `{r['model_line']}`" for name, results in RESULTS.items() for r in results
              if not r["replaced"]]
    bench.write(file, "A larger backbone where the budget buys it", lines, {"results": RESULTS},
                about="each run from an empty picture cache and home, offline, one at a time")


def hymenoptera(bench: Bench) -> None:
    folder = hymenoptera_folder(bench.tmp)
    for backbone in ("", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        run(bench, "hymenoptera", folder, backbone)
    write(bench)


def cifar10_subset_90(bench: Bench) -> None:
    folder = cifar10_subset_folder(bench.tmp, per_class=30 if bench.quick else 100, folder_name="cifar10_subset_90")
    budget = ["--budget", "15"] if not bench.quick else []
    run(bench, "cifar10_subset_90", folder, "", *budget)
    run(bench, "cifar10_subset_90", folder, "efficientnet_lite0", *budget)
    for backbone in ("efficientnet_lite0", "efficientnet_lite2"):
        run(bench, "cifar10_subset_90", folder, backbone, *budget, "--image-size", "260")
    write(bench)


def cifar10_subset_90_default_budget(bench: Bench) -> None:
    folder = cifar10_subset_folder(bench.tmp, per_class=30 if bench.quick else 100,
                                   folder_name="cifar10_subset_90_default_budget")
    for backbone in ("", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        run(bench, "cifar10_subset_90", folder, backbone)
    write(bench, "larger_backbones_default_budget")


if __name__ == "__main__":
    os.environ.setdefault("VISIONPATH_OFFLINE", "1")
    main(__doc__, {"hymenoptera": hymenoptera, "cifar10_subset_90": cifar10_subset_90,
                   "cifar10_subset_90_default_budget": cifar10_subset_90_default_budget})
