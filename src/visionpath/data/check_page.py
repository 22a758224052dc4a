"""The data check's figure (<output>.png) and page (<output>.html): the page self-contained, like report.html,
with a thumbnail of every picture a finding names, each group side by side, so that a person can look at them
before deleting anything."""
from __future__ import annotations

import base64
import html
import io
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..console import printable, progress_bar
from ..files import atomic_write, save_figure
from ..html_page import STYLE, THUMB, enlarged, table_html
from ..i18n import drawn_in_language, language, tr

PAGE_STYLE = STYLE + """
.group{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;margin:.7em 0} .group p{margin:.2em 0 .5em}
.row{display:flex;flex-wrap:wrap;gap:.8em} .row figure{margin:0;width:150px;font-size:.75em;overflow-wrap:anywhere}
.row img{max-width:112px;max-height:112px;display:block;margin-bottom:.2em} .error{color:#b00020}
.warning{color:#9a6700} td:last-child{text-align:left} .broken{display:block;width:112px;height:60px;background:#f4f4f4;color:#b00020}
"""


def thumbnail(path: str) -> str:
    """An <img> of the picture at `path`, at most THUMB px a side, inline as JPEG; a grey box if it cannot be
    decoded."""
    try:
        with Image.open(path) as picture:
            picture.draft("RGB", (THUMB, THUMB))  # a JPEG decodes at a fraction of its size: fast on large photos
            small = picture.convert("RGB")
            small.thumbnail((THUMB, THUMB))
            small = enlarged(small)
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=80)
    except Exception:  # noqa: BLE001 - an unreadable file is shown as such, not a crash
        return f"<span class='broken'>{html.escape(tr('cannot be decoded'))}</span>"
    return f'<img src="data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}" alt="" loading="lazy">'


def write_check_page(report, kinds_named: dict[str, tuple[str, str]], count, path: Path) -> None:
    """Write the page of `report` (check.DataCheck, which calls this; kinds_named: check.kinds(); count:
    check.count, how many of a kind): the verdict,
    the pictures per class and split, the findings counted by kind, then each kind's findings with their pictures
    (a duplicate group's side by side, with their paths and sizes)."""
    records = {r["path"]: r for r in report.pictures}
    shown = sorted({p for f in report.findings for p in f.paths if p in records})
    with ThreadPoolExecutor(max_workers=4) as pool, progress_bar(enabled=len(shown) > 200) as bar:
        task = bar.add_task(tr("drawing the page"), total=len(shown), status="")
        thumbs = {}
        for p, tag in zip(shown, pool.map(thumbnail, shown)):
            thumbs[p] = tag
            bar.advance(task)
    grouped = report.by_kind()
    out = [f"<!doctype html><html lang='{language()}'><head><meta charset='utf-8'>"
           f"<title>{html.escape(tr('data check of {root}', root=report.root))}</title>"
           f"<style>{PAGE_STYLE}</style></head><body>",
           f"<h1>{html.escape(tr('data check of {root}', root=report.root))}</h1>",
           f"<p><b>{html.escape(report.verdict)}</b> · "
           f"{html.escape(tr('{n_pictures:,} files', n_pictures=len(report.pictures)))} · "
           f"<span class='muted'>{time.strftime('%Y-%m-%d %H:%M')}</span></p>"]
    splits = list(report.counts)
    classes = sorted({c for per_class in report.counts.values() for c in per_class})
    out.append(table_html([tr("class"), *splits], [[c, *(f"{report.counts[s].get(c, 0):,}" for s in splits)]
                                                   for c in classes]))
    if grouped:
        out.append(f"<h2>{html.escape(tr('findings, by kind'))}</h2>")
        out.append(table_html([tr("kind"), tr("level"), tr("count"), tr("what it is")],
                              [[kind, found[0].level, f"{count(kind, found):,}", kinds_named[kind][0]]
                               for kind, found in grouped.items()]))
    for kind, found in grouped.items():
        title, advice = kinds_named[kind]
        out.append(f"<h2 id='{kind}'>{html.escape(title)} <code>{kind}</code> "
                   f"<span class='muted'>× {count(kind, found):,}</span></h2>")
        if advice:
            out.append(f"<p>{html.escape(advice)}</p>")
        for f in found:
            figures = []
            errors, labels = f.numbers.get("errors", []), f.numbers.get("labels", [])
            for k, p in enumerate(f.paths):
                record = records.get(p, {})
                size = (f"{record['width']}×{record['height']}, {record['bytes'] / 1024:,.0f} KB"
                        if "width" in record else errors[k] if k < len(errors) else "")
                said = tr("labelled {given}, looks like {predicted}", **labels[k]) if k < len(labels) else ""
                disputed = f"<br><span class='warning'>{html.escape(said)}</span>" if said else ""
                figures.append(f"<figure>{thumbs.get(p, '')}{html.escape(report.short(p))}"
                               f"<br><span class='muted'>{html.escape(size)}</span>{disputed}</figure>")
            out.append(f"<div class='group'><p class='{f.level}'>{html.escape(f.what)}</p>"
                       f"<div class='row'>{''.join(figures)}</div></div>")
    out.append("</body></html>")
    atomic_write(path, "\n".join(out))


@drawn_in_language
def plot_check(report, path: Path, tiny_side: int) -> None:
    """The check's figure (a DataCheck's `report`), three panels: pictures per class and split, the shorter sides'
    histogram (`tiny_side` marked), colour modes and formats."""
    readable = [r for r in report.pictures if "error" not in r]
    classes = sorted({c for per_class in report.counts.values() for c in per_class})
    counts = {split: {printable(c): n for c, n in per_class.items()} for split, per_class in report.counts.items()}
    classes = [printable(c) for c in classes]  # matplotlib draws no undecodable bytes
    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3)
    ax = axes[0]
    width = 0.8 / max(1, len(report.counts))
    for k, (split, per_class) in enumerate(counts.items()):
        ax.bar(np.arange(len(classes)) + k * width, [per_class.get(c, 0) for c in classes], width, label=split)
    ax.set_xticks(np.arange(len(classes)) + width * (len(report.counts) - 1) / 2, classes,
                  rotation=45 if len(classes) > 6 else 0, ha="right" if len(classes) > 6 else "center")
    ax.set_ylabel(tr("pictures"))
    ax.set_title(tr("pictures per class and split"))
    ax.legend()
    ax = axes[1]
    sides = [min(r["width"], r["height"]) for r in readable]
    if sides:
        ax.hist(sides, bins=30, color="tab:blue")
        ax.axvline(tiny_side, color="tab:red", linestyle="--", label=tr("tiny (< {TINY_SIDE} px)",
                                                                        TINY_SIDE=tiny_side))
        ax.legend()
    ax.set_xlabel(tr("shorter side (pixels)"))
    ax.set_ylabel(tr("pictures"))
    ax.set_title(tr("picture sizes"))
    ax = axes[2]
    kinds = Counter(f"{r['format']} {r['mode']}" for r in readable)
    broken = len(report.pictures) - len(readable)
    labels_, values = list(kinds), list(kinds.values())
    if broken:
        labels_.append("unreadable")
        values.append(broken)
    ax.barh(labels_, values, color=["tab:red" if name == "unreadable" else "tab:gray" for name in labels_])
    ax.set_xscale("log")
    ax.set_xlabel(tr("pictures (log scale)"))
    ax.set_title(tr("format and colour mode"))
    fig.suptitle(tr("data check of {root}: {n_findings} finding(s)",
                    root=printable(report.root), n_findings=len(report.findings)))
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
