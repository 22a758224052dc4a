"""When does a longer budget pay? A photo run that fills its budget while validation accuracy still rises is told
"a longer budget at the same resolution (--budget 2B --image-size S)". This runs the CIFAR-10 subset of
photo_defaults.py (500 pictures a class, 500 of them held out for validation, the zip's 10,000 test pictures) with
no options at two seeds and on a 3-minute budget, then each again with twice its budget at its own resolution,
whether its diagnosis told that or not: where the remedy is told it must pay, and where it did not pay it must not
be told.
    python benchmarks/longer_budget.py [--quick]
The diagnosis tells it when the last epoch rose by more than two standard errors of the validation pictures
(report.surely_rising); the table shows that rise, that bound and what this code's rule tells, beside what twice the
budget did, and each run's diagnosis as it printed it.
"""
from __future__ import annotations

from photo_defaults import cifar10_subset_folder, remedy_commands, run_defaults
from runner import Bench, main
from visionpath.report import surely_rising
from visionpath.run_files import standard_error

BASES = (["--seed", "0"], ["--seed", "1"], ["--budget", "3"])  # the default budget is 5 minutes
RUNS: list[dict] = []


def twice_the_budget(v: dict, flags: list[str]) -> list[str]:
    """The base command with twice its budget at the side it chose: the remedy as the diagnosis words it."""
    budget = v["settings"]["budget"]
    kept = [f for i, f in enumerate(flags) if f != "--budget" and (i == 0 or flags[i - 1] != "--budget")]
    return [*kept, "--budget", f"{2 * budget:g}", "--image-size", str(v["settings"]["image_size"])]


def cifar10_subset(bench: Bench) -> None:
    folder = cifar10_subset_folder(bench.tmp, per_class=50 if bench.quick else 500)
    for flags in BASES[:1] if bench.quick else BASES:  # quick: a 1-minute budget and twice it
        base = run_defaults(bench, "cifar10_subset", folder, *flags)
        told = [f for f in remedy_commands(base["diagnosis"]) if "--budget" in f]
        longer = run_defaults(bench, "cifar10_subset", folder, *twice_the_budget(base, flags))
        RUNS.append({"flags": flags, "base": base, "told": told, "longer": longer})
        write(bench)


def write(bench: Bench) -> None:
    lines = ["| command | side | test accuracy | its last epoch: validation rise | two standard errors | "
             "\"a longer budget\" told by this code | twice the budget at that side | difference |",
             "|---|---|---|---|---|---|---|---|"]
    for r in RUNS:
        base, longer = r["base"], r["longer"]
        last, before = base["val_accuracy"][-1], base["val_accuracy"][-2]
        rows = [{"val_accuracy": a, "val_pictures": base["val_pictures"], "stage": s}
                for a, s in zip(base["val_accuracy"], base["stages"])]
        told = surely_rising([x for x in rows if x["stage"] == 2], [x for x in rows if x["stage"] == 1])
        lines.append(f"| `visionpath train FOLDER {' '.join(r['flags'])}` | {base['settings']['image_size']} | "
                     f"{base['test_accuracy']:.2%} | {(last - before) * 100:+.1f} points | "
                     f"{2 * standard_error(last, base['val_pictures']) * 100:.1f} points ({base['val_pictures']} "
                     f"pictures) | {'yes' if told else 'no'} | `{' '.join(longer['flags'])}`: "
                     f"{longer['test_accuracy']:.2%} | "
                     f"{(longer['test_accuracy'] - base['test_accuracy']) * 100:+.2f} points |")
    lines += ["", "\"Told by this code\": report.surely_rising of the code that wrote this file, applied to each run's "
              "validation accuracies (the runs' own diagnoses, below, are as the code that ran printed them).", "",
              "Each run's validation accuracy by epoch, and its diagnosis:"]
    for r in RUNS:
        for v in (r["base"], r["longer"]):
            lines += ["", f"- `{' '.join(v['flags'])}`: {', '.join(f'{a:.1%}' for a in v['val_accuracy'])}; "
                          f"{v['stages'].count(2)} fine-tuning epochs, {v['wall_seconds']:.0f} s, {v['ended']}",
                      f"  `{v['diagnosis']}`"]
    bench.write("longer_budget", "A longer budget: told where it pays", lines, {"runs": RUNS},
                about="each run from an empty picture cache, offline, as photo_defaults.py runs them")


if __name__ == "__main__":
    main(__doc__, {"cifar10_subset": cifar10_subset})
