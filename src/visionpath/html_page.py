"""The parts of visionpath's self-contained pages (report.html, study.html, the data check's page): the style, and
pictures and tables inline, so that a page opens offline and can be mailed."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import torch
from PIL import Image

THUMB = 112   # a picture's side in a page's gallery, in pixels

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45} h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left} code{background:#f4f4f4;padding:.1em .3em}
.note{background:#fff6dd;border-left:4px solid #e0a800;padding:.5em .8em} .muted{color:#777}
.pair{display:flex;flex-wrap:wrap;gap:1em} .pair img{max-width:530px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:.7em}
.gallery.explained{grid-template-columns:repeat(auto-fill,minmax(250px,1fr))}
.gallery figure{margin:0;font-size:.8em;text-align:center;overflow-wrap:anywhere} .gallery img{width:112px;height:112px;image-rendering:auto}
.wrong{color:#b00020} img{max-width:100%}
"""


def enlarged(picture: Image.Image) -> Image.Image:
    """A picture smaller than THUMB (32×32, a tiny photo) enlarged crisply to THUMB on its longer side, so that it
    can be seen; a larger one as it is."""
    if max(picture.size) >= THUMB:
        return picture
    scale = THUMB / max(picture.size)
    return picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.NEAREST)


def png_tag(source) -> str:
    """An <img> with the picture inline: a PNG file, a stream of PNG bytes, or a uint8 C×H×W tensor."""
    if isinstance(source, torch.Tensor):
        array = source.permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
        picture = enlarged(picture)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        data = buffer.getvalue()
    elif isinstance(source, io.BytesIO):
        data = source.getvalue()
    else:
        data = Path(source).read_bytes()
    return f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}" alt="">'


def table_html(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
