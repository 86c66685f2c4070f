"""Figures against the benchmark and of the portfolio's exposure, from the run's files."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..constants import TRADING_DAYS_PER_YEAR as TRADING_DAYS
from .drawing import dates, grid, log_scale, set_title, thin

__all__ = ["exposure_figure", "relative_figure"]


def relative_figure(
    strategy: pd.Series, benchmark: pd.Series, window: int = TRADING_DAYS
) -> Figure:
    """Strategy over benchmark (rising: ahead of it), then rolling beta and correlation:
    a strategy that beats the market by holding more of it shows here, not in the equity."""
    both = pd.concat([strategy, benchmark], axis=1, join="inner").fillna(0.0)
    r, b = both.iloc[:, 0], both.iloc[:, 1]
    figure, (top, middle, bottom) = grid(7, 3, sharex=True, height_ratios=[2, 1, 1])
    relative = thin((1.0 + r).cumprod() / (1.0 + b).cumprod())
    top.plot(dates(relative.index), relative.to_numpy(), color="tab:blue", lw=1.2)
    top.axhline(1.0, color="black", lw=0.6)
    log_scale(top)
    top.set_ylabel("strategy / benchmark (log)")
    set_title(
        top, f"Relative to {b.name}: growth ratio, rolling {window}-day beta and correlation"
    )
    covariance = r.rolling(window).cov(b)
    beta = thin(covariance / b.rolling(window).var())
    correlation = thin(r.rolling(window).corr(b))
    middle.plot(dates(beta.index), beta.to_numpy(), color="tab:orange", lw=1)
    middle.axhline(1.0, color="black", lw=0.6)
    middle.set_ylabel("beta")
    bottom.plot(dates(correlation.index), correlation.to_numpy(), color="tab:green", lw=1)
    bottom.set_ylabel("correlation")
    bottom.set_ylim(-1.05, 1.05)
    for ax in (top, middle, bottom):
        ax.grid(True, alpha=0.3)
    return figure


def exposure_figure(holdings: pd.DataFrame) -> Figure:
    """Gross, net and cash from the daily weights after drift (not the targets): what the
    portfolio held between rebalances, leverage and shorts included."""
    values = holdings.to_numpy(dtype=float)
    gross = pd.Series(np.nansum(np.abs(values), axis=1) * 100, index=holdings.index)
    net = pd.Series(np.nansum(values, axis=1) * 100, index=holdings.index)
    figure, (ax,) = grid(3.2, 1)
    for line, label, color in (
        (gross, "gross", "tab:purple"),
        (net, "net", "tab:blue"),
        (100.0 - net, "cash", "tab:gray"),
    ):
        shown = thin(line)
        ax.plot(dates(shown.index), shown.to_numpy(), label=label, color=color, lw=1)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("% of portfolio value")
    ax.legend(loc="center left", ncols=3, fontsize=8)
    ax.grid(True, alpha=0.3)
    set_title(ax, "Exposure after drift")
    return figure
