"""Figures built with matplotlib's object API (no pyplot state, no display needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from ..backtest import BacktestResult

__all__ = ["drawdown", "equity_figure"]


def drawdown(returns: pd.Series) -> pd.Series:
    """Fall from the running peak of the equity curve, as a negative fraction."""
    equity = (1.0 + returns).cumprod()
    return equity / equity.cummax() - 1.0


def equity_figure(result: BacktestResult) -> Figure:
    """Log-scale equity of strategy and benchmark with the strategy's drawdown below."""
    figure = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    name = result.scenario.strategy.name
    top.plot(result.equity.index, result.equity.to_numpy(), label=name, color="tab:blue")
    if result.benchmark_returns is not None:
        bench = (1.0 + result.benchmark_returns).cumprod()
        top.plot(
            bench.index,
            bench.to_numpy(),
            label=str(result.benchmark_returns.name),
            color="tab:gray",
            alpha=0.8,
        )
    top.set_yscale("log")
    top.set_ylabel("growth of 1 (log scale)")
    top.set_title(f"{result.scenario.name}: {name}")
    top.legend(loc="upper left")
    top.grid(True, which="both", alpha=0.3)
    underwater = drawdown(result.returns)
    bottom.fill_between(
        underwater.index, underwater.to_numpy() * 100, 0, color="tab:red", alpha=0.4
    )
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(True, alpha=0.3)
    return figure
