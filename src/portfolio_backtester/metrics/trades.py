"""Trades from the engine's daily holdings: the trade list and its statistics.

A *trade* is a position in one asset from the day it opens to the day it closes or flips
sign. Resizing an open position (a rebalance back to its target, a new target of the same
sign) is not a new trade: the engine's count of traded assets per rebalance is an order
count, and it is no measure of how often a strategy changes its mind.

The holdings are the engine's end-of-day weights after drift (``SimulationResult.weights``):
an asset is held on day t when its weight at t's close is not 0. A trade opens on the first
day with a holding and closes on the first day after it with no holding (or one of the
other sign), so its ``holding_days`` are the days that end with it held. Both happen at the
price the engine trades at on that day: the close with ``execution: close``, the open with
``next_open`` (then the row of the decision date still shows the old holding). A position
still held on the last day is marked ``open``, valued at that day's close.

Profit and loss come from the equity path, in units of the starting capital (1.0): the
``s = weight * equity / close`` shares held after a trade on day b earn
``s * (fill[b'] - fill[b])`` until the next trade on day b' (or the last close), and that
belongs to the trade holding the asset after b. The cost of trading an asset goes to the
trade it opens, resizes or closes (a flip splits it by the size of each side). Over all
trades, ``pnl`` sums to the equity's gain less the interest on cash.

Between two days that trade the engine's share counts are fixed, so with the engine's
``turnover`` the holdings are read only on the days it is not 0 (and on the day of a ruin):
a monthly strategy costs a twentieth of the daily one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..simulation._kernel import TRADE_EPSILON, fill_open_close, fill_prices
from ..simulation._stops import STOP_RULES
from ._trade_statistics import trade_statistics

__all__ = ["TRADE_COLUMNS", "count_trades", "trade_list", "trade_statistics", "typed_labels"]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int8Array = npt.NDArray[np.int8]

TRADE_COLUMNS = (
    "asset",
    "direction",
    "entry_date",
    "entry_price",
    "exit_date",
    "exit_price",
    "open",
    "holding_days",
    "return",
    "pnl",
    "costs",
    "exit_reason",
)
"""The trade list's columns, in order."""


def count_trades(weights: FloatArray) -> int:
    """How many trades ``weights`` (asset-major ``(m, n)`` holdings) open: the days an
    asset's holding becomes nonzero or changes sign. What ``constraints.min_trades`` reads."""
    if weights.size == 0:
        return 0
    return len(_bounds(_padded_signs(weights))[0])


