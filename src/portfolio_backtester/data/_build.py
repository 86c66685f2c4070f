"""Turn validated market data into the OptimizationData every run shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .optimization_data import OptimizationData
from .sources import MarketData

__all__ = ["asset_major", "build_optimization_data", "trading_slice"]


def build_optimization_data(market: MarketData) -> OptimizationData:
    """Derive monthly prices and returns once, so strategies never recompute them per trial."""
    daily = asset_major(market.prices)
    returns = asset_major(daily.pct_change(fill_method=None))
    monthly = asset_major(daily.groupby(pd.DatetimeIndex(daily.index).to_period("M")).tail(1))
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
        open=_asset_major_or_none(market.open),
        high=_asset_major_or_none(market.high),
        low=_asset_major_or_none(market.low),
        volume=_asset_major_or_none(market.volume),
    )


def asset_major(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its values stored asset by asset (one C-contiguous ``(m, n)`` block).

    The engine and the strategies read each asset's dates as one contiguous row; a frame
    stored date by date (as a pivot or a group-by leaves it) would be copied into that order
    on every backtest. Converted once here; a frame already in that order is returned as is.
    """
    if not all(dtype == np.float64 for dtype in frame.dtypes):
        return frame  # not a float frame: the checks downstream name the problem
    if frame.to_numpy().T.flags.c_contiguous:  # one block stored so: a view, no copy
        return frame
    values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T)
    return pd.DataFrame(values.T, index=frame.index, columns=frame.columns, copy=False)


def _asset_major_or_none(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if frame is None else asset_major(frame)


def trading_slice(index: pd.DatetimeIndex, start: object, end: object) -> slice:
    """Integer positions of the trading days within [start, end] (None means open)."""
    lo = 0 if start is None else int(index.searchsorted(pd.Timestamp(str(start)), side="left"))
    hi = (
        len(index)
        if end is None
        else int(index.searchsorted(pd.Timestamp(str(end)), side="right"))
    )
    return slice(lo, hi)
