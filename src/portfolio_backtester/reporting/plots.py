"""The equity figure of a backtest, built with matplotlib's object API (no pyplot state).

Laid out and drawn as the report's figures are (``drawing``): fixed margins, thinned daily
series, plain numbers on the log axis.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ..metrics import drawdown_series
from .drawing import dates, grid, log_scale, set_title, thin

__all__ = ["equity_figure"]


def equity_figure(
    returns: pd.Series,
    benchmark_returns: pd.Series | None,
    *,
    title: str,
    label: str = "strategy",
) -> Figure:
    """Log-scale equity of strategy and benchmark with the strategy's drawdown below."""
    figure, (top, bottom) = grid(6, 2, width=10, sharex=True, height_ratios=[3, 1])
    equity = thin((1.0 + returns.fillna(0.0)).cumprod())
    top.plot(dates(equity.index), equity.to_numpy(), label=label, color="tab:blue")
    if benchmark_returns is not None:
        bench = thin((1.0 + benchmark_returns.fillna(0.0)).cumprod())
        top.plot(
            dates(bench.index),
            bench.to_numpy(),
            label=str(benchmark_returns.name),
            color="tab:gray",
            alpha=0.8,
        )
    log_scale(top)
    top.set_ylabel("growth of 1 (log scale)")
    set_title(top, title)
    top.legend(loc="upper left")
    top.grid(True, which="both", alpha=0.3)
    underwater = thin(drawdown_series(returns) * 100)
    bottom.fill_between(
        dates(underwater.index), underwater.to_numpy(), 0, color="tab:red", alpha=0.4
    )
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(True, alpha=0.3)
    return figure