def trade_list(
    holdings: pd.DataFrame,
    returns: pd.Series,
    closes: pd.DataFrame,
    *,
    opens: pd.DataFrame | None = None,
    turnover: pd.Series | None = None,
    costs: pd.Series | None = None,
    commission: float = 0.0,
    stop_exits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per trade, ordered by asset (as in ``holdings``) then entry date.

    ``holdings``: ``(n, m)`` end-of-day weights after drift, as the engine returns them.
    ``returns``: ``(n,)`` the portfolio's daily returns on the same days. ``closes`` (and
    ``opens`` when the engine traded at the next open): ``(n, m)`` prices on those days and
    columns, missing prices carried forward as the engine does. ``turnover``: the engine's
    daily turnover; without it every day's holdings are read. ``costs``: the engine's
    daily costs, a fraction of the pre-cost value like ``turnover`` (needed with it);
    without them the costs are 0. ``commission``: the fixed cost per traded asset, in units
    of the starting capital (the scenario's commission over its initial capital).

    Columns :data:`TRADE_COLUMNS`: ``direction`` "long" or "short"; ``return`` is the
    trade's ``pnl`` over its value on entry (for a trade never resized: the price move in
    its direction, less costs); ``pnl`` and ``costs`` in units of the starting capital,
    ``pnl`` net of ``costs``. ``exit_reason``: the stop rule that closed the trade (from
    the engine's ``stop_exits``, matched by asset and exit date), else "signal"; "open" for
    a trade still open.
    """
    trades = _trade_frame(holdings, returns, closes, opens, turnover, costs, commission)
    if stop_exits is not None and len(stop_exits) and len(trades):
        rules = pd.Series(
            stop_exits["rule"].to_numpy(),
            index=pd.MultiIndex.from_arrays([stop_exits["asset"], stop_exits["date"]]),
        )
        rules = rules[~rules.index.duplicated()]
        keys = pd.MultiIndex.from_arrays([trades["asset"], trades["exit_date"]])
        found = rules.reindex(keys).to_numpy()
        stopped = pd.notna(found) & ~trades["open"].to_numpy()
        codes = trades["exit_reason"].cat.codes.to_numpy().copy()
        codes[stopped] = _REASONS.get_indexer(found[stopped])
        trades["exit_reason"] = pd.Categorical.from_codes(codes, categories=_REASONS)
    return trades


def _trade_frame(
    holdings: pd.DataFrame,
    returns: pd.Series,
    closes: pd.DataFrame,
    opens: pd.DataFrame | None,
    turnover: pd.Series | None,
    costs: pd.Series | None,
    commission: float,
) -> pd.DataFrame:
    index = holdings.index
    n = len(index)
    if n == 0:
        nothing = np.zeros(0)
        return _frame(
            holdings.columns[:0],
            index[:0],
            nothing,
            nothing,
            index[:0],
            nothing,
            nothing,
            nothing,
            nothing,
            nothing,
            nothing,
        )
    weights = holdings.to_numpy(dtype=np.float64)  # (n, m): the engine's is a view
    equity = np.cumprod(1.0 + returns.to_numpy(dtype=np.float64), dtype=np.float64)
    days = _reading_days(returns, turnover)
    held = _on_days(weights, days)  # (m, J)
    close, fill, last_close = _prices_on(closes, opens, days, held)
    shares = held * (equity[days] / close)
    signs = _padded_signs(held)
    start, end = _bounds(signs)  # positions in the flattened (m, J) grid
    j_days = len(days)
    asset, first = np.divmod(start, j_days)
    after = end - asset * j_days  # J: still open on the last day
    gross = _segment_sums(_earnings(shares, fill, last_close), start, end)
    cost = np.zeros(len(start))
    if turnover is not None and costs is not None and len(start):
        day_costs = costs.to_numpy(dtype=np.float64)[days]
        day_turnover = turnover.to_numpy(dtype=np.float64)[days]
        cost = _trade_costs(shares, fill, signs, day_costs, day_turnover, commission, start)
    is_open = after == j_days
    last = np.minimum(after, j_days - 1)
    exit_day = np.where(is_open, n, days[last])
    entry_price = fill[asset, first]
    pnl = gross - cost
    stake = np.abs(shares[asset, first]) * entry_price
    trade_return = np.full(len(start), np.nan)
    np.divide(pnl, stake, out=trade_return, where=stake > 0)
    return _frame(
        holdings.columns.take(asset),
        index.take(days[first]),
        signs[asset, first + 1].astype(np.float64),
        entry_price,
        index.take(np.minimum(exit_day, n - 1)),
        np.where(is_open, last_close[asset], fill[asset, last]),
        is_open,
        exit_day - days[first],
        trade_return,
        pnl,
        cost,
    )


def _reading_days(returns: pd.Series, turnover: pd.Series | None) -> IntArray:
    """The days whose holdings are read: the first, every day that trades and the day of a
    ruin (when the engine sets every holding to 0); every day without ``turnover``."""
    if turnover is None:
        return np.arange(len(returns))
    read = turnover.to_numpy(dtype=np.float64) > 0
    read |= returns.to_numpy(dtype=np.float64) <= -1.0
    read[0] = True
    return np.flatnonzero(read)


def _prices_on(
    closes: pd.DataFrame, opens: pd.DataFrame | None, days: IntArray, held: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The closes and the fills, ``(m, J)``, on ``days``, and the last day's closes ``(m,)``.

    A missing price is carried forward as the engine does; where nothing is held or traded
    it does not matter and is 1 (the engine's placeholder), which spares the carrying.
    """
    values = closes.to_numpy(dtype=np.float64)
    close = _on_days(values, days)
    fill = close if opens is None else _on_days(opens.to_numpy(dtype=np.float64), days)
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


def _on_days(values: FloatArray, days: IntArray) -> FloatArray:
    """The rows ``days`` of a ``(n, m)`` array as ``(m, J)``, gathered along its memory
    order (the engine's frames are asset-major: gathering rows would stride)."""
    if values.strides[0] < values.strides[1]:
        # Fancy indexing, then one small copy: np.take would first copy the whole array
        # when its rows are a slice (the engine's holdings are).
        return np.ascontiguousarray(values.T[:, days])
    return np.take(values, days, axis=0).T


def _padded_signs(weights: FloatArray) -> Int8Array:
    """-1, 0 or 1 per holding, ``(m, J + 2)`` with a column of 0 on either side: a weight
    is held when it is not exactly 0 (the engine's weights are 0 exactly without shares)."""
    m, j_days = weights.shape
    signs = np.zeros((m, j_days + 2), dtype=np.int8)
    inner = signs[:, 1:-1]
    np.greater(weights, 0.0, out=inner.view(np.bool_))
    inner -= (weights < 0.0).view(np.int8)
    return signs


def _bounds(signs: Int8Array) -> tuple[IntArray, IntArray]:
    """Each trade's first column and the column after its last, as positions in the
    flattened ``(m, J)`` grid: ``asset * J + column``; the end is ``asset * J + J`` when the
    trade is open."""
    width = signs.shape[1] - 1  # J + 1 comparisons of each column with the one before
    changes = np.flatnonzero(signs[:, 1:] != signs[:, :-1])
    row, column = np.divmod(changes, width)
    starts = changes[signs[row, column + 1] != 0]
    ends = changes[signs[row, column] != 0]
    # One column more per asset in the (m, J + 1) grid of changes than in (m, J).
    return starts - starts // width, ends - ends // width


def _earnings(shares: FloatArray, fill: FloatArray, last_close: FloatArray) -> FloatArray:
    """What the shares after each reading day's trade earn until the next one (the last:
    until the last close), flattened ``(m * J + 1,)`` with a 0 at the end, so that a trade
    open on the last day has an end to sum to."""
    m, j_days = shares.shape
    buffer = np.zeros(m * j_days + 1)
    step = buffer[:-1].reshape(m, j_days)
    step[:, :-1] = fill[:, 1:]
    step[:, -1] = last_close
    step -= fill
    step *= shares
    return buffer


def _segment_sums(values: FloatArray, start: IntArray, end: IntArray) -> FloatArray:
    """``values[start[k]:end[k]].sum()`` for every k; the segments are sorted and disjoint."""
    if len(start) == 0:
        return np.zeros(0)
    bounds = np.empty(2 * len(start), dtype=np.int64)
    bounds[0::2] = start
    bounds[1::2] = end
    sums: FloatArray = np.add.reduceat(values, bounds)[0::2]
    return sums


def _trade_costs(
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


_DIRECTIONS = pd.Index(["long", "short"])
_REASONS = pd.Index(["open", "signal", *STOP_RULES])


def typed_labels(trades: pd.DataFrame) -> pd.DataFrame:
    """A trade list read back from text with its label columns as :func:`trade_list`
    makes them (categoricals); a label it never writes becomes NaN."""
    for column, labels in (("direction", _DIRECTIONS), ("exit_reason", _REASONS)):
        if column in trades.columns:
            trades[column] = pd.Categorical(trades[column], categories=labels)
    return trades


def _frame(
    assets: pd.Index,
    entry_dates: pd.Index,
    direction: FloatArray,
    entry_price: FloatArray,
    exit_dates: pd.Index,
    exit_price: FloatArray,
    is_open: npt.NDArray[np.bool_] | FloatArray,
    holding_days: IntArray | FloatArray,
    trade_return: FloatArray,
    pnl: FloatArray,
    cost: FloatArray,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset": assets,
            # Categoricals: two or five labels, cheaper than a string per row.
            "direction": pd.Categorical.from_codes(
                (direction < 0).astype(np.int8), categories=_DIRECTIONS
            ),
            "entry_date": entry_dates,
            "entry_price": entry_price,
            "exit_date": exit_dates,
            "exit_price": exit_price,
            "open": np.asarray(is_open, dtype=np.bool_),
            "holding_days": np.asarray(holding_days, dtype=np.int64),
            "return": trade_return,
            "pnl": pnl,
            "costs": cost,
            "exit_reason": pd.Categorical.from_codes(
                np.where(np.asarray(is_open, dtype=np.bool_), 0, 1).astype(np.int8),
                categories=_REASONS,
            ),
        }
    )
