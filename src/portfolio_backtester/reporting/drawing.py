"""How the report's figures are laid out and drawn fast: fixed margins, thinned series, PNG.

Why each choice (measured on the default backtest's report, see benchmarks/report_time.py):

- Margins are given in inches instead of asking a layout engine. Constrained layout measures
  every tick label in two extra passes before the real drawing: it took about half of each
  figure's time. The report's figures have a fixed width and predictable decorations, so
  fixed margins place them the same.
- Titles are placed at the top of their axes (``y=1``): matplotlib otherwise measures every
  axis sharing the titled one to move the title above tick labels there are none of.
- Dates are passed as ``datetime64`` arrays: a ``DatetimeIndex`` is converted to Python
  datetimes one by one inside ``fill_between``.
- Log axes are labelled with plain numbers (1, 10, 100, 1,000): matplotlib's default powers
  of ten go through its TeX-like parser, a tenth of a second for a figure's few labels.
- The cyclic garbage collector waits while a report is drawn (:func:`collector_paused`).
- Daily series longer than the axes have pixels are thinned to each pixel column's first,
  lowest, highest and last point (the M4 rule), which draws the same lines and areas.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DPI",
    "WIDTH",
    "collector_paused",
    "dates",
    "grid",
    "log_scale",
    "png",
    "reserve_right",
    "set_title",
    "thin",
]

DPI = 100
WIDTH = 11.0
"""Inches: every full-width figure of the report, 1,100 pixels at :data:`DPI`."""
COLUMNS = 1100
"""Pixel columns of a full-width axes, at most: thinning keeps four points per column."""


def grid(
    height: float,
    rows: int = 1,
    cols: int = 1,
    *,
    width: float = WIDTH,
    left: float = 0.75,
    right: float = 0.15,
    top: float = 0.3,
    bottom: float = 0.35,
    hgap: float = 0.12,
    wgap: float = 0.5,
    **subplots: Any,
) -> tuple[Figure, list[Axes]]:
    """A figure of ``rows`` by ``cols`` axes (row by row) with margins and gaps in inches.

    ``subplots`` go to ``Figure.subplots`` (``sharex``, ``height_ratios``, ...).
    """
    figure = Figure(figsize=(width, height), dpi=DPI)
    cell_height = (height - top - bottom - (rows - 1) * hgap) / rows
    cell_width = (width - left - right - (cols - 1) * wgap) / cols
    axes = figure.subplots(
        rows,
        cols,
        squeeze=False,
        gridspec_kw={
            "left": left / width,
            "right": 1.0 - right / width,
            "top": 1.0 - top / height,
            "bottom": bottom / height,
            "hspace": hgap / cell_height,
            "wspace": wgap / cell_width,
        },
        **subplots,
    )
    return figure, list(axes.ravel())


def reserve_right(figure: Figure, artist: Artist, pad: float = 0.1) -> None:
    """Narrow every axes of ``figure`` so that ``artist`` (a legend outside the axes, on
    the right) fits, measured as drawn: the one thing a layout engine did that varies."""
    renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
    width_in = artist.get_window_extent(renderer).width / figure.dpi
    right = 1.0 - (width_in + pad) / figure.get_figwidth()
    for ax in figure.axes:
        spec = ax.get_subplotspec()
        if spec is not None:
            spec.get_gridspec().update(right=right)  # type: ignore[attr-defined]
            ax.set_position(spec.get_position(figure))


def log_scale(ax: Axes) -> None:
    """A log y axis labelled with plain numbers. Minor ticks are labelled as matplotlib
    does: none beyond a decade, 2 and 5 below one, all below 0.4 of one."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PlainLog(minor=False))
    ax.yaxis.set_minor_formatter(_PlainLog(minor=True))


class _PlainLog(Formatter):
    def __init__(self, *, minor: bool) -> None:
        self.minor = minor

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not (x > 0 and math.isfinite(x)):
            return ""
        if self.minor:
            low, high = self.axis.get_view_interval() if self.axis is not None else (1, 10)
            decades = math.log10(high / low) if low > 0 and high > low else math.inf
            mantissa = round(x / 10 ** math.floor(math.log10(x) + 1e-9))
            if decades > 1 or (decades > 0.4 and mantissa not in (2, 5)):
                return ""
        return f"{x:,.6g}"


def set_title(ax: Axes, text: str, **kwargs: Any) -> None:
    """The axes' title at its top edge, without measuring the axes below it."""
    ax.set_title(text, y=1.0, **kwargs)


def dates(index: pd.Index) -> npt.NDArray[np.datetime64]:
    """A date index as the ``datetime64`` array matplotlib converts at once."""
    return pd.DatetimeIndex(index).to_numpy()


def thin(series: pd.Series, columns: int = COLUMNS) -> pd.Series:
    """At most ``4 * columns`` points of ``series`` that draw the same line (M4).

    Each of ``columns`` equal runs of points keeps its first, last, lowest and highest
    point, in their order. Series short enough are returned as they are; NaN points are
    kept where they fall first or last in a run, so gaps stay gaps.
    """
    n = len(series)
    if n <= 4 * columns:
        return series
    values = series.to_numpy(dtype=np.float64)
    starts = np.linspace(0, n, columns + 1).astype(np.int64)[:-1]
    stops = np.append(starts[1:], n) - 1
    filled = np.where(np.isnan(values), np.inf, values)
    lows = _argreduce(filled, starts, np.minimum)
    filled = np.where(np.isnan(values), -np.inf, values)
    highs = _argreduce(filled, starts, np.maximum)
    keep = np.unique(np.concatenate([starts, stops, lows, highs]))
    return series.iloc[keep]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the page is built.

    The figures make hundreds of thousands of short-lived objects (ticks, texts, paths),
    which set off the collector's full passes, and each pass walks every object alive, an
    optimisation's study and frames included: about 0.3 s of its report (measured with
    benchmarks/report_time.py) for some 50 MB more at the peak. Reference counting still
    frees nearly everything; the figures' cycles are collected once the collector is back.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def png(figure: Figure, *, crop: bool = False) -> bytes:
    """The figure as PNG bytes at :data:`DPI`; ``crop`` trims it to what it draws (for
    Optuna's figures, whose colour bars take space as they are drawn), at the cost of a pass.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight" if crop else None)
    return buffer.getvalue()


def _argreduce(
    values: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    ufunc: np.ufunc,
) -> npt.NDArray[np.int64]:
    """Position of each run's extreme (the first one on ties), runs starting at ``starts``."""
    extremes = ufunc.reduceat(values, starts)
    run = np.repeat(np.arange(starts.size), np.diff(np.append(starts, values.size)))
    hits = np.flatnonzero(values == extremes[run])
    first = np.unique(run[hits], return_index=True)[1]
    return hits[first]
