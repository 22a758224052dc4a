"""report.html: one self-contained page about a run (every picture embedded), that opens offline and can be mailed.

Sections: the command and settings; the data; the learning curves with the stage switch; the confusion matrix,
raw and normalised; the per-class table; the most-confused pairs; the misclassified pictures, most confident
mistakes first.
"""
from __future__ import annotations

import html
import io
import time
from pathlib import Path

import torch

from .data import ImageSet
from .evaluate import Evaluation
from .files import atomic_write
from .html_page import STYLE, png_tag, table_html
from .i18n import language, tr
from .inside import heat_overlays
from .report import plot_confusion
from .data.suspects import Disputed

GALLERY = 48  # misclassified pictures shown

def write_report(run_dir: Path, *, command: str, settings: dict, history: list[dict], diagnosis: str,
                 evaluation: Evaluation, images: ImageSet, data_record: dict | None,
                 model: tuple[torch.nn.Module, dict] | None = None,
                 disputed: tuple[list[Disputed], ImageSet] | None = None) -> Path:
    """Write run_dir/report.html for `evaluation` (of the test split, else validation) of the pictures `images`.
    command: the command line that repeats the run; settings: its settings; diagnosis: what its curves say;
    data_record: its data.json; model: (the network, its metadata), to show where it looked in each mistake;
    disputed: (the training pictures whose labels the run disputes, the training pictures). Everything shown is
    passed in: the page reads nothing but curves.png."""
    e = evaluation
    out = [tr("<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>visionpath report: "
              "{run}</title><style>{STYLE}</style></head><body>",
              run=html.escape(run_dir.name), STYLE=STYLE, lang=language()),
           tr("<h1>{run}</h1><p class='muted'>{model} on {data} · report written {when}</p>",
              run=html.escape(run_dir.name), model=html.escape(str(settings['model'])),
              data=html.escape(str(settings['data'])), when=time.strftime('%Y-%m-%d %H:%M')),
           tr("<p style='font-size:1.2em'><b>{split} accuracy {accuracy:.2%}</b> · balanced accuracy "
              "{balanced_accuracy:.2%} · macro-F1 {macro_f1:.3f} · {sum:,} pictures</p>",
              split=e.split, accuracy=e.accuracy, balanced_accuracy=e.balanced_accuracy, macro_f1=e.macro_f1,
              sum=int(e.confusion.sum()))]
    if e.seen:  # a leak: the score on the pictures not seen in training beside it
        out.append(f"<p class='note'>{html.escape(e.leak_line())}</p>")
    if e.split != "test" and settings.get("score_test") is False:
        out.append(tr("<p class='note'>This run leaves the test split unscored (<code>--no-score-test</code>, as a "
                      "search's trials do), so the scores below are on the validation pictures. They are optimistic: "
                      "validation chose the best epoch.</p>"))
    elif e.split != "test":
        carved = bool(data_record and data_record.get("validation_from_train"))
        out.append(tr("<p class='note'>This folder has no <code>test/</code> split, so the scores below are on the "
                      "validation pictures{value}. They are optimistic: validation chose the best epoch. Add a "
                      "<code>test/</code> folder of pictures the training never saw for an honest score.</p>",
                      value=tr(" (held out from train)") if carved else ""))
    out.append(tr("<h2>Command and settings</h2>"))
    out.append(f"<p><code>{html.escape(command)}</code></p>")
    out.append(table_html([tr("setting"), tr("value")], [[k, v] for k, v in settings.items() if v is not None]))
    out += _data_section(data_record, e.classes, settings["validation_split"])
    out.append(tr("<h2>Learning curves</h2>"))
    if (run_dir / "curves.png").is_file():
        out.append(png_tag(run_dir / "curves.png"))
    if history:
        out.append(f"<p>{html.escape(diagnosis)}</p>")
    out += _confusion_section(e) + _gallery_section(e, images, model)
    if disputed is not None:
        out += _disputed_section(*disputed)
    out.append("</body></html>")
    path = run_dir / "report.html"
    atomic_write(path, "\n".join(out))
    return path


def _data_section(record: dict | None, classes: list[str], validation_split: float) -> list[str]:
    """Pictures per split and class, and what loading found."""
    out = [tr("<h2>Data</h2>")]
    if not record:
        return out
    splits = list(record["splits"])
    rows = [[c] + [record["splits"][s].get(c, 0) for s in splits] for c in classes]
    rows.append([tr("total")] + [sum(record["splits"][s].values()) for s in splits])
    out.append(table_html([tr("class")] + splits, rows))
    facts = [tr("pictures used at {input_shape}×{input_shape2}",
                input_shape=record['input_shape'][1], input_shape2=record['input_shape'][2])]
    if "load_seconds" in record:
        facts.append(tr("read in {load_seconds:.1f} s ({from_cache:,} from the picture cache)",
                        load_seconds=record['load_seconds'], from_cache=record['from_cache']))
        unreadable = record.get("unreadable", 0)
        facts.append(tr("{unreadable} unreadable file(s) skipped", unreadable=unreadable)
                     + (tr(" (listed in unreadable.txt)") if unreadable else ""))
    if record.get("validation_from_train"):
        facts.append(tr("validation held out from train ({validation_split:.0%}, stratified, seeded; split.csv "
                        "lists every picture's split)",
                        validation_split=validation_split))
    out.append("<p>" + " · ".join(html.escape(f) for f in facts) + "</p>")
    return out


