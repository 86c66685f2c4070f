"""Rebalancing rules and cost models on plain numpy arrays: a loop over executions.

Arrays are laid out as in :mod:`._kernel`. Dropping executions whose target did not change
keeps the kernel's vectorised path; a band or a minimum trade makes each execution depend
on what the previous ones left untraded, and the cost models of :mod:`._costs` are
per-asset functions of each execution's trades that the kernel's fixed-point solve
cannot carry, so :func:`run_executions` walks the executions one by one (numpy over the
``m`` assets of each). Borrow and financing accrue on every day's book, so with them it
also walks the days between executions, as scalars. Used only when one of these is set.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._costs import (
    BORROW,
    BPS,
    COMMISSION,
    COST_KINDS,
    FINANCING,
    IMPACT,
    PER_SHARE,
    SPREAD,
    CostModels,
    order_costs,
)
from ._kernel import (
    TRADE_EPSILON,
    BoolArray,
    FloatArray,
    IntArray,
    KernelOutput,
    Terms,
    daily_cash,
    daily_outputs,
)
from ._stops import StopBook, StopUndefinedError

__all__ = ["changed_targets", "run_executions"]


def changed_targets(targets: FloatArray) -> BoolArray:
    """Which of the ``(m, J)`` cleaned targets differ from the one before, ``(J,)``.

    The first always counts (it trades out of cash). Each is compared with the row right
    before it, executed or not, so the rule needs no pass over the executions.
    """
    keep = np.ones(targets.shape[1], dtype=np.bool_)
    if targets.shape[1] > 1:
        np.any(np.abs(np.diff(targets, axis=1)) > TRADE_EPSILON, axis=0, out=keep[1:])
    return keep


def run_executions(
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
    models: CostModels,
    stops: StopBook | None = None,
    asked: FloatArray | None = None,
) -> KernelOutput:
    """:func:`._kernel.run` where an execution trades only the assets that need it and
    pays the cost ``models``; the output carries each kind's daily costs.

    At execution j, with pre-trade value ``V`` and drifted weights ``d``, asset i is traded
    to its target ``w`` only when ``|d - w| > band`` (``band * |w|`` if ``relative``; no
    band: any drift), ``|d - w| > TRADE_EPSILON`` and ``|d - w| >= min_trade``. The others
    keep their shares; cash pays the traded assets' changes and the costs, which are
    charged on the traded assets only (:func:`._costs.order_costs`). Borrow and
    financing are charged at the start of each day on the previous close's book.

    With ``stops``, the days between executions are checked for stops
    (:class:`._stops.StopBook`), and each stop's exit is an execution of its own that
    sells the assets it takes out; the cost models' per-execution arrays are then by day
    (row ``position - start``) rather than by scheduled execution. ``asked``: the targets
    before cleaning, ``(m, J)`` as ``targets``, which decide when a stopped asset returns.
    """
    initial_capital, cost_rate = terms.initial_capital, terms.cost_rate
    commission, daily_cash_rate = terms.commission, terms.daily_cash_rate
    m, n = closes.shape
    n_exec = len(exec_positions)
    n_out = n - start
    done: list[int] = []
    columns = [np.zeros(m)]  # shares after each execution; the first: nothing, before
    cash_after = [initial_capital]
    turnover: list[float] = []
    trades: list[int] = []
    kinds: list[FloatArray] = []  # each kind over the pre-trade value, per execution
    accrues = models.accrues
    has_models = models.per_share_on or models.half_spread is not None or models.impact > 0.0
    book = _Book(closes, start, 1.0 + daily_cash_rate, models) if accrues else None
    cash = initial_capital
    held = columns[0]
    since = start
    j = 0
    growth = 1.0 + daily_cash_rate
    # A ruined or overflowing value is cut off afterwards (daily_outputs), not warned about.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while True:
            scheduled = int(exec_positions[j]) if j < n_exec else -1
            exit_: tuple[int, BoolArray] | None = None
            forced: BoolArray | None = None
            only: BoolArray | None
            if stops is not None and j > 0:
                exit_ = stops.next_exit(since, scheduled if scheduled >= 0 else n - 1)
            if stops is not None and exit_ is not None and exit_[0] != scheduled:
                at, only = exit_
                price = stops.exit_prices[:, at]
            elif scheduled >= 0:
                at, price, only = scheduled, exec_prices[:, j], None
                target = targets[:, j]
                if stops is not None:
                    target = stops.admit(target, targets[:, j] if asked is None else asked[:, j])
                if exit_ is not None:  # a stop's exit on a rebalance: no band keeps it
                    forced = exit_[1]
                j += 1
            else:
                break
            row = at - start if stops is not None else len(done)
            holding = held * price
            if book is not None:
                cash = book.accrue(cash, held, since, at)
            elif at != since:
                cash *= growth ** (at - since)
            value = float(holding.sum()) + cash
            if only is None:
                wanted = target * value
                change = wanted - holding
                size = np.abs(change) / abs(value)
                if band is None:
                    limit: FloatArray | float = TRADE_EPSILON
                elif relative:
                    limit = np.maximum(band * np.abs(target), TRADE_EPSILON)
                else:
                    limit = max(band, TRADE_EPSILON)
                trade = size > limit
                if min_trade:
                    trade &= size >= min_trade
                if forced is not None:
                    trade |= forced & (size > TRADE_EPSILON)
                after = np.where(trade, wanted / price, held)
            else:  # a stop's exit: sell what it takes out, keep the rest
                trade, change = only, -holding
                after = np.where(only, 0.0, held)
            moved = change[trade]
            traded = np.abs(moved)
            n_traded = len(traded)
            traded_sum = float(traded.sum())
            bps, fixed = cost_rate * traded_sum, commission * n_traded
            cost = bps + fixed
            paid = np.zeros(len(COST_KINDS))
            paid[BPS], paid[COMMISSION] = bps / value, fixed / value
            if has_models and n_traded:
                per_share, spread, impact = order_costs(models, traded, price, trade, row)
                cost += per_share + spread + impact
                paid[PER_SHARE] = per_share / value
                paid[SPREAD] = spread / value
                paid[IMPACT] = impact / value
            cash -= float(moved.sum()) + cost
            if stops is not None:
                stops.traded(held, after, price, at, forced)
            held = after
            columns.append(after)
            cash_after.append(cash)
            if book is not None:
                book.cash[at - start] = cash
            done.append(at)
            turnover.append(traded_sum / value)
            trades.append(n_traded)
            kinds.append(paid)
            since = at
        if book is not None:
            book.accrue(cash, held, since, n - 1)

        positions = np.array(done, dtype=np.int64)
        seg_start = np.concatenate([[start], positions])
        seg_length = np.diff(seg_start, append=n)
        holdings = np.repeat(np.column_stack(columns), seg_length, axis=1)
        holdings *= closes[:, start:]
        if book is not None:
            cash_daily = book.cash
        else:
            cash_daily = daily_cash(np.array(cash_after), seg_start, seg_length, daily_cash_rate)
        value_daily = holdings.sum(axis=0)
        value_daily += cash_daily
        holdings /= value_daily
        previous = np.concatenate([[initial_capital], value_daily[:-1]])
        returns = value_daily / previous
        returns -= 1.0
        at_out = positions - start
        paid_all = np.array(kinds).reshape(-1, len(COST_KINDS)).T
        breakdown = np.zeros((len(COST_KINDS), n_out))
        breakdown[:, at_out] = paid_all
        if book is not None:
            # Accruals are over the previous close's value, the book they are charged on.
            breakdown[BORROW] = book.borrow / previous
            breakdown[FINANCING] = book.financing / previous
    out = daily_outputs(
        returns,
        holdings,
        value_daily,
        at_out,
        np.array(turnover),
        paid_all.sum(axis=0),
        np.array(trades, dtype=np.int64),
    )
    if out.ruined_at >= 0:
        breakdown[:, out.ruined_at + 1 :] = 0.0
    out.costs[:] = breakdown.sum(axis=0)
    exits = None
    if stops is not None:
        exits = np.array(stops.events, dtype=np.int64).reshape(-1, 3)
        exits[:, 0] -= start
        if out.ruined_at >= 0:
            exits = exits[exits[:, 0] <= out.ruined_at]
        if stops.undefined is not None:  # after a ruin nothing is held: no stop to set
            at, asset = stops.undefined
            if out.ruined_at < 0 or at - start <= out.ruined_at:
                raise StopUndefinedError(at, asset)
    return replace(out, cost_breakdown=breakdown, stop_exits=exits)


class _Book:
    """The daily cash path of a run with borrow or financing: a scalar loop over days.

    Each day's cash is the previous close's cash with interest, less the borrow fee on
    the previous close's short value and the financing fee on a negative balance.
    """

    def __init__(
        self, closes: FloatArray, start: int, cash_growth: float, models: CostModels
    ) -> None:
        n_out = closes.shape[1] - start
        self.closes, self.start, self.growth = closes, start, cash_growth
        self.borrow_rate, self.financing_rate = models.daily_borrow, models.daily_financing
        self.cash = np.empty(n_out)
        self.cash[0] = np.nan  # set by the first execution, or by accrue from `start`
        self.borrow = np.zeros(n_out)
        self.financing = np.zeros(n_out)

    def accrue(self, cash: float, held: FloatArray, since: int, until: int) -> float:
        """Cash at each close of days ``since + 1 .. until`` holding ``held`` shares,
        from ``cash`` at ``since``'s close (recorded); the cash on ``until``."""
        lo = since - self.start
        self.cash[lo] = cash
        days = until - since
        if days <= 0:
            return cash
        shorts = float(held.min()) < 0.0
        if not shorts and cash >= 0.0:
            # Nothing to borrow and no debt (interest keeps the sign): no fee on any day.
            if days == 1:  # daily rebalancing: no arrays for one number
                cash *= self.growth
                self.cash[lo + 1] = cash
                return cash
            path = cash * self.growth ** np.arange(1, days + 1)
            self.cash[lo + 1 : lo + 1 + days] = path
            return float(path[-1])
        if shorts:
            short = np.maximum(-held, 0.0)
            short_value = (short @ self.closes[:, since:until]).tolist()
        else:
            short_value = [0.0] * days
        growth, borrow_rate, financing_rate = self.growth, self.borrow_rate, self.financing_rate
        cash_path, borrows, financings = [], [], []
        for short_then in short_value:
            borrow = borrow_rate * short_then
            financing = -financing_rate * cash if cash < 0.0 else 0.0
            cash = cash * growth - borrow - financing
            cash_path.append(cash)
            borrows.append(borrow)
            financings.append(financing)
        self.cash[lo + 1 : lo + 1 + days] = cash_path
        self.borrow[lo + 1 : lo + 1 + days] = borrows
        self.financing[lo + 1 : lo + 1 + days] = financings
        return cash
