"""The trade list summed up: the statistics of :func:`.trades.trade_list` in the metrics."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..simulation._stops import STOP_RULES
from ._trade_arrays import REASONS, TradeArrays

__all__ = ["trade_statistics"]

FloatArray = npt.NDArray[np.float64]


def trade_statistics(
    trades: pd.DataFrame | TradeArrays, holdings: pd.DataFrame, *, stops: bool = False
) -> dict[str, float]:
    """The trade list summed up, by display name; NaN where there is nothing to measure.

    - "Trades": the number of trades, those still open at the end included.
    - "Win Rate": the share of trades with a positive ``pnl`` (after their costs; open
      trades at the last close).
    - "Average Win" / "Average Loss": the mean ``return`` of the winning / the other trades.
    - "Profit Factor": the winners' ``pnl`` over the losers' lost ``pnl`` (trades weighted by
      their size; infinite when nothing was lost).
    - "Average Holding Days": the mean number of trading days that end with the trade held.
    - "Exposure": the share of days that end with any position.
    - "Average Gross Exposure": the mean of ``sum |weight|`` at the close, over all days.
    - "Stop Exits" (with ``stops``): the trades a stop closed.

    ``trades``: the trade list, or its arrays (:func:`.trades.trade_arrays`).
    """
    if isinstance(trades, pd.DataFrame):
        pnl = trades["pnl"].to_numpy(dtype=np.float64)
        trade_return = trades["return"].to_numpy(dtype=np.float64)
        holding_days = trades["holding_days"].to_numpy(dtype=np.float64)
        stopped = int(trades["exit_reason"].isin(STOP_RULES).sum())
    else:
        pnl, trade_return = trades.pnl, trades.trade_return
        holding_days = trades.holding_days.astype(np.float64)
        first_stop = len(REASONS) - len(STOP_RULES)  # the stop rules come last
        stopped = int(np.count_nonzero(trades.reason >= first_stop))
    wins = pnl > 0
    gained = float(pnl[wins].sum())
    lost = -float(pnl[~wins].sum())
    if lost > 0:
        factor = gained / lost
    else:
        factor = math.inf if gained > 0 else math.nan
    gross = _gross_exposure(holdings)
    return {
        "Trades": float(len(pnl)),
        "Win Rate": float(wins.mean()) if len(pnl) else math.nan,
        "Average Win": _mean(trade_return[wins]),
        "Average Loss": _mean(trade_return[~wins]),
        "Profit Factor": factor,
        "Average Holding Days": _mean(holding_days),
        "Exposure": float((gross > 0).mean()) if len(gross) else math.nan,
        "Average Gross Exposure": float(gross.mean()) if len(gross) else math.nan,
    } | ({"Stop Exits": float(stopped)} if stops else {})


def _gross_exposure(holdings: pd.DataFrame) -> FloatArray:
    """``sum |weight|`` of each day, ``(n,)``, one asset at a time.

    The engine's holdings are stored asset by asset: each asset's days are one contiguous
    row, and a day-sized buffer replaces a temporary the size of all the holdings.
    """
    values = holdings.to_numpy(dtype=np.float64).T
    gross = np.zeros(values.shape[1])
    if not values.flags.c_contiguous:
        summed: FloatArray = np.abs(values).sum(axis=0)
        return summed
    row = np.empty_like(gross)
    for weights in values:
        np.abs(weights, out=row)
        gross += row
    return gross


def _mean(values: FloatArray) -> float:
    return float(values.mean()) if len(values) else math.nan
