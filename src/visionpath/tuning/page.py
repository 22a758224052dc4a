"""study.html: the best trial and its command line, the table of trials, and Optuna's plots."""
from __future__ import annotations

import html
import json
import time
import warnings
from pathlib import Path

from ..console import say
from ..files import atomic_write, save_figure
from ..html_page import STYLE, png_tag, table_html
from ..i18n import language, tr
from .space import Dimension
from .storage import hidden_password, optuna_module
from .study import Study, best_command, best_trial


def shown(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def trial_rows(shared, space: dict[str, Dimension]) -> list[dict]:
    """One row a trial: number, state, settings, best validation accuracy, epochs, seconds, the machine it ran on
    (when the study's trials ran on several), and why it failed."""
    rows = []
    trials = shared.get_trials(deepcopy=False)
    hosts = {t.user_attrs.get("host") for t in trials if t.user_attrs.get("host")}
    for t in trials:
        values = list(t.intermediate_values.values())
        settings = t.user_attrs.get("settings", t.params)
        rows.append({tr("trial"): t.number, tr("state"): state_word(t.state.name),
                     **{k: shown(settings.get(k, "")) for k in space},
                     tr("validation accuracy"): f"{max(values):.2%}" if values else "",
                     tr("epochs"): t.user_attrs.get("epochs", ""),  # a pruned trial's: where it stopped
                     tr("seconds"): f"{t.user_attrs['seconds']:.0f}" if "seconds" in t.user_attrs else "",
                     **({tr("host"): t.user_attrs.get("host", "")} if len(hosts) > 1 else {}),
                     tr("note"): t.user_attrs.get("error", "") or (tr("its machine stopped answering")
                                                                  if t.state.name == "FAIL" else "")})
    return rows


def state_word(state: str) -> str:
    """An Optuna trial state in the learner's words."""
    return {"COMPLETE": tr("complete"), "PRUNED": tr("pruned"), "FAIL": tr("failed"), "RUNNING": tr("running"),
            "WAITING": tr("waiting")}.get(state, state.lower())


def study_plots(study: Study, shared, complete: int) -> list[tuple[str, Path]]:
    """Optuna's own plots of the study as PNGs in its folder: the optimisation history, each setting's importance
    and the parallel coordinates (the last two once two trials are complete; `complete`: how many are)."""
    import matplotlib.pyplot as plt
    optuna = optuna_module()
    plots = optuna.visualization.matplotlib
    score = tr("validation accuracy")
    chosen = [(tr("Optimisation history"), "history.png",
               lambda s: plots.plot_optimization_history(s, target_name=score))] if complete else []
    if complete >= 2:  # importances without scikit-learn: PED-ANOVA, Optuna's own
        chosen += [(tr("Importance of each setting"), "importance.png", lambda s: plots.plot_param_importances(
                       s, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), target_name=score)),
                   (tr("Parallel coordinates"), "parallel.png",
                    lambda s: plots.plot_parallel_coordinate(s, target_name=score))]
    drawn = []
    for title, name, plot in chosen:
        # Optuna's plots switch matplotlib to its ggplot style for the whole process: kept inside this block
        with warnings.catch_warnings(), plt.rc_context():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental, every call
            axes = plot(shared)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            figure.set_size_inches(9, 4.5)
            figure.tight_layout()  # Optuna's long setting names otherwise fall off the edges
            save_figure(figure, study.path / name, dpi=100)
            plt.close(figure)
        drawn.append((title, study.path / name))
    return drawn


def write_study_report(study: Study, outcome: dict | None = None) -> Path:
    """study.html in the study folder: the best trial and its command line, the table of trials, and the plots."""
    shared = study.optuna_study()
    best = best_trial(shared)
    rows = trial_rows(shared, study.space)
    title = html.escape(study.path.name)
    out = [f"<!doctype html><html lang='{language()}'><head><meta charset='utf-8'><title>{title}</title>"
           f"<style>{STYLE}</style></head>"
           f"<body><h1>{title}</h1>",
           "<p class='muted'>" + html.escape(tr("{model} on {data} · {count} trials · pruner {pruner} · {when}",
                                                model=study.model, data=study.settings["data"],
                                                count=len(rows), pruner=study.pruner,
                                                when=time.strftime("%Y-%m-%d %H:%M"))) + "</p>"]
    if best is not None:
        outcome = outcome or (json.loads((study.path / "best.json").read_text())
                              if (study.path / "best.json").is_file() else None)
        test = outcome.get("test_accuracy") if outcome and outcome["trial"] == best.number else None
        out.append("<p style='font-size:1.2em'><b>" + html.escape(tr(
            "Best: trial {number}, validation accuracy {accuracy:.2%}", number=best.number, accuracy=best.value))
            + "</b>" + (html.escape(tr(" · test accuracy {accuracy:.2%} (measured once)", accuracy=test))
                        if test is not None else "") + "</p>")
        out.append("<p class='note'>" + html.escape(tr(
            "The best validation score of many trials is optimistic: it won on the same pictures it is measured on. "
            "The test split, which no trial saw, gives the honest score.")) + "</p>")
        out.append(f"<p><code>{html.escape(best_command(study, best))}</code></p>")
        run = best.user_attrs.get("run", "")
        out.append("<p>" + html.escape(tr("Its run folder: {run}, on {host}; score it there, once: visionpath "
                                          "evaluate {run}", run=run, host=best.user_attrs.get("host", "?")))
                   + "</p>")
    out.append("<h2>" + html.escape(tr("Trials")) + "</h2>")
    if rows and not any(r[tr("note")] for r in rows):  # no trial failed: no column of blanks
        rows = [{k: v for k, v in r.items() if k != tr("note")} for r in rows]
    out.append(table_html(list(rows[0]), [list(r.values()) for r in rows]) if rows else "<p>—</p>")
    complete = sum(t.state.name == "COMPLETE" for t in shared.get_trials(deepcopy=False))
    for heading, path in study_plots(study, shared, complete):
        out.append(f"<h2>{html.escape(heading)}</h2>" + png_tag(path))
        if path.name == "importance.png" and complete < 10:  # a forest of a few points: shapes, not findings
            out.append("<p class='muted'>" + html.escape(tr(
                "Computed from the {count} trials that ran to the end (pruned ones have no final score): with so "
                "few, read it as a hint.", count=complete)) + "</p>")
    out.append("<p class='muted'>" + html.escape(tr("Live, in a browser: pip install optuna-dashboard; "
                                                    "optuna-dashboard {storage}", storage=hidden_password(study.storage)))
               + "</p></body></html>")
    page = study.path / "study.html"
    atomic_write(page, "\n".join(out))
    say(tr("study report: {path}", path=page))
    return page
