"""Rebalancing rules on plain numpy arrays: unchanged targets dropped, bands and minimum trades.

Arrays are laid out as in :mod:`._kernel`. Dropping executions whose target did not change
keeps the kernel's vectorised path; a band or a minimum trade makes each execution depend
on what the previous ones left untraded, so :func:`run_banded` walks the executions one by
one (numpy over the ``m`` assets of each) and is used only when one of them is set.
"""

from __future__ import annotations

import numpy as np

from ._kernel import (
    TRADE_EPSILON,
    BoolArray,
    FloatArray,
    IntArray,
    KernelOutput,
    Terms,
    daily_outputs,
)

__all__ = ["changed_targets", "run_banded"]


def changed_targets(targets: FloatArray) -> BoolArray:
    """Which of the ``(m, J)`` cleaned targets differ from the one before, ``(J,)``.

    The first always counts (it trades out of cash). Each is compared with the row right
    before it, executed or not, so the rule needs no pass over the executions.
    """
    keep = np.ones(targets.shape[1], dtype=np.bool_)
    if targets.shape[1] > 1:
        np.any(np.abs(np.diff(targets, axis=1)) > TRADE_EPSILON, axis=0, out=keep[1:])
    return keep


def run_banded(
    closes: FloatArray,
    exec_prices: FloatArray,
    exec_positions: IntArray,
    targets: FloatArray,
    start: int,
    terms: Terms,
    *,
    band: float | None,
    relative: bool,
    min_trade: float,
) -> KernelOutput:
    """:func:`._kernel.run` where an execution trades only the assets that need it.

    At execution j, with pre-trade value ``V`` and drifted weights ``d``, asset i is traded
    to its target ``w`` only when ``|d - w| > band`` (``band * |w|`` if ``relative``; no
    band: any drift), ``|d - w| > TRADE_EPSILON`` and ``|d - w| >= min_trade``. The others
    keep their shares; cash pays the traded assets' changes and the costs, which are
    charged on the traded value and per traded asset only.
    """
    initial_capital, cost_rate = terms.initial_capital, terms.cost_rate
    commission, daily_cash_rate = terms.commission, terms.daily_cash_rate
    m, n = closes.shape
    n_exec = len(exec_positions)
    seg_start = np.concatenate([[start], exec_positions])
    seg_length = np.diff(seg_start, append=n)
    cash_growth = (1.0 + daily_cash_rate) ** seg_length
    shares = np.zeros((m, n_exec + 1))  # column 0: nothing, before the first execution
    cash_after = np.empty(n_exec + 1)
    cash_after[0] = initial_capital
    turnover = np.zeros(n_exec)
    costs = np.zeros(n_exec)
    trades = np.zeros(n_exec, dtype=np.int64)
    cash = initial_capital
    # A ruined or overflowing value is cut off afterwards (daily_outputs), not warned about.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(n_exec):
            price = exec_prices[:, j]
            held = shares[:, j]
            holding = held * price
            cash *= cash_growth[j]
            value = float(holding.sum()) + cash
            wanted = targets[:, j] * value
            change = wanted - holding
            size = np.abs(change) / abs(value)
            if band is None:
                limit: FloatArray | float = TRADE_EPSILON
            elif relative:
                limit = np.maximum(band * np.abs(targets[:, j]), TRADE_EPSILON)
            else:
                limit = max(band, TRADE_EPSILON)
            trade = size > limit
            if min_trade:
                trade &= size >= min_trade
            shares[:, j + 1] = np.where(trade, wanted / price, held)
            traded = np.abs(change[trade])
            n_traded = len(traded)
            cost = cost_rate * float(traded.sum()) + commission * n_traded
            cash -= float(change[trade].sum()) + cost
            cash_after[j + 1] = cash
            turnover[j] = float(traded.sum()) / value
            costs[j] = cost / value
            trades[j] = n_traded

        holdings = np.repeat(shares, seg_length, axis=1)
        holdings *= closes[:, start:]
        cash_daily = np.repeat(cash_after, seg_length)
        if daily_cash_rate != 0.0:
            days_held = np.arange(start, n) - np.repeat(seg_start, seg_length)
            cash_daily *= (1.0 + daily_cash_rate) ** days_held
        value_daily = holdings.sum(axis=0)
        value_daily += cash_daily
        holdings /= value_daily
        returns = value_daily / np.concatenate([[initial_capital], value_daily[:-1]])
        returns -= 1.0
    return daily_outputs(
        returns, holdings, value_daily, exec_positions - start, turnover, costs, trades
    )
