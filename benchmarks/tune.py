"""Benchmark: `visionpath tune` within a fixed time budget, against the recipe, and what pruning saves.

    python benchmarks/tune.py [--only fashion_cnn] [--quick] [--keras PYTHON] [--minutes M]

fashion_cnn: a Fashion-MNIST subset as a folder (`visionpath.sample_folder`: the first 1,000 training pictures of
  each class, 200 for validation, 400 test pictures), with `--model cnn` (its recipe: 6 epochs, batch 256, lr 6e-3,
  standard augmentation; a folder adds early stopping, patience 3). A subset, so that a study of a dozen trials
  fits in minutes on a 2-core machine.
  1. keras-io's mnist_convnet (the peer) for 3 epochs: its seconds per epoch scale the budget, M minutes on the
     reference machine (10.3 s a mnist_convnet epoch), to this machine: budget = M × 60 × (peer s/epoch / 10.3).
  2. `visionpath train FOLDER --model cnn`: the recipe's test accuracy.
  3. `visionpath tune FOLDER --model cnn --timeout <budget>` three times, with --pruner none, median and
     halving (each a fresh study, the default space, the same seed): trials run, complete and pruned, the epochs
     trained against the epochs the same trials would have trained unpruned (the share pruning saved), the best
     validation accuracy and the best trial's test accuracy (measured once), and when the best was found.
Written to benchmarks/results/tune_fashion_cnn.md and .json, with study.html's pictures of the median study.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from runner import RESULTS, SHARED, Bench, main, median

REFERENCE_EPOCH = 10.3  # keras-io mnist_convnet, seconds per epoch on the reference machine
MINUTES = 5.0           # the budget on the reference machine, per study
PER_CLASS = 1000        # training pictures of each class in the subset


def study_facts(folder: Path) -> dict:
    """What a finished study folder says: its trials (from Optuna's storage) and its best.json."""
    import optuna

    saved = json.loads((folder / "tune.json").read_text())
    study = optuna.load_study(study_name=saved["study"], storage=saved["storage"])
    epochs = saved["settings"]["epochs"]
    trials = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    trained = sum(len(t.intermediate_values) for t in trials)
    unpruned = sum(epochs if t.state.name == "PRUNED" else len(t.intermediate_values) for t in trials)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    best = json.loads((folder / "best.json").read_text()) if (folder / "best.json").is_file() else {}
    start = min(t.datetime_start for t in trials)
    found = next((t for t in trials if t.number == best.get("trial")), None)
    return {"trials": len(trials), "complete": len(complete),
            "pruned": sum(t.state.name == "PRUNED" for t in trials), "failed": sum(t.state.name == "FAIL" for t in trials),
            "epochs_trained": trained, "epochs_unpruned": unpruned, "saved_share": 1 - trained / unpruned,
            "best_val": best.get("val_accuracy"), "best_test": best.get("test_accuracy"), "best_trial": best.get("trial"),
            "best_found_s": (found.datetime_complete - start).total_seconds() if found else None,
            "command": best.get("command"), "params": best.get("params")}


def fashion_cnn(bench: Bench) -> None:
    minutes = float(ARGS.minutes) if ARGS.minutes else (1.0 if bench.quick else MINUTES)
    keras = bench.peer(bench.keras, "keras_mnist_convnet.py", "--epochs", "1" if bench.quick else "3")
    peer_epoch = median(keras["seconds_per_epoch"])
    budget = minutes * 60 * peer_epoch / REFERENCE_EPOCH
    print(f"peer: {peer_epoch:.1f} s per mnist_convnet epoch; budget {budget:.0f} s per study", flush=True)
    quick = ["--epochs", "1"] if bench.quick else []
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import visionpath
    fashion = visionpath.load_dataset("fashion-mnist", data_dir=SHARED / "data")
    folder = str(visionpath.sample_folder(fashion, bench.tmp / "fashion", 100 if bench.quick else PER_CLASS))
    recipe = bench.train(bench.tmp / "recipe", folder, "--model", "cnn", *quick, data_dir=False)
    studies = {}
    for pruner in ("none", "median", "halving"):
        project = bench.tmp / f"tune-{pruner}"
        t0 = time.perf_counter()
        bench.visionpath("tune", folder, "--model", "cnn", *quick, "--trials", "1000", "--timeout", f"{budget:.0f}s", "--pruner", pruner,
                         "--project", str(project))
        (study,) = project.iterdir()
        studies[pruner] = {**study_facts(study), "wall_seconds": time.perf_counter() - t0}
        print(pruner, json.dumps(studies[pruner], default=str), flush=True)
        if pruner == "median" and not bench.quick:
            for picture in ("history.png", "importance.png", "parallel.png", "study.html"):
                shutil.copy(study / picture, RESULTS / f"tune_fashion_cnn_{picture}")
    lines = [f"- peer: keras-io mnist_convnet, {peer_epoch:.1f} s per epoch here (reference 10.3 s); budget "
             f"{minutes:g} min on the reference machine = **{budget:.0f} s per study here** (no trial starts after "
             "it; the one running finishes)",
             f"- recipe `{recipe['command']}`: test accuracy **{recipe['test_accuracy']:.2%}** in "
             f"{recipe['train_seconds']:.0f} s of training", "",
             "| pruner | wall s | trials | complete | pruned | failed | epochs trained | epochs unpruned | pruning "
             "saved | best val acc | its test acc | best found after |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for pruner, s in studies.items():
        lines.append(f"| {pruner} | {s['wall_seconds']:.0f} | {s['trials']} | {s['complete']} | {s['pruned']} | "
                     f"{s['failed']} | {s['epochs_trained']} | {s['epochs_unpruned']} | {s['saved_share']:.0%} | "
                     f"{s['best_val']:.2%} | {s['best_test']:.2%} | {s['best_found_s']:.0f} s |")
    none, median_, halving = studies["none"], studies["median"], studies["halving"]
    lines += ["", f"- tuned against the recipe: the best trial's test accuracy is {none['best_test']:.2%} without "
              f"pruning, {median_['best_test']:.2%} with median and {halving['best_test']:.2%} with halving, "
              f"against {recipe['test_accuracy']:.2%} for the recipe (each measured once on the test split).",
              f"- pruning: in the same budget, median ran {median_['trials']} trials and halving {halving['trials']} "
              f"against {none['trials']} unpruned; of the epochs the same trials would have trained, median saved "
              f"{median_['saved_share']:.0%} and halving {halving['saved_share']:.0%}; their best was found after "
              f"{median_['best_found_s']:.0f} s and {halving['best_found_s']:.0f} s."]
    lines += ["", "Best settings found:"] + [f"- {p}: `{s['command']}`" for p, s in studies.items()]
    bench.write("tune_fashion_cnn", "visionpath tune on a Fashion-MNIST subset (cnn), a fixed budget, three pruners",
                lines,
                {"peer_seconds_per_epoch": peer_epoch, "budget_seconds": budget, "reference_minutes": minutes,
                 "recipe": {k: recipe[k] for k in ("command", "test_accuracy", "train_seconds")}, "studies": studies})


if __name__ == "__main__":
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--minutes", help=f"the budget per study on the reference machine (default: {MINUTES:g})")
    ARGS, sys.argv[1:] = extra.parse_known_args()
    main(__doc__, {"fashion_cnn": fashion_cnn})
