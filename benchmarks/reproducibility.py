"""Benchmark: the same run gives the same weights, interrupted and resumed or not, and (with --compare-src) before
and after a change of the code.

    python benchmarks/reproducibility.py [--only resume_identity] [--quick] [--compare-src DIR]

Sections, written to benchmarks/results/<section>.md and .json:
  resume_identity  on real data, `visionpath train mnist --model mlp` and `visionpath train hymenoptera/` (the photo
                   defaults: Lite0, both stages), each run whole, and run again with Ctrl-C (a real SIGINT) pressed in
                   the middle of a training step, then `--resume`d: the last and best weights and the history must be
                   bit-identical. With --compare-src, the same with that checkout, and its weights against this one's.
--quick: fewer epochs.
"""
from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

from runner import SHARED, Bench, main

# Runs the `visionpath` command with Ctrl-C pressed (SIGINT raised in this very process) during the training step
# STEP (from 0): a forward hook counts the training-mode passes through the classifier's last layer (a Linear to
# the classes, once a step in these models; evaluation and feature caching run in eval mode and do not count, nor
# do the linear heads that look for disputed labels after stage 1 has cached its features).
DRIVER = """
import signal, sys, torch, traceback
from visionpath.cli import main
step, classes, seen = int(sys.argv[1]), int(sys.argv[2]), [0]
def press(module, args):
    if isinstance(module, torch.nn.Linear) and module.training and module.out_features == classes:
        if any(frame.filename.endswith("suspects.py") for frame in traceback.extract_stack(limit=8)):
            return  # the heads that look for disputed labels are not the run's training steps
        if seen[0] == step:
            signal.raise_signal(signal.SIGINT)
        seen[0] += 1
torch.nn.modules.module.register_module_forward_pre_hook(press)
sys.exit(main(sys.argv[3:]))
"""


def weights_hash(path: Path) -> str:
    from safetensors import safe_open
    digest = hashlib.sha256()
    with safe_open(str(path), framework="pt") as f:
        for key in sorted(k for k in f.keys() if k.startswith("model.")):
            digest.update(key.encode() + f.get_tensor(key).numpy().tobytes())
    return digest.hexdigest()[:16]


def history_without_times(run: Path) -> list[dict]:
    from runner import read_csv
    return [{k: v for k, v in row.items() if "time" not in k} for row in read_csv(run / "results.csv")]


def whole_and_resumed(bench: Bench, code: str, src: str | None, name: str, args: list[str], step: int,
                      classes: int) -> dict:
    """One run straight through; one interrupted at `step` and resumed: their weights and histories."""
    import subprocess
    env = bench.env(src, VISIONPATH_HOME=str(bench.tmp / f"home-{code}-{name}"), VISIONPATH_OFFLINE="1")
    project = bench.tmp / f"runs-{code}"
    whole_wall, _ = bench.visionpath("train", *args, "--project", str(project), "--name", f"{name}-whole", env=env)
    cut = subprocess.run([sys.executable, "-c", DRIVER, str(step), str(classes), "train", *args, "--project",
                          str(project), "--name", f"{name}-cut"], capture_output=True, text=True, env=env)
    whole, cut_dir = project / f"{name}-whole-1", project / f"{name}-cut-1"
    stopped = next((line for line in cut.stdout.splitlines() if "interrupted" in line), "").strip()
    stopped = stopped.replace(str(cut_dir), cut_dir.name).split(". Continue with")[0]
    cut_epochs = len(history_without_times(cut_dir))
    bench.visionpath("train", "--resume", str(cut_dir), env=env)
    same = {which: weights_hash(whole / f"{which}.safetensors") == weights_hash(cut_dir / f"{which}.safetensors")
            for which in ("last", "best")}
    shown = " ".join(Path(a).name + "/" if a.startswith(str(bench.tmp)) else a.replace(str(SHARED), "../shared")
                     for a in args)
    return {"code": code, "name": name, "command": "visionpath train " + shown, "exit_code": cut.returncode,
            "stopped": stopped, "epochs_before_resume": cut_epochs, "epochs": len(history_without_times(whole)),
            "same_last": same["last"], "same_best": same["best"], "whole_seconds": whole_wall,
            "same_history": history_without_times(whole) == history_without_times(cut_dir),
            "last_hash": weights_hash(whole / "last.safetensors"), "best_hash": weights_hash(whole / "best.safetensors")}


def resume_identity(bench: Bench) -> None:
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(bench.tmp / "hymenoptera")
    photos = next((bench.tmp / "hymenoptera").rglob("train")).parent
    if bench.quick:
        cases = [("mnist", ["mnist", "--model", "mlp", "--epochs", "2", "--data-dir", str(SHARED / "data")], 422 + 50,
                  10),
                 ("hymenoptera", [str(photos), "--epochs", "2", "--fine-tune-epochs", "1"], 2 * 16 + 3, 2)]
    else:  # mnist: Ctrl-C inside epoch 3 of 6 (422 steps each); hymenoptera: inside stage 1, its 11th epoch. Its
        # fine-tuning epochs are fixed: filling the budget plans them by the epochs' measured times, which a run
        # resumed at another moment measures anew (the decisions already made are repeated from results.csv)
        cases = [("mnist", ["mnist", "--model", "mlp", "--data-dir", str(SHARED / "data")], 2 * 422 + 100, 10),
                 ("hymenoptera", [str(photos), "--fine-tune-epochs", "4"], 10 * 16 + 5, 2)]
    codes = {"visionpath": None, **({"before": bench.compare_src} if bench.compare_src else {})}
    rows = [whole_and_resumed(bench, code, src, name, args, step, classes)
            for name, args, step, classes in cases for code, src in codes.items()]
    lines = ["| code | run | interrupted (exit code, what it said) | epochs saved, then resumed to | last weights "
             "identical | best weights identical | history identical | weights (sha256 of last, best) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['code']} | `{r['command']}` | {r['exit_code']}: `{r['stopped']}` | {r['epochs_before_resume']} → "
              f"{r['epochs']} | {'**yes**' if r['same_last'] else 'NO'} | {'**yes**' if r['same_best'] else 'NO'} | "
              f"{'yes' if r['same_history'] else 'NO'} | {r['last_hash']}, {r['best_hash']} |" for r in rows]
    ok = all(r["same_last"] and r["same_best"] and r["same_history"] for r in rows)
    lines += ["", f"- a run interrupted with Ctrl-C and resumed ends with exactly the weights of the run left alone: "
                  f"**{'yes, in every case' if ok else 'NO'}**."]
    if bench.compare_src:
        for name, *_ in cases:
            ours, before = (next(r for r in rows if r["name"] == name and r["code"] == c) for c in codes)
            same = (ours["last_hash"], ours["best_hash"]) == (before["last_hash"], before["best_hash"])
            lines.append(f"- {name}: this checkout's weights against `{bench.compare_src}`'s, same command: "
                         f"**{'bit-identical' if same else 'DIFFERENT'}**.")
    bench.write("resume_identity", "Resume gives the run it interrupted: real data, Ctrl-C in mid-step", lines,
                {"rows": rows}, about="offline; each code from an empty picture cache; Ctrl-C is a real SIGINT raised "
                                      "inside a training step (benchmarks/reproducibility.py, DRIVER)")


if __name__ == "__main__":
    main(__doc__, {"resume_identity": resume_identity})
