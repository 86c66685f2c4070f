"""The report's figures of frames read from a run folder: equity, months, rolling, holdings.

Every figure is a ``matplotlib.figure.Figure`` built with the object API, so building a report
never touches pyplot's global state, laid out and drawn as ``drawing`` explains (fixed
margins, thinned daily series). Optuna's plots of a study are in ``optuna_figures``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..constants import TRADING_DAYS_PER_YEAR as TRADING_DAYS
from ..metrics import drawdown_series
from .drawing import dates, grid, log_scale, reserve_right, set_title, thin

if TYPE_CHECKING:
    pass

__all__ = [
    "SERIES_COLORS",
    "distribution_figure",
    "equity_drawdown_figure",
    "holdings_figure",
    "monthly_table",
    "optimization_history_figure",
    "rolling_figure",
    "walk_forward_figure",
    "window_scores_figure",
    "worst_drawdowns",
]

LEGEND_TICKERS = 15
# Strategy, benchmark, then anything else: the same colour for the same series everywhere.
SERIES_COLORS = ("tab:blue", "tab:gray", "tab:orange", "tab:green")


def equity_drawdown_figure(returns: pd.DataFrame, title: str) -> Figure:
    """Growth of 1 on a log scale for every column, each column's drawdown below."""
    figure, (top, bottom) = grid(6, 2, sharex=True, height_ratios=[3, 1])
    for color, (name, series) in zip(SERIES_COLORS, returns.items(), strict=False):
        equity = thin((1.0 + series.fillna(0.0)).cumprod())
        top.plot(dates(equity.index), equity.to_numpy(), label=str(name), color=color, lw=1.2)
        under = thin(drawdown_series(series) * 100)
        x = dates(under.index)
        bottom.fill_between(x, under.to_numpy(), 0, color=color, alpha=0.35, lw=0)
    log_scale(top)
    top.set_ylabel("growth of 1 (log scale)")
    set_title(top, title)
    top.legend(loc="upper left")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(True, alpha=0.3)
    return figure


def monthly_table(returns: pd.Series) -> pd.DataFrame:
    """Compounded returns by year (rows) and month (columns 1-12), with a 'Year' total column."""
    index = pd.DatetimeIndex(returns.index)
    growth = 1.0 + returns
    monthly = growth.groupby([index.year, index.month]).prod() - 1.0
    table = monthly.unstack(level=1).reindex(columns=range(1, 13))
    table["Year"] = growth.groupby(index.year).prod() - 1.0
    return table


def rolling_figure(returns: pd.DataFrame, window: int = TRADING_DAYS) -> Figure:
    """Rolling 12-month compounded return, annualised volatility and Sharpe ratio."""
    figure, axes = grid(7, 3, sharex=True)
    for color, (name, series) in zip(SERIES_COLORS, returns.items(), strict=False):
        growth = np.expm1(np.log1p(series).rolling(window).sum()) * 100
        mean = series.rolling(window).mean() * TRADING_DAYS
        vol = series.rolling(window).std() * np.sqrt(TRADING_DAYS)
        sharpe = mean / vol.where(vol > 0)
        for ax, line in zip(axes, (growth, vol * 100, sharpe), strict=True):
            line = thin(line)
            label = str(name) if ax is axes[0] else None
            ax.plot(dates(line.index), line.to_numpy(), label=label, color=color, lw=1)
    labels = ("12-month return (%)", "volatility (%)", "Sharpe")
    for ax, label in zip(axes, labels, strict=True):
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.axhline(0, color="black", lw=0.6)
    axes[0].legend(loc="upper left")
    set_title(axes[0], f"Rolling {window} trading days")
    return figure


