"""The data check's page (<output>.html): self-contained, like report.html, with a thumbnail of every picture a
finding names, each group side by side, so that a person can look at them before deleting anything."""
from __future__ import annotations

import base64
import html
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from PIL import Image

from ..console import progress_bar
from ..files import atomic_write
from ..html_page import STYLE, THUMB, enlarged, table_html
from ..i18n import language, tr

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
