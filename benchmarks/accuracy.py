"""Benchmark: what a setting does to accuracy, measured with and without it on the same data.

    python benchmarks/accuracy.py [--only SECTIONS] [--quick]

Sections, each written to benchmarks/results/<section>.md and .json:
  cifar10_cnn_overfitting  `cnn --augment none --epochs 30` against `cnn --augment standard --dropout 0.1
                           --weight-decay 5e-4`: the train/validation gap, the diagnosis and the curves.
  balance_hymenoptera      --balance none|weights|sampler on an unbalanced copy of hymenoptera (train/bees cut to 30
                           photos, a 4:1 ratio; val/ untouched): best balanced validation accuracy and macro-F1.
--quick: 2 epochs instead of 30; one stage-1 epoch and one of fine-tuning.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from runner import RESULTS, SHARED, Bench, main, read_csv
from time_to_accuracy import HISTORY_HEADER, history_row


def cifar10_cnn_overfitting(bench: Bench) -> None:
    epochs = "2" if bench.quick else "30"
    bare = bench.train(bench.tmp, "cifar10", "--model", "cnn", "--augment", "none", "--epochs", epochs)
    fixed = bench.train(bench.tmp, "cifar10", "--model", "cnn", "--augment", "standard", "--dropout", "0.1",
                        "--weight-decay", "5e-4", "--epochs", epochs)
    folder = RESULTS / "quick" if bench.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    for name, r in (("none", bare), ("standard", fixed)):
        shutil.copy(Path(r["run"]) / "curves.png", folder / f"cifar10_cnn_overfitting_{name}.png")
    gap = lambda r: r["history"][-1]["train_accuracy"] - r["history"][-1]["val_accuracy"]  # noqa: E731
    lines = HISTORY_HEADER + [history_row(f"`{bare['command']}`", bare), history_row(f"`{fixed['command']}`", fixed),
                              "", f"- the train/validation gap at the last epoch goes from {gap(bare) * 100:.1f} to "
                              f"{gap(fixed) * 100:.1f} points ({(1 - gap(fixed) / gap(bare)):.0%} of it closed); "
                              "curves: `cifar10_cnn_overfitting_none.png`, `cifar10_cnn_overfitting_standard.png`.",
                              f"- diagnosis, no augmentation: {bare['diagnosis'].removeprefix('diagnosis: ')}",
                              f"- diagnosis, standard + dropout + weight decay: "
                              f"{fixed['diagnosis'].removeprefix('diagnosis: ')}"]
    bench.write("cifar10_cnn_overfitting", "CIFAR-10, cnn: overfitting without augmentation, and what fixes it", lines,
                {"none": bare, "standard": fixed})


def balance_hymenoptera(bench: Bench) -> None:
    zipfile.ZipFile(SHARED / "data" / "hymenoptera.zip").extractall(bench.tmp / "unbalanced-src")
    root = bench.tmp / "unbalanced"
    shutil.copytree(next((bench.tmp / "unbalanced-src").rglob("train")).parent, root)
    for extra in sorted((root / "train" / "bees").iterdir())[30:]:
        extra.unlink()
    env = bench.env(VISIONPATH_HOME=str(bench.tmp / "home-balance"), VISIONPATH_OFFLINE="1")
    quick = ["--epochs", "1", "--fine-tune-epochs", "1"] if bench.quick else []
    rows = []
    for mode in ("none", "weights", "sampler"):
        wall, _ = bench.visionpath("train", str(root), "--balance", mode, *quick, "--project", str(bench.tmp / "runs"),
                                   "--name", f"balance-{mode}", env=env)
        history = read_csv(bench.tmp / "runs" / f"balance-{mode}-1" / "results.csv")
        best = max(history, key=lambda r: (float(r["val_balanced_accuracy"]), float(r["val_accuracy"])))
        rows.append({"balance": mode, "wall_seconds": wall, "best_epoch": int(best["epoch"]),
                     "val_accuracy": float(best["val_accuracy"]),
                     "val_balanced_accuracy": float(best["val_balanced_accuracy"]),
                     "val_macro_f1": float(best["val_macro_f1"])})
    lines = ["| --balance | best balanced val accuracy | val accuracy | val macro-F1 | wall-clock |", "|---|---|---|---|---|"]
    lines += [f"| {r['balance']} | **{r['val_balanced_accuracy']:.2%}** | {r['val_accuracy']:.2%} | "
              f"{r['val_macro_f1']:.3f} | {r['wall_seconds']:.0f} s |" for r in rows]
    bench.write("balance_hymenoptera", "`--balance` on an unbalanced folder: hymenoptera with train/bees cut to 30 "
                "photos (124 ants : 30 bees)", lines, {"rows": rows},
                about="validation untouched (70 ants, 83 bees); otherwise no options")


if __name__ == "__main__":
    main(__doc__, {"cifar10_cnn_overfitting": cifar10_cnn_overfitting, "balance_hymenoptera": balance_hymenoptera})
