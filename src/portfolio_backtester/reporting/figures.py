"""The report's figures, each a function of plain frames read from a run folder."""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from .plots import drawdown

__all__ = [
    "distribution_figure",
    "equity_drawdown_figure",
    "holdings_figure",
    "monthly_heatmap_figure",
    "optimization_history_figure",
    "rolling_figure",
    "walk_forward_figure",
    "window_scores_figure",
    "worst_drawdowns",
]

TRADING_DAYS = 252


def equity_drawdown_figure(returns: pd.DataFrame, title: str) -> Figure:
    """Growth of 1 on a log scale for every column, the first column's drawdown below."""
    figure = Figure(figsize=(11, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    colors = ["tab:blue", "tab:gray", "tab:orange"]
    for color, (name, series) in zip(colors, returns.items(), strict=False):
        equity = (1.0 + series).cumprod()
        top.plot(equity.index, equity.to_numpy(), label=str(name), color=color, lw=1.2)
    top.set_yscale("log")
    top.set_ylabel("growth of 1 (log)")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(True, which="both", alpha=0.3)
    for color, (_, series) in zip(colors, returns.items(), strict=False):
        under = drawdown(series) * 100
        bottom.fill_between(under.index, under.to_numpy(), 0, color=color, alpha=0.35)
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(True, alpha=0.3)
    return figure


def monthly_table(returns: pd.Series) -> pd.DataFrame:
    """Compounded returns by year (rows) and month (columns), with a 'Year' total column."""
    monthly = (1.0 + returns).groupby(
        [returns.index.year, returns.index.month]  # type: ignore[attr-defined]
    ).prod() - 1.0
    table = monthly.unstack(level=1).reindex(columns=range(1, 13))
    yearly = (1.0 + returns).groupby(returns.index.year).prod() - 1.0  # type: ignore[attr-defined]
    table["Year"] = yearly
    return table


def monthly_heatmap_figure(returns: pd.Series) -> Figure:
    """Years by months, green for gains and red for losses, yearly totals at the right."""
    table = monthly_table(returns) * 100
    values = table.to_numpy(dtype=float)
    height = max(3.0, 0.28 * len(table) + 1.2)
    figure = Figure(figsize=(11, height), layout="constrained")
    axes = figure.subplots()
    limit = np.nanpercentile(np.abs(values[:, :12]), 95) if np.isfinite(values).any() else 1.0
    image = axes.imshow(values, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    axes.set_xticks(range(13), [*calendar.month_abbr[1:], "Year"])
    axes.set_yticks(range(len(table)), [str(y) for y in table.index])
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            axes.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=7)
    axes.axvline(11.5, color="black", lw=1)
    figure.colorbar(image, ax=axes, label="return (%)", shrink=0.6)
    axes.set_title("Monthly returns (%)")
    return figure


def rolling_figure(returns: pd.DataFrame, window: int = TRADING_DAYS) -> Figure:
    """Rolling 12-month return, volatility and Sharpe ratio for every column."""
    figure = Figure(figsize=(11, 7), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True)
    for name, series in returns.items():
        growth = np.expm1(np.log1p(series).rolling(window).sum())
        mean = series.rolling(window).mean() * TRADING_DAYS
        vol = series.rolling(window).std() * np.sqrt(TRADING_DAYS)
        sharpe = mean / vol.replace(0.0, np.nan)
        axes[0].plot(growth.index, growth.to_numpy() * 100, label=str(name), lw=1)
        axes[1].plot(vol.index, vol.to_numpy() * 100, lw=1)
        axes[2].plot(sharpe.index, sharpe.to_numpy(), lw=1)
    for ax, label in zip(axes, ("12-month return (%)", "volatility (%)", "Sharpe"), strict=True):
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.axhline(0, color="black", lw=0.6)
    axes[0].legend(loc="upper left")
    axes[0].set_title("Rolling 12 months")
    return figure


def holdings_figure(weights: pd.DataFrame, turnover: pd.Series) -> Figure:
    """Target weights over time (stacked, held until the next rebalance) and monthly turnover."""
    figure = Figure(figsize=(11, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    weights = weights.astype("float64")
    daily = weights.reindex(weights.index.union(turnover.index)).ffill().fillna(0.0)
    # Weekly points draw the same picture at a fraction of the cost of daily ones.
    held = daily.loc[turnover.index[0] :].resample("W").last().ffill()
    longs = held.clip(lower=0.0)
    order = longs.mean().sort_values(ascending=False).index
    palette = colormaps["tab20"]
    top.stackplot(
        held.index,
        longs[order].to_numpy().T,
        labels=[str(c) for c in order],
        colors=[palette(i % 20) for i in range(len(order))],
        alpha=0.9,
    )
    top.set_ylabel("weight")
    top.set_title("Holdings (target weights)")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, ncols=1)
    top.grid(True, alpha=0.3)
    monthly = turnover.groupby(pd.DatetimeIndex(turnover.index).to_period("M")).sum()
    bottom.bar(
        pd.PeriodIndex(monthly.index).to_timestamp(),
        monthly.to_numpy() * 100,
        width=25,
        color="tab:purple",
    )
    bottom.set_ylabel("turnover per month (%)")
    bottom.grid(True, alpha=0.3)
    return figure


def distribution_figure(returns: pd.DataFrame) -> Figure:
    """Histograms of daily and monthly returns for every column."""
    figure = Figure(figsize=(11, 4), layout="constrained")
    daily_ax, monthly_ax = figure.subplots(1, 2)
    for name, series in returns.items():
        daily_ax.hist(series.to_numpy() * 100, bins=80, alpha=0.55, label=str(name))
        monthly = (1.0 + series).groupby(
            pd.DatetimeIndex(series.index).to_period("M")
        ).prod() - 1.0
        monthly_ax.hist(monthly.to_numpy() * 100, bins=40, alpha=0.55, label=str(name))
    daily_ax.set_title("Daily returns (%)")
    monthly_ax.set_title("Monthly returns (%)")
    for ax in (daily_ax, monthly_ax):
        ax.legend()
        ax.grid(True, alpha=0.3)
    return figure


def worst_drawdowns(returns: pd.Series, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest drawdowns: start (peak), trough, recovery, depth and length in days."""
    under = drawdown(returns).to_numpy()
    dates = returns.index
    episodes: list[tuple[int, int | None]] = []
    start = None
    for i, value in enumerate(under):
        if value < 0 and start is None:
            start = i - 1 if i > 0 else 0
        if value >= 0 and start is not None:
            episodes.append((start, i))
            start = None
    if start is not None:
        episodes.append((start, None))
    rows = []
    for begin, end in episodes:
        stop = len(under) if end is None else end
        trough = begin + int(np.argmin(under[begin:stop]))
        rows.append(
            {
                "start": dates[begin].strftime("%Y-%m-%d"),
                "trough": dates[trough].strftime("%Y-%m-%d"),
                "recovery": "not recovered" if end is None else dates[end].strftime("%Y-%m-%d"),
                "depth": float(under[trough]),
                "length_days": int(stop - begin),
            }
        )
    frame = pd.DataFrame(rows, columns=["start", "trough", "recovery", "depth", "length_days"])
    return frame.sort_values("depth").head(n).reset_index(drop=True)


def optimization_history_figure(trials: pd.DataFrame, maximize: bool) -> Figure:
    """Each finished trial's value in order of completion, and the best so far."""
    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.subplots()
    for study, group in trials.groupby("study", sort=False):
        done = group[group["state"] == "COMPLETE"].sort_values("number")
        if done.empty:
            continue
        values = done["value_0"].to_numpy(dtype=float)
        best = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
        label = str(study)
        axes.scatter(done["number"], values, s=10, alpha=0.5)
        axes.plot(done["number"], best, lw=1.5, label=f"best so far ({label})")
    axes.set_xlabel("trial")
    axes.set_ylabel("objective")
    axes.set_title("Optimisation history (all workers)")
    axes.grid(True, alpha=0.3)
    if trials["study"].nunique() <= 6:
        axes.legend(fontsize=8)
    return figure


def walk_forward_figure(out_of_sample: pd.Series, in_sample: pd.Series) -> Figure:
    """Stitched out-of-sample equity against the best parameters' in-sample equity."""
    start, end = out_of_sample.index[0], out_of_sample.index[-1]
    frame = pd.DataFrame(
        {
            "out of sample (stitched)": out_of_sample,
            "in sample (best parameters, whole period)": in_sample.loc[start:end],
        }
    ).fillna(0.0)
    return equity_drawdown_figure(frame, "Walk-forward: out-of-sample against in-sample")


def window_scores_figure(windows: pd.DataFrame, objective: str) -> Figure:
    """Each window's in- and out-of-sample score side by side: overfitting at a glance."""
    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(windows))
    axes.bar(positions - 0.2, windows[f"in_sample_{objective}"], width=0.4, label="in sample")
    axes.bar(
        positions + 0.2, windows[f"out_of_sample_{objective}"], width=0.4, label="out of sample"
    )
    axes.set_xticks(positions, windows["test_start"].astype(str).str[:7], rotation=45)
    axes.set_ylabel(objective)
    axes.set_title(f"{objective} per walk-forward window")
    axes.axhline(0, color="black", lw=0.6)
    axes.legend()
    axes.grid(True, alpha=0.3)
    return figure
