"""An HTML page of headings, tables and embedded PNG figures, with its style sheet."""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from .drawing import png

__all__ = ["Page", "cell", "escape", "heatmap_table", "number", "table"]


class Page:
    """HTML pieces plus a table of contents; figures are saved as PNG and embedded inline."""

    def __init__(self, figure_dir: Path) -> None:
        self.parts: list[str] = []
        self.contents: list[tuple[int, str, str]] = []
        self.figure_dir = figure_dir
        figure_dir.mkdir(parents=True, exist_ok=True)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def heading(self, level: int, text: str) -> None:
        anchor = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        while any(anchor == known for _, known, _ in self.contents):
            anchor += "-2"
        self.contents.append((level, anchor, text))
        self.add(f"<h{level} id='{anchor}'>{escape(text)}</h{level}>")

    def figure(self, name: str, figure: Figure, alt: str, *, crop: bool = False) -> None:
        """Draw ``figure`` once into ``figures/<name>.png`` and into the page; ``crop`` for
        figures laid out by others (Optuna's)."""
        data = png(figure, crop=crop)
        (self.figure_dir / f"{name}.png").write_bytes(data)
        encoded = base64.b64encode(data).decode("ascii")
        self.add(f"<img alt='{escape(alt)}' src='data:image/png;base64,{encoded}'/>")

    def notes(self, notes: Sequence[str]) -> None:
        for note in dict.fromkeys(notes):
            self.add(f"<p class='note'>{escape(note)}</p>")

    def render(self, title: str) -> str:
        links = "".join(
            f"<a class='l{level}' href='#{anchor}'>{escape(text)}</a>"
            for level, anchor, text in self.contents
        )
        body = "\n".join(self.parts)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'/>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'/>"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><nav>{links}</nav><main>\n{body}\n</main></body></html>\n"
        )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    attr = f" class='{cls}'" if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def heatmap_table(frame: pd.DataFrame, scales: Sequence[Sequence[str]]) -> str:
    """``frame`` (numbers, NaN for none) as a table of red-to-green cells with their values.

    An HTML table instead of a picture: the browser draws hundreds of numbers for free,
    where a PNG costs a second of text rendering. ``scales`` are groups of columns that
    share one colour scale; each ignores the 5 % most extreme values.
    """
    colours = pd.DataFrame("", index=frame.index, columns=frame.columns)
    inks = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for columns in scales:
        values = frame[list(columns)].to_numpy(dtype=float)
        finite = np.abs(values[np.isfinite(values)])
        limit = float(np.percentile(finite, 95)) if finite.size and finite.max() > 0 else 1.0
        rgba = _HEAT(np.clip(values / limit, -1.0, 1.0) / 2 + 0.5)
        rgb = np.round(rgba[..., :3] * 255).astype(int).reshape(-1, 3)
        hexes = np.array([f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]).reshape(values.shape)
        colours[list(columns)] = np.where(np.isfinite(values), hexes, "")
        inks[list(columns)] = np.where(np.abs(values) > 0.8 * limit, "#fff", "")
    head = "".join(f"<th>{escape(c)}</th>" for c in ["", *frame.columns])
    rows = []
    for label, values, fills, ink in zip(
        frame.index, frame.to_numpy(dtype=float), colours.to_numpy(), inks.to_numpy(), strict=True
    ):
        cells = "".join(
            f"<td style='background:{fill}{f';color:{c}' if c else ''}'>{_tenths(value)}</td>"
            if math.isfinite(value)
            else "<td></td>"
            for value, fill, c in zip(values, fills, ink, strict=True)
        )
        rows.append(f"<tr><th>{escape(label)}</th>{cells}</tr>")
    return (
        f"<table class='heat'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


_HEAT = colormaps["RdYlGn"]


def _tenths(value: Any) -> str:
    """One decimal, without the "-0.0" of a tiny loss."""
    text = f"{float(value):.1f}"
    return "0.0" if text == "-0.0" else text


def number(value: Any) -> float:
    return math.nan if value is None else float(value)


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def escape(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


_STYLE = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#e4e7ec;--accent:#1f6fb2}
*{box-sizing:border-box}
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:var(--ink);
background:#f4f5f7;line-height:1.45}
nav{position:sticky;top:0;z-index:1;background:#1d2330;padding:6px 24px;font-size:12px;
display:flex;flex-wrap:wrap;gap:4px 14px}
nav a{color:#c9d3e3;text-decoration:none}nav a.l2{color:#fff;font-weight:600}
nav a:hover{text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
header h1{margin:8px 0 2px;font-size:26px}
.sub{color:var(--muted);margin:2px 0 10px}
section{background:#fff;border-radius:10px;padding:4px 24px 24px;margin:18px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin:18px 0 10px;font-size:21px;border-bottom:2px solid var(--line);padding-bottom:6px}
h3{font-size:16px;margin:26px 0 6px;color:#2b3445}
h2,h3{scroll-margin-top:40px}
table{border-collapse:collapse;font-size:13px;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{padding:4px 12px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f0f2f5;font-weight:600}
tbody tr:hover{background:#f7f9fc}
table.summary td{white-space:normal;text-align:left}table.summary thead{display:none}
table.summary td:first-child{font-weight:600;color:var(--muted);width:140px}
.cols{display:flex;flex-wrap:wrap;gap:8px 36px;align-items:flex-start}
.pair img{max-width:calc(50% - 18px)}
img{max-width:100%;height:auto;display:block;margin:6px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px;
margin:6px 0 4px}
.card{background:#f0f5fb;border-radius:8px;padding:10px 14px;border-left:4px solid var(--accent)}
.card span{display:block;color:var(--muted);font-size:12px}
.card b{display:block;font-size:22px}.card i{color:var(--muted);font-size:12px;font-style:normal}
.note{color:#7a5200;background:#fff8e6;border-radius:6px;padding:4px 10px;font-size:13px}
footer{color:var(--muted);font-size:12px;margin-top:12px}
code{font-size:12px}
table.heat{font-size:11px}table.heat td,table.heat th{padding:2px 7px;border:1px solid #fff}
table.heat th{background:#f0f2f5}table.heat td:last-child{border-left:3px solid #fff}
"""
