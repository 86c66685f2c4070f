"""Turn validated market data into the OptimizationData every run shares."""

from __future__ import annotations

import pandas as pd

from .optimization_data import OptimizationData
from .sources import MarketData

__all__ = ["build_optimization_data", "trading_slice"]


def build_optimization_data(market: MarketData) -> OptimizationData:
    """Derive monthly prices and returns once, so strategies never recompute them per trial."""
    daily = market.prices
    returns = daily.pct_change(fill_method=None)
    monthly = daily.groupby(pd.DatetimeIndex(daily.index).to_period("M")).tail(1)
    if market.benchmark is not None:
        benchmark = market.benchmark.to_frame(name=str(market.benchmark.name or "benchmark"))
    else:
        benchmark = pd.DataFrame(
            index=daily.index, columns=pd.Index([], dtype=object), dtype="float64"
        )
    return OptimizationData(
        daily=daily,
        monthly=monthly,
        returns=returns,
        benchmark=benchmark,
        open=market.open,
        high=market.high,
        low=market.low,
        volume=market.volume,
    )


def trading_slice(index: pd.DatetimeIndex, start: object, end: object) -> slice:
    """Integer positions of the trading days within [start, end] (None means open)."""
    lo = 0 if start is None else int(index.searchsorted(pd.Timestamp(str(start)), side="left"))
    hi = (
        len(index)
        if end is None
        else int(index.searchsorted(pd.Timestamp(str(end)), side="right"))
    )
    return slice(lo, hi)