def holdings_figure(weights: pd.DataFrame, turnover: pd.Series) -> Figure:
    """Target weights held from each rebalance to the next (stacked) and turnover per year.

    The largest ``LEGEND_TICKERS`` holdings by average weight get their own colour; the rest
    are summed into one grey band so that a large universe stays readable.
    """
    held = weights.astype("float64").fillna(0.0)
    end = pd.Timestamp(turnover.index[-1])
    if end > held.index[-1]:
        # The last targets are held until the end of the backtest.
        held = pd.concat([held, held.iloc[[-1]].set_axis(pd.DatetimeIndex([end]))])
    order = held.abs().mean().sort_values(ascending=False).index
    named, rest = list(order[:LEGEND_TICKERS]), list(order[LEGEND_TICKERS:])
    # tab20 without its two greys, which are kept for the "others" band.
    palette = [colormaps["tab20"](i) for i in range(20) if i not in (14, 15)]
    colors = [palette[i % len(palette)] for i in range(len(named))] + ["0.75"] * bool(rest)
    labels = [str(c) for c in named] + [f"{len(rest)} others"] * bool(rest)
    figure, (top, bottom) = grid(6.5, 2, sharex=True, height_ratios=[3, 1])
    when = dates(held.index)
    longs, shorts = held.clip(lower=0.0), held.clip(upper=0.0)
    for part, legend in ((longs, labels), (shorts, [])):
        if part is shorts and not (shorts < 0).to_numpy().any():
            continue
        bands = [part[c].to_numpy() for c in named]
        if rest:
            bands.append(part[rest].sum(axis=1).to_numpy())
        top.stackplot(when, np.vstack(bands), labels=legend, colors=colors, step="post", lw=0)
    top.set_ylabel("target weight")
    set_title(top, "Holdings: target weights between rebalances", loc="left")
    key = top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    top.margins(y=0.02)  # x: the 5% of the turnover bars, so that no bar is cut
    top.grid(True, alpha=0.3)
    index = pd.DatetimeIndex(turnover.index)
    yearly = turnover.groupby(index.year).sum() * 100
    middles = pd.to_datetime([f"{year}-07-01" for year in yearly.index])
    bottom.bar(middles, yearly.to_numpy(), width=300, color="tab:purple", alpha=0.8)
    bottom.set_ylabel("turnover per year (%)")
    bottom.grid(True, alpha=0.3)
    reserve_right(figure, key)  # last: measuring settles the axes' limits
    return figure


def distribution_figure(returns: pd.DataFrame) -> Figure:
    """Histograms of daily and monthly returns on common bins, one outline per column."""
    monthly = (1.0 + returns).groupby(pd.DatetimeIndex(returns.index).to_period("M")).prod()
    figure, (daily_ax, monthly_ax) = grid(4, 1, 2, left=0.7, wgap=0.7)
    # The daily range is cut at 0.1% and 99.9%: a few crash days would squash the rest.
    for ax, frame, bins, cut, title in (
        (daily_ax, returns * 100, 100, 0.1, "Daily returns (%)"),
        (monthly_ax, (monthly - 1.0) * 100, 40, 0.0, "Monthly returns (%)"),
    ):
        values = frame.to_numpy(dtype=float)
        low, high = np.nanpercentile(values, [cut, 100 - cut])
        edges = np.histogram_bin_edges(values[np.isfinite(values)], bins, (low, high))
        for color, (name, series) in zip(SERIES_COLORS, frame.items(), strict=False):
            data = series.dropna().clip(low, high).to_numpy()
            ax.hist(data, list(edges), histtype="stepfilled", color=color, alpha=0.3)
            ax.hist(data, list(edges), histtype="step", color=color, lw=1.2, label=str(name))
        ax.axvline(0, color="black", lw=0.6)
        set_title(ax, title)
        ax.set_ylabel("count")
        ax.legend()
        ax.grid(True, alpha=0.3)
    return figure


