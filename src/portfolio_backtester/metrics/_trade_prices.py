"""The prices and the costs of the trades: what :mod:`.trades` reads from the engine's outputs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..simulation._kernel import TRADE_EPSILON, fill_open_close, fill_prices

__all__ = ["on_days", "prices_on", "trade_costs"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int8Array = npt.NDArray[np.int8]


def prices_on(
    closes: pd.DataFrame, opens: pd.DataFrame | None, days: IntArray, held: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The closes and the fills, ``(m, J)``, on ``days``, and the last day's closes ``(m,)``.

    A missing price is carried forward as the engine does; where nothing is held or traded
    it does not matter and is 1 (the engine's placeholder), which spares the carrying.
    """
    values = closes.to_numpy(dtype=np.float64)
    close = on_days(values, days)
    fill = close if opens is None else on_days(opens.to_numpy(dtype=np.float64), days)
    last_close = values[-1]
    if not (np.isnan(close).any() or np.isnan(fill).any() or np.isnan(last_close).any()):
        return close, fill, last_close
    holding = held != 0
    traded = holding.copy()
    traded[:, 1:] |= holding[:, :-1]
    matters = (
        (np.isnan(close) & holding).any()
        or (np.isnan(fill) & traded).any()
        or (np.isnan(last_close) & holding[:, -1]).any()
    )
    if not matters:
        return (
            np.nan_to_num(close, nan=1.0),
            np.nan_to_num(fill, nan=1.0),
            np.nan_to_num(last_close, nan=1.0),
        )
    every_close = np.ascontiguousarray(values.T)
    if opens is None:
        filled = fill_prices(every_close)
        return filled[:, days], filled[:, days], filled[:, -1]
    every_open = np.ascontiguousarray(opens.to_numpy(dtype=np.float64).T)
    filled_opens, filled_closes = fill_open_close(every_open, every_close)
    return filled_closes[:, days], filled_opens[:, days], filled_closes[:, -1]


def on_days(values: FloatArray, days: IntArray) -> FloatArray:
    """The rows ``days`` of a ``(n, m)`` array as ``(m, J)``, gathered along its memory
    order (the engine's frames are asset-major: gathering rows would stride)."""
    if values.strides[0] < values.strides[1]:
        # Fancy indexing, then one small copy: np.take would first copy the whole array
        # when its rows are a slice (the engine's holdings are).
        return np.ascontiguousarray(values.T[:, days])
    return np.take(values, days, axis=0).T


def trade_costs(
    shares: FloatArray,
    fill: FloatArray,
    signs: Int8Array,
    day_costs: FloatArray,
    day_turnover: FloatArray,
    commission: float,
    start: IntArray,
) -> FloatArray:
    """Each trade's costs in units of the starting capital, ``(k,)``, from the reading
    days' shares ``(m, J)`` and the engine's costs and turnover on those days ``(J,)``.

    The engine gives a day's costs and turnover as fractions of its pre-cost value; the
    traded value of each asset (the change of its shares at the fill) recovers that value,
    the commission goes to each asset traded and the proportional rest pro rata.
    """
    m, j_days = shares.shape
    paying = np.flatnonzero(day_costs > 0)
    if len(paying) == 0:
        return np.zeros(len(start))
    new = shares[:, paying]
    old = shares[:, np.maximum(paying - 1, 0)]
    if paying[0] == 0:  # nothing is held before the first day
        old[:, 0] = 0.0
    traded = np.abs(new - old)
    traded *= fill[:, paying]
    traded_total = traded.sum(axis=0)
    pre_value = traded_total / day_turnover[paying]
    rest = day_costs[paying] * pre_value
    if commission:
        fixed = commission * (traded > TRADE_EPSILON * pre_value)
        rest = np.maximum(rest - fixed.sum(axis=0), 0.0)
    asset_cost = np.divide(traded, traded_total, out=np.zeros_like(traded), where=traded > 0)
    asset_cost *= rest
    if commission:
        asset_cost += fixed
    # What closes a position is the closing trade's: all of it when the position goes to
    # 0, the closing side's share on a flip; the rest is the trade held after it.
    size_old, size_new = np.abs(old), np.abs(new)
    sizes = size_old + size_new
    flips = (signs[:, paying + 1] != signs[:, paying]) & (sizes > 0)
    closing = np.divide(size_old, sizes, out=np.zeros_like(sizes), where=flips)
    closing *= asset_cost
    rows = (np.arange(m) * j_days)[:, None]
    positions = np.concatenate([(rows + paying).ravel(), (rows + paying - 1).ravel()])
    values = np.concatenate([(asset_cost - closing).ravel(), closing.ravel()])
    paid = values > 0
    trade = np.searchsorted(start, positions[paid], side="right") - 1
    return np.bincount(trade, weights=values[paid], minlength=len(start)).astype(
        np.float64, copy=False
    )
