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

from ._trade_arrays import DIRECTIONS, REASONS, TradeArrays
from ._trade_prices import on_days, prices_on, trade_costs
from ._trade_statistics import trade_statistics

__all__ = [
    "TRADE_COLUMNS",
    "TradeArrays",
    "count_trades",
    "trade_arrays",
    "trade_list",
    "trade_statistics",
    "typed_labels",
]


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
    return trade_arrays(
        holdings,
        returns,
        closes,
        opens=opens,
        turnover=turnover,
        costs=costs,
        commission=commission,
        stop_exits=stop_exits,
    ).frame()


def trade_arrays(
    holdings: pd.DataFrame,
    returns: pd.Series,
    closes: pd.DataFrame,
    *,
    opens: pd.DataFrame | None = None,
    turnover: pd.Series | None = None,
    costs: pd.Series | None = None,
    commission: float = 0.0,
    stop_exits: pd.DataFrame | None = None,
) -> TradeArrays:
    """:func:`trade_list`'s trades as arrays (same arguments)."""
    trades = _trade_arrays(holdings, returns, closes, opens, turnover, costs, commission)
    if stop_exits is not None and len(stop_exits) and len(trades.pnl):
        # Each stop's (asset, day) as one key, its first rule if several share a key.
        n = len(trades.index)
        keys = trades.columns.get_indexer(pd.Index(stop_exits["asset"])) * (n + 1)
        keys += trades.index.get_indexer(pd.Index(stop_exits["date"]))
        rules = REASONS.get_indexer(pd.Index(stop_exits["rule"])).astype(np.int8)
        keys, first = np.unique(keys, return_index=True)
        wanted = trades.asset * (n + 1) + trades.exit_day
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        stopped = (keys[at] == wanted) & ~trades.is_open
        trades.reason[stopped] = rules[first[at[stopped]]]
    return trades


def _trade_arrays(
    holdings: pd.DataFrame,
    returns: pd.Series,
    closes: pd.DataFrame,
    opens: pd.DataFrame | None,
    turnover: pd.Series | None,
    costs: pd.Series | None,
    commission: float,
) -> TradeArrays:
    index = holdings.index
    n = len(index)
    if n == 0:
        none, nothing = np.zeros(0, dtype=np.int64), np.zeros(0)
        return TradeArrays(
            holdings.columns,
            index,
            none,
            none,
            none,
            nothing,
            nothing,
            nothing,
            np.zeros(0, dtype=np.bool_),
            nothing,
            nothing,
            nothing,
            np.zeros(0, dtype=np.int8),
        )
    weights = holdings.to_numpy(dtype=np.float64)  # (n, m): the engine's is a view
    equity = np.cumprod(1.0 + returns.to_numpy(dtype=np.float64), dtype=np.float64)
    days = _reading_days(returns, turnover)
    held = on_days(weights, days)  # (m, J)
    close, fill, last_close = prices_on(closes, opens, days, held)
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
        cost = trade_costs(shares, fill, signs, day_costs, day_turnover, commission, start)
    is_open = after == j_days
    last = np.minimum(after, j_days - 1)
    exit_day = np.where(is_open, n, days[last])
    entry_price = fill[asset, first]
    pnl = gross - cost
    stake = np.abs(shares[asset, first]) * entry_price
    trade_return = np.full(len(start), np.nan)
    np.divide(pnl, stake, out=trade_return, where=stake > 0)
    return TradeArrays(
        holdings.columns,
        index,
        asset,
        days[first],
        exit_day,
        signs[asset, first + 1].astype(np.float64),
        entry_price,
        np.where(is_open, last_close[asset], fill[asset, last]),
        is_open,
        trade_return,
        pnl,
        cost,
        (~is_open).astype(np.int8),  # "open" or "signal" until a stop says otherwise
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


def typed_labels(trades: pd.DataFrame) -> pd.DataFrame:
    """A trade list read back from text with its label columns as :func:`trade_list`
    makes them (categoricals); a label it never writes becomes NaN."""
    for column, labels in (("direction", DIRECTIONS), ("exit_reason", REASONS)):
        if column in trades.columns:
            trades[column] = pd.Categorical(trades[column], categories=labels)
    return trades
