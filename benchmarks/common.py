"""What every benchmark here shares: running a peer recipe, running visionpath, and naming the machine."""
from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "benchmarks" / "results"


def last_json_line(output: str) -> dict:
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def run_peer(python: str, script: str, *args: str) -> dict:
    """Run one of ../shared/peers' recipes; its last output line is a JSON summary."""
    done = subprocess.run([python, str(SHARED / "peers" / script), *args], capture_output=True, text=True,
                          cwd=SHARED / "peers", env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-2000:]}")
    return last_json_line(done.stdout)


def run_visionpath(project: Path, *args: str) -> dict:
    """`visionpath train ARGS` in a fresh process; what its run folder says about time and accuracy."""
    project.mkdir(parents=True, exist_ok=True)
    before = set(project.iterdir())
    command = [sys.executable, "-m", "visionpath", "train", *args, "--data-dir", str(SHARED / "data"),
               "--project", str(project)]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"visionpath {' '.join(args)} failed:\n{done.stderr[-2000:]}\n{done.stdout[-2000:]}")
    (run,) = set(project.iterdir()) - before
    with open(run / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    metrics = json.loads((run / "test_metrics.json").read_text())
    return {"command": "visionpath train " + " ".join(args), "run": str(run), "train_seconds": float(rows[-1]["time"]),
            "seconds_per_epoch": [float(r["epoch_time"]) for r in rows], "test_accuracy": metrics["accuracy"],
            "wall_seconds": wall, "epochs": len(rows),
            "history": [{k: float(v) for k, v in r.items()} for r in rows],
            "diagnosis": next((line for line in done.stdout.splitlines() if line.startswith("diagnosis:")), "")}


def machine() -> str:
    return f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores"


def write_results(name: str, summary: dict, lines: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2))
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
