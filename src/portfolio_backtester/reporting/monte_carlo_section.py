"""The report's Monte Carlo section: the fan of resampled equity paths and the percentiles.

Shown only for a run made with ``backtest --monte-carlo N``; it reads what that run wrote
(``metrics.json``'s ``monte_carlo`` and ``monte_carlo.csv``), like every other section.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .drawing import dates, grid, log_scale, set_title, thin
from .page import Page, table
from .tables import format_metric

__all__ = ["fan_figure", "monte_carlo_section"]

_BANDS = (
    ("p5", "p95", 0.18, "5th to 95th percentile"),
    ("p25", "p75", 0.35, "25th to 75th percentile"),
)


def fan_figure(fan: pd.DataFrame, equity: pd.Series) -> Figure:
    """Percentile bands of the resampled paths with the run's own equity over them: the
    run's line near an edge of the fan says history was unusually kind or unkind to it."""
    figure, (ax,) = grid(3.6, 1, left=0.95)
    x = dates(fan.index)
    for low, high, alpha, label in _BANDS:
        if low in fan.columns and high in fan.columns:
            ax.fill_between(
                x,
                fan[low].to_numpy(),
                fan[high].to_numpy(),
                color="tab:blue",
                alpha=alpha,
                lw=0,
                label=label,
            )
    if "p50" in fan.columns:
        median = thin(fan["p50"])
        ax.plot(dates(median.index), median.to_numpy(), color="tab:blue", lw=1, label="median")
    shown = thin(equity)
    ax.plot(dates(shown.index), shown.to_numpy(), color="black", lw=1.2, label="this run")
    log_scale(ax)
    ax.set_ylabel("growth of 1 (log)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    set_title(ax, "Resampled equity paths (stationary block bootstrap)")
    return figure


def monte_carlo_section(
    page: Page, summary: dict[str, Any], fan: pd.DataFrame, returns: pd.Series
) -> None:
    """Heading, notes, fan chart and percentile table of one run's Monte Carlo."""
    page.heading(3, "Monte Carlo: how different the same strategy could have looked")
    block = float(summary.get("block_days") or 0.0)
    loss = summary.get("probability_of_loss")
    page.notes(
        [
            f"{summary.get('paths')} paths resampled from the run's daily returns in blocks of "
            f"{block:.1f} trading days on average (seed {summary.get('seed')}): volatility "
            "clustering is kept, regimes the history never had are not.",
            *(
                [f"Share of paths that lose money over the period: {float(loss):.1%}."]
                if loss is not None
                else []
            ),
        ]
    )
    equity = (1.0 + returns.fillna(0.0)).cumprod()
    page.figure("monte_carlo", fan_figure(fan, equity), "Monte Carlo fan chart")
    percentiles: dict[str, dict[str, float]] = summary.get("percentiles") or {}
    observed: dict[str, float] = summary.get("observed") or {}
    columns = sorted({k for row in percentiles.values() for k in row}, key=lambda k: int(k[1:]))
    rows = [
        [
            name,
            format_metric(name, observed.get(name, float("nan"))),
            *(format_metric(name, row.get(k, float("nan"))) for k in columns),
        ]
        for name, row in percentiles.items()
    ]
    page.add(table(["Statistic", "This run", *(f"{k[1:]}th pct" for k in columns)], rows))
