"""The equity figure of a backtest, built with matplotlib's object API (no pyplot state)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ..metrics import drawdown_series

__all__ = ["equity_figure"]


def equity_figure(
    returns: pd.Series,
    benchmark_returns: pd.Series | None,
    *,
    title: str,
    label: str = "strategy",
) -> Figure:
    """Log-scale equity of strategy and benchmark with the strategy's drawdown below."""
    figure = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    equity = (1.0 + returns.fillna(0.0)).cumprod()
    top.plot(equity.index, equity.to_numpy(), label=label, color="tab:blue")
    if benchmark_returns is not None:
        bench = (1.0 + benchmark_returns.fillna(0.0)).cumprod()
        top.plot(
            bench.index,
            bench.to_numpy(),
            label=str(benchmark_returns.name),
            color="tab:gray",
            alpha=0.8,
        )
    top.set_yscale("log")
    top.set_ylabel("growth of 1 (log scale)")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(True, which="both", alpha=0.3)
    underwater = drawdown_series(returns)
    bottom.fill_between(
        underwater.index, underwater.to_numpy() * 100, 0, color="tab:red", alpha=0.4
    )
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(True, alpha=0.3)
    return figure
