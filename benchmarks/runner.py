"""What every benchmark here shares: one command line, visionpath and the peer recipes run in fresh processes, the
machine named, and one results writer (machine, date, command, medians) into benchmarks/results/.

    python benchmarks/<what it measures>.py [--only SECTION,...] [--quick] [--keras PYTHON] [--compare-src DIR]

--only        the sections to run (default: all of the file's)
--quick       every section small (an epoch, a round, a few hundred pictures), to check it works end to end; its
              results go to benchmarks/results/quick/ (not committed), never over the measured ones
--keras       the python of the Keras environment for the peer recipes (see ../shared/peers/README.md)
--compare-src the src/ folder of another checkout: sections that support it run it too, in the same run, as "before"
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "benchmarks" / "results"
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # what decides CPU speed and bf16 here


def median(values) -> float:
    return statistics.median(values)


def machine() -> str:
    """Host, CPU model, cores and the CPU features that matter here (with native bf16 or not)."""
    from visionpath.devices import cpu_description
    model, flags = cpu_description()
    features = [f for f in CPU_FEATURES if f in flags]
    return (f"{platform.node()} · {model} · {os.cpu_count()} cores · "
            f"{', '.join(features) or 'no AVX2'}{'' if {'avx512_bf16', 'amx_bf16'} & flags else ' (no native bf16)'}")


def precision() -> str:
    """What `--precision auto` trains in here (each run's config.json says what it used)."""
    import torch
    from visionpath.devices import PRECISION_HOOK, decide_precision
    decision = decide_precision(torch.device("cpu"))
    forced = f" (forced by ${PRECISION_HOOK})" if os.environ.get(PRECISION_HOOK) else ""
    return f"--precision auto trains in {decision.precision} on this CPU{forced}: {decision.why}"


def last_json_line(output: str) -> dict:
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


@dataclass
class Bench:
    """What a section gets: the options, a scratch folder, and ways to run things and write what they measured."""
    quick: bool
    keras: str
    compare_src: str | None
    tmp: Path
    command: str

    def env(self, src: str | None = None, **extra: str) -> dict:
        """The environment of a child process; `src`: run another checkout's visionpath instead of this one's."""
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
        if src:
            env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env

    def peer(self, python: str, script: str, *args: str, env: dict | None = None) -> dict:
        """One of ../shared/peers' recipes (or a script of ours); its last output line is a JSON summary."""
        path = script if Path(script).is_absolute() else str(SHARED / "peers" / script)
        done = subprocess.run([python, path, *args], capture_output=True, text=True, cwd=SHARED / "peers",
                              env=env or self.env())
        if done.returncode:
            raise RuntimeError(f"{script} failed:\n{done.stderr[-2000:]}")
        return last_json_line(done.stdout)

    def visionpath(self, *args: str, env: dict | None = None, ok=(0,)) -> tuple[float, str]:
        """`visionpath ARGS` in a fresh process: (wall seconds, stdout)."""
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "visionpath", *args], capture_output=True, text=True,
                              env=env or self.env())
        wall = time.perf_counter() - t0
        if done.returncode not in ok:
            raise RuntimeError(f"visionpath {' '.join(args)} failed:\n{done.stderr[-2000:]}\n{done.stdout[-3000:]}")
        return wall, done.stdout

    def train(self, project: Path, *args: str, src: str | None = None, data_dir: bool = True) -> dict:
        """`visionpath train ARGS` in a fresh process (with `src`, another checkout's); what its run folder says."""
        project.mkdir(parents=True, exist_ok=True)
        before = set(project.iterdir())
        extra = ["--data-dir", str(SHARED / "data")] if data_dir else []
        wall, out = self.visionpath("train", *args, *extra, "--project", str(project), env=self.env(src))
        (run,) = set(project.iterdir()) - before
        history = read_csv(run / "results.csv")
        metrics = run / "test_metrics.json"
        return {"command": "visionpath train " + " ".join(args), "run": str(run), "wall_seconds": wall,
                "train_seconds": float(history[-1]["time"]), "epochs": len(history),
                "seconds_per_epoch": [float(r["epoch_time"]) for r in history],
                "test_accuracy": json.loads(metrics.read_text())["accuracy"] if metrics.is_file() else None,
                "history": [{k: float(v) for k, v in r.items() if v != ""} for r in history],
                "diagnosis": next((line for line in out.splitlines() if line.startswith("diagnosis:")), "")}

    def write(self, name: str, title: str, lines: list[str], summary: dict, about: str = "") -> None:
        """<name>.md (the title, the command, the machine and date, then `lines`) and <name>.json (`summary` with
        the same facts); with --quick, into results/quick/."""
        folder = RESULTS / "quick" if self.quick else RESULTS
        folder.mkdir(parents=True, exist_ok=True)
        date = time.strftime("%Y-%m-%d %H:%M")
        header = [f"# {title}", "", f"- command: `{self.command}`{'; ' + about if about else ''}",
                  f"- machine: {machine()}, {date}", f"- precision: {precision()}", ""]
        (folder / f"{name}.json").write_text(json.dumps({"command": self.command, "machine": machine(),
                                                         "precision": precision(), "date": date,
                                                         **summary}, indent=2, default=str))
        (folder / f"{name}.md").write_text("\n".join(header + lines) + "\n")
        print("\n".join(header + lines), flush=True)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(doc: str, sections: dict[str, Callable[[Bench], None]]) -> None:
    """Parse the shared options and run the chosen sections, each in the same scratch folder."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(sections), help=f"sections: {', '.join(sections)}")
    parser.add_argument("--quick", action="store_true", help="every section small: does it work end to end?")
    parser.add_argument("--keras", default="/tmp/peers-keras/bin/python", help="python of the Keras environment")
    parser.add_argument("--compare-src", help="src/ of another checkout, run beside this one as 'before'")
    args = parser.parse_args()
    unknown = set(args.only.split(",")) - set(sections)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(sections)}")
    command = f"python benchmarks/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}".strip()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.quick, args.keras, args.compare_src, Path(tmp), command)
        for name in args.only.split(","):
            print(f"== {name}", flush=True)
            sections[name](bench)