def worst_drawdowns(returns: pd.Series, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest drawdowns, deepest first.

    Columns: ``start`` (the peak), ``trough``, ``recovery`` (first day back at the peak, or
    "not recovered"), ``depth`` (negative fraction) and ``length_days``: trading days below
    the peak, counted as ``Max Drawdown Duration`` counts them.
    """
    under = drawdown_series(returns).to_numpy()
    below = np.concatenate([[False], under < 0, [False]])
    starts = np.flatnonzero(~below[:-1] & below[1:])  # first day below a peak
    stops = np.flatnonzero(below[:-1] & ~below[1:])  # first day back at the peak (or len)
    dates = list(pd.DatetimeIndex(returns.index).strftime("%Y-%m-%d"))
    rows = []
    for first, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        trough = first + int(np.argmin(under[first:stop]))
        rows.append(
            {
                "start": dates[max(first - 1, 0)],
                "trough": dates[trough],
                "recovery": dates[stop] if stop < len(under) else "not recovered",
                "depth": float(under[trough]),
                "length_days": int(stop - first),
            }
        )
    frame = pd.DataFrame(rows, columns=["start", "trough", "recovery", "depth", "length_days"])
    return frame.sort_values("depth", kind="stable").head(n).reset_index(drop=True)


def optimization_history_figure(
    trials: pd.DataFrame, objectives: Sequence[str], directions: Sequence[str]
) -> Figure:
    """Every completed trial's value, coloured by worker, and the best so far in each study.

    Studies (one per walk-forward window) follow each other along the x axis in run order,
    so one picture shows every trial of every worker.
    """
    done = trials[trials["state"] == "COMPLETE"]
    studies = list(dict.fromkeys(done["study"]))
    done = done.assign(_study=done["study"].map({s: i for i, s in enumerate(studies)}))
    done = done.sort_values(["_study", "number"]).reset_index(drop=True)
    workers = done["worker"].fillna("unknown").astype(str)
    figure, axes = grid(
        1.5 + 2.6 * len(objectives), len(objectives), left=0.85, bottom=0.5, hgap=0.15,
        sharex=True,
    )  # fmt: skip
    for i, (ax, name, direction) in enumerate(zip(axes, objectives, directions, strict=True)):
        values = done[f"value_{i}"].astype(float)
        for worker in dict.fromkeys(workers):
            mine = workers == worker
            ax.scatter(done.index[mine], values[mine], s=14, alpha=0.7, label=worker)
        grouped = values.groupby(done["_study"])
        best = grouped.cummax() if direction == "maximize" else grouped.cummin()
        for position, (_, segment) in enumerate(best.groupby(done["_study"])):
            label = "best so far" if position == 0 else None
            ax.step(segment.index, segment.to_numpy(), where="post", color="black", label=label)
            if position:
                ax.axvline(segment.index[0] - 0.5, color="0.8", lw=0.6)
        ax.set_ylabel(f"{name} ({direction[:3]})")
        ax.grid(True, alpha=0.3)
    span = f"{len(studies)} studies, one after another" if len(studies) > 1 else "trial"
    axes[-1].set_xlabel(span)
    set_title(axes[0], f"Optimisation history: {len(done)} completed trials", loc="left")
    if workers.nunique() <= 12:
        legend = axes[0].legend(
            fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="worker"
        )
        reserve_right(figure, legend)  # last: measuring settles the axes' limits
    return figure


def walk_forward_figure(out_of_sample: pd.Series, in_sample: pd.Series) -> Figure:
    """Stitched out-of-sample equity against the best parameters' in-sample equity."""
    start, end = out_of_sample.index[0], out_of_sample.index[-1]
    frame = pd.DataFrame(
        {
            "out of sample (stitched test windows)": out_of_sample,
            "in sample (best parameters over the whole period)": in_sample.loc[start:end],
        }
    ).fillna(0.0)
    return equity_drawdown_figure(frame, "Walk-forward: out of sample against in sample")


def window_scores_figure(windows: pd.DataFrame, objective: str) -> Figure:
    """Each window's in- and out-of-sample score side by side, means dashed: overfitting shows
    as a gap between the two."""
    inside = windows[f"in_sample_{objective}"].astype(float)
    outside = windows[f"out_of_sample_{objective}"].astype(float)
    figure, (axes,) = grid(4, left=0.75, bottom=0.95)
    positions = np.arange(len(windows))
    for offset, values, color, label in (
        (-0.2, inside, "tab:gray", "in sample"),
        (0.2, outside, "tab:blue", "out of sample"),
    ):
        mean = float(values.mean())
        axes.bar(positions + offset, values.to_numpy(), 0.4, color=color, label=label)
        axes.axhline(mean, color=color, ls="--", lw=1, label=f"{label} mean {mean:.2f}")
    axes.set_xticks(positions, windows["test_start"].astype(str).str[:7], rotation=60)
    axes.set_xlabel("test window start")
    axes.set_ylabel(objective)
    set_title(axes, f"{objective} per walk-forward window", loc="left")
    axes.axhline(0, color="black", lw=0.6)
    axes.legend(fontsize=8, ncols=2)
    axes.grid(True, axis="y", alpha=0.3)
    return figure