def _confusion_section(e: Evaluation) -> list[str]:
    """The confusion matrix raw and normalised, the per-class table and the most-confused pairs."""
    classes = e.classes
    out = [tr("<h2>Confusion matrix ({split})</h2><p class='muted'>True class on rows, predicted class on columns: "
              "the diagonal is right, everything else is a mistake.</p><div class='pair'>",
              split=e.split)]
    buffer = io.BytesIO()
    plot_confusion(e.confusion, classes, buffer, normalised=True)
    out += [png_tag(io.BytesIO(e.confusion_png())), png_tag(buffer)]
    out.append("</div>")
    out.append(tr("<h2>Per class</h2>"))
    out.append(table_html([tr("class"), tr("precision"), tr("recall"), "F1", tr("support")],
                      [[r["class"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", r["support"]]
                       for r in e.per_class]))
    out.append(tr("<p class='muted'>precision: of the pictures predicted as the class, the share that are; recall: "
                  "of the pictures of the class, the share found; F1: their harmonic mean.</p>"))
    pairs = [(int(e.confusion[i, j]), classes[i], classes[j]) for i in range(len(classes)) for j in range(len(classes))
             if i != j and e.confusion[i, j] > 0]
    pairs.sort(reverse=True)
    out.append(tr("<h2>Most confused</h2>"))
    out.append(table_html([tr("true class"), tr("predicted as"), tr("pictures")], [[t, p, n] for n, t, p in pairs[:10]])
               if pairs else "<p>No mistakes.</p>")
    return out


def _gallery_section(e: Evaluation, images: ImageSet, model: tuple[torch.nn.Module, dict] | None) -> list[str]:
    """The misclassified pictures, most confident mistakes first; for a convolutional model each with its
    Grad-CAM map beside it: where the model found the evidence for the wrong class."""
    labels = images.labels
    wrong = torch.nonzero(e.predictions != labels).flatten()
    confidence = e.probabilities[wrong, e.predictions[wrong]]
    order = wrong[confidence.argsort(descending=True)][:GALLERY]
    out = [tr("<h2>Misclassified pictures ({n_wrong:,} of {n_labels:,}, most confident mistakes first)</h2>",
              n_wrong=len(wrong), n_labels=len(labels))]
    if len(order) == 0:
        return out + ["<p>None.</p>"]
    overlays = heat_overlays(*model, images.images[order]) if model is not None else None
    if overlays is not None:
        out.append(tr("<p>Beside each picture, where the model looked for the class it wrongly chose (Grad-CAM: red "
                      "is the strongest evidence). A map on the background rather than the subject often means the "
                      "training pictures let the background give the class away.</p>"))
    out.append(f"<div class='gallery{' explained' if overlays is not None else ''}'>")
    for n, i in enumerate(order.tolist()):
        name = Path(images.paths[i]).name if images.paths else f"#{i}"
        predicted = e.predictions[i].item()
        shown = png_tag(images.images[i]) + (png_tag(overlays[n]) if overlays is not None else "")
        out.append(tr("<figure>{shown}<figcaption>{file}<br>true <b>{true}</b><br><span "
                      "class='wrong'>predicted {predicted} {probability:.0%}</span></figcaption></figure>",
                      shown=shown, file=html.escape(name), true=html.escape(e.classes[labels[i].item()]),
                      predicted=html.escape(e.classes[predicted]), probability=e.probabilities[i, predicted].item()))
    out.append("</div>")
    return out


def _disputed_section(disputed: list[Disputed], training: ImageSet) -> list[str]:
    """The training pictures whose given label a head that never saw them disputes, the most disputed first:
    candidates for a labelling mistake, to look at."""
    out = [tr("<h2>Training labels the model disputes ({n:,} of {total:,})</h2>", n=len(disputed),
              total=len(training))]
    if not disputed:
        return out + [tr("<p>None: a head fitted on the others agrees with every training picture's label.</p>")]
    out.append(tr("<p>A linear head on the frozen features, fitted without each picture, gives another class "
                  "confidently. Often the label is wrong; sometimes the photo is an odd one of its class. Look before "
                  "relabelling: suspects.csv lists them all.</p><div class='gallery'>"))
    index = {path: i for i, path in enumerate(training.paths or [])}
    for d in disputed[:GALLERY]:
        picture = png_tag(training.images[index[d.path]]) if d.path in index else ""
        out.append(tr("<figure>{shown}<figcaption>{file}<br>labelled <b>{given}</b> ({given_probability:.0%})<br><span "
                      "class='wrong'>looks like {predicted} {predicted_probability:.0%}</span></figcaption></figure>",
                      shown=picture, file=html.escape(Path(d.path).name), given=html.escape(d.given),
                      given_probability=d.given_probability, predicted=html.escape(d.predicted),
                      predicted_probability=d.predicted_probability))
    out.append("</div>")
    return out
