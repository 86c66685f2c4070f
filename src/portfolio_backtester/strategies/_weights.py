"""Steps shared by the strategies: rebalance rows, top-n selection, equal weights, the frame."""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from .._identity_cache import cached_on
from ..data import OptimizationData
from ._base import rebalance_dates

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

# A "month" in a lookback is a fixed number of trading days, so that scores work at any
# rebalance frequency and need nothing but the daily frame.
TRADING_DAYS_PER_MONTH = 21


def rebalance_rows(data: OptimizationData, frequency: str) -> tuple[pd.DatetimeIndex, IntArray]:
    """The rebalance dates and their row numbers in ``data.daily``, to gather arrays at."""
    index = cast(pd.DatetimeIndex, data.daily.index)
    if frequency == "daily":  # every row; and a kept value must not hold its owner alive
        return index, np.arange(len(index), dtype=np.intp)

    def compute() -> tuple[pd.DatetimeIndex, IntArray]:
        dates = rebalance_dates(index, frequency)
        return dates, np.asarray(index.get_indexer(dates), dtype=np.intp)

    # The same for every call on these data (a loop over parameters): computed once.
    dates, rows = cached_on(index, ("rebalance_rows", frequency), compute)
    return dates, rows.copy()


def daily_prices(data: OptimizationData) -> FloatArray:
    """The daily closes as an array; a view of read-only memory-mapped data, never written."""
    return data.daily.to_numpy(dtype=np.float64)


def daily_returns(data: OptimizationData) -> FloatArray:
    """The daily simple returns as an array; a view of read-only memory-mapped data."""
    return data.returns.to_numpy(dtype=np.float64)


def select_top(scores: FloatArray, n: int, *, largest: bool) -> BoolArray:
    """The ``n`` best finite scores of each row; ties go to the earlier column (reproducible)."""
    valid = np.isfinite(scores)
    key = np.where(valid, -scores if largest else scores, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.argsort(order, axis=1, kind="stable")
    selected: BoolArray = valid & (ranks < n)
    return selected


def equal_weights(selected: BoolArray) -> FloatArray:
    """1/k on each of a row's k selected assets; rows with none selected stay in cash."""
    weights = selected.astype(np.float64)
    weights /= np.maximum(weights.sum(axis=1), 1.0)[:, None]
    return weights


def proportional_weights(scores: FloatArray) -> FloatArray:
    """Weights proportional to the positive finite scores of each row, summing to 1."""
    usable = np.isfinite(scores) & (scores > 0)
    kept = np.where(usable, scores, 0.0)
    totals = kept.sum(axis=1, keepdims=True)
    weights = np.zeros(scores.shape)
    np.divide(kept, totals, out=weights, where=totals > 0)
    return weights


def weights_frame(
    weights: FloatArray, dates: pd.DatetimeIndex, data: OptimizationData
) -> pd.DataFrame:
    """Wrap a fresh weights array without copying; columns are exactly ``data.daily``'s."""
    return pd.DataFrame(
        np.asarray(weights, dtype=np.float64), index=dates, columns=data.daily.columns, copy=False
    )
