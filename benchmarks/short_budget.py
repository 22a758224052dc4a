"""A budget too short for fine-tuning at a side the pictures deserve (a slow machine does the same): does the plan
shrink the pictures to fit two fine-tuning epochs, or train the head alone at a larger side, and which scores more?
The photo defaults with a short --budget, then the head alone on frozen features at a larger side (`--image-size S
--fine-tune-epochs 0`) in the same budget.

    python benchmarks/short_budget.py [--only cats_vs_dogs,hymenoptera] [--quick]

  cats_vs_dogs  1,262 training photos of median side 350 px, `data split` 70/15/15 seed 0; --budget 1 and 2
  hymenoptera   245 training photos of median side 370 px; --budget 1

Every run from an empty picture cache, offline, one at a time; the backbone's speeds measured once, by the first run,
and kept for the others (its wall-clock says how long the measuring took, outside the budget).
"""
from __future__ import annotations

import os

from photo_defaults import cats_vs_dogs_folder, hymenoptera_folder, run_defaults
from runner import Bench, main

RESULTS: dict[str, list[dict]] = {}


def compare(bench: Bench, name: str, folder, budget: str, side: str) -> None:
    """The photo defaults with --budget `budget`, and the head alone at `side` px in the same budget."""
    for flags in (["--budget", budget], ["--budget", budget, "--image-size", side, "--fine-tune-epochs", "0"]):
        result = run_defaults(bench, name, folder, *flags)
        RESULTS.setdefault(name, []).append(result)
        print({k: result[k] for k in ("flags", "test_accuracy", "best_val_accuracy", "wall_seconds")}, flush=True)


def write(bench: Bench) -> None:
    lines = ["| folder | flags | side | fine-tuning epochs run | scored | accuracy | wall-clock (measuring) |",
             "|---|---|---|---|---|---|---|"]
    for name, results in RESULTS.items():
        for r in results:
            split, accuracy = (("test", r["test_accuracy"]) if r["test_accuracy"] is not None else
                               ("validation (best epoch)", r["best_val_accuracy"]))
            lines.append(f"| {name} | `{' '.join(r['flags'])}` | {r['settings']['image_size']} | "
                         f"{sum(stage == 2 for stage in r['stages'])} | {split} | **{accuracy:.2%}** | "
                         f"{r['wall_seconds']:.0f} s ({r['measuring_seconds']:.0f} s) |")
    lines += ["", "What each plan said of stage 2:", ""]
    lines += [f"- {name} `{' '.join(r['flags'])}`: `{line}`" for name, results in RESULTS.items() for r in results
              for line in r["chosen"] if line.startswith("stage 2:")]
    bench.write("short_budget", "A budget too short for fine-tuning at a side the pictures deserve", lines,
                {"results": RESULTS}, about="each run from an empty picture cache, offline, one at a time")


def cats_vs_dogs(bench: Bench) -> None:
    folder, _ = cats_vs_dogs_folder(bench)
    compare(bench, "cats_vs_dogs", folder, "1", "224")
    compare(bench, "cats_vs_dogs", folder, "2", "288")
    write(bench)


def hymenoptera(bench: Bench) -> None:
    compare(bench, "hymenoptera", hymenoptera_folder(bench.tmp), "1", "224")
    write(bench)


if __name__ == "__main__":
    os.environ.setdefault("VISIONPATH_OFFLINE", "1")
    main(__doc__, {"cats_vs_dogs": cats_vs_dogs, "hymenoptera": hymenoptera})
