"""The simulation arithmetic on plain numpy arrays: no pandas, no validation.

Arrays are asset-major, ``(m, n)`` for ``m`` assets and ``n`` dates and ``(m, J)`` for
``J`` executed rebalances: that is how pandas stores a float frame's block, so the
transposed values are a view, and sums over assets run over contiguous rows.

Values are tracked per unit of the portfolio's pre-trade value at the segment's
execution, so a whole segment between two rebalances is one broadcast product
``shares * prices``; the only sequential part is the scalar chain of pre-trade values,
solved on whole arrays in :func:`_solve_trades`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "TRADE_EPSILON",
    "KernelOutput",
    "Terms",
    "clean_targets",
    "daily_cash",
    "daily_outputs",
    "fill_open_close",
    "fill_prices",
    "run",
    "take_dates",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TRADE_EPSILON = 1e-12
"""A weight change at or below this is rounding noise, not a trade (no commission)."""

_NEGLIGIBLE_COST = 1e-17
"""A change of costs, as a fraction of value, that cannot move a float64 return."""


@dataclass(frozen=True, slots=True)
class Terms:
    """The money side of a run, the same whichever rule decides what is traded."""

    initial_capital: float
    cost_rate: float
    """Per unit of traded value."""
    commission: float
    """Per traded asset, in currency."""
    daily_cash_rate: float
    """Credited on the previous close's cash each day."""


@dataclass(frozen=True, slots=True)
class KernelOutput:
    """Daily outputs from the first rebalance date on: ``(n_out,)``, weights ``(m, n_out)``."""

    returns: FloatArray
    weights: FloatArray
    turnover: FloatArray
    costs: FloatArray
    trades: IntArray
    ruined_at: int = -1
    """Output position of the day the value reached zero or below (-1: never)."""
    overflow_at: int = -1
    """Output position of the first day whose value is not a finite number (-1: never)."""
    cost_breakdown: FloatArray | None = None
    """``(kinds, n_out)`` each cost kind's share of ``costs`` (``_costs.COST_KINDS``); None
    when only ``cost_rate`` and ``commission`` are charged (derived from the outputs)."""
    stop_exits: IntArray | None = None
    """``(k, 3)`` output position, asset and rule (``_stops.STOP_RULES``) of each stop's
    exit; None when no stops are set."""


def fill_prices(prices: FloatArray) -> FloatArray:
    """Last known price carried forward along dates, ``(m, n)``; 1 before the first price.

    A held asset with a missing price keeps its last value (return 0). An asset not
    priced yet is never held; the placeholder 1 keeps ``0 shares * price`` and
    ``0 weight / price`` at 0 without a mask.
    """
    missing = np.isnan(prices)
    source = np.where(missing, 0, np.arange(prices.shape[1]))
    np.maximum.accumulate(source, axis=1, out=source)
    filled = np.take_along_axis(prices, source, axis=1)
    return np.nan_to_num(filled, nan=1.0, copy=False)


def fill_open_close(opens: FloatArray, closes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`fill_prices` over the time-ordered sequence open_0, close_0, open_1, ...

    A missing open is the previous close; a missing close is that day's open, or else
    the last known price.
    """
    m, n = closes.shape
    interleaved = np.empty((m, 2 * n))
    interleaved[:, 0::2] = opens
    interleaved[:, 1::2] = closes
    filled = fill_prices(interleaved)
    return filled[:, 0::2], filled[:, 1::2]


def take_dates(values: FloatArray, positions: IntArray) -> FloatArray:
    """The ``(m, J)`` columns of ``values`` at date ``positions``, C-ordered.

    A run of consecutive dates (daily rebalancing) is a free slice; ``values[:, positions]``
    would return a Fortran-ordered copy that makes every later row operation slow.
    """
    if len(positions) and positions[-1] - positions[0] == len(positions) - 1:
        return values[:, positions[0] : positions[-1] + 1]
    # Fancy indexing and one small copy: np.take first copies all of ``values`` when its
    # rows are a slice of a longer array (a window of the prices), about 10x slower.
    return np.ascontiguousarray(values[:, positions])


def clean_targets(
    targets: FloatArray,
    tradable: BoolArray | None,
    *,
    allow_short: bool,
    max_gross_leverage: float | None,
) -> FloatArray:
    """Targets the engine can hold, ``(m, J)``; never modifies ``targets``.

    ``tradable`` is ``None`` when every asset has a price on every rebalance date. Order
    matters: untradable assets are zeroed and shorts clipped first, so the leverage cap
    scales what would really be held.
    """
    cleaned = targets
    if tradable is not None and not tradable.all():
        cleaned = np.where(tradable, cleaned, 0.0)
    if not allow_short:
        cleaned = np.maximum(cleaned, 0.0)
    if max_gross_leverage is not None:
        gross = np.abs(cleaned).sum(axis=0)
        over = gross > max_gross_leverage
        if over.any():
            cleaned = cleaned * np.where(
                over, max_gross_leverage / np.where(over, gross, 1.0), 1.0
            )
    return cleaned


def run(
    closes: FloatArray,
    exec_prices: FloatArray,
    exec_positions: IntArray,
    targets: FloatArray,
    start: int,
    terms: Terms,
) -> KernelOutput:
    """Simulate holdings from date ``start`` (the first rebalance date) to the last date.

    ``closes``: ``(m, n)`` filled closes (:func:`fill_prices`). ``exec_prices``: ``(m, J)``
    filled prices at which rebalance ``j`` trades, on date ``exec_positions[j]`` (strictly
    increasing, ``>= start``). ``targets``: ``(m, J)`` cleaned weights of the pre-trade
    value.
    """
    initial_capital, cost_rate = terms.initial_capital, terms.cost_rate
    commission, daily_cash_rate = terms.commission, terms.daily_cash_rate
    m, n = closes.shape
    n_exec = len(exec_positions)
    n_out = n - start
    # Segment 0 is the all-cash stretch before the first execution (no days when trading
    # at the close); segment j+1 holds execution j's shares until the next execution.
    seg_start = np.concatenate([[start], exec_positions])
    seg_length = np.diff(seg_start, append=n)
    every_day = n_exec > 0 and n_exec == n_out - seg_length[0]
    if every_day:
        # Each segment is one day: the shares, times the closes, are the holdings, so
        # they are computed in place of the output.
        holdings = np.empty((m, n_out))
        holdings[:, : seg_length[0]] = 0.0
        shares = np.divide(targets, exec_prices, out=holdings[:, seg_length[0] :])
    else:
        shares = targets / exec_prices
    invested = targets.sum(axis=0)
    cash_growth = (1.0 + daily_cash_rate) ** seg_length[:-1]
    # Pre-trade holdings at execution j per unit of pre-trade value at execution j-1.
    drifted = shares[:, :-1] * exec_prices[:, 1:]
    growth_before_costs = drifted.sum(axis=0) + (1.0 - invested[:-1]) * cash_growth[1:]
    first_value = initial_capital * cash_growth[0] if n_exec else initial_capital

    # An overflowing value is reported below (overflow_at), not warned about here.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        turnover, trades, pre_value = _solve_trades(
            targets,
            drifted,
            growth_before_costs,
            cash_growth,
            first_value,
            cost_rate=cost_rate,
            commission=commission,
        )
        del drifted
        costs = cost_rate * turnover + commission * trades / pre_value

        if not every_day:
            holdings = np.repeat(np.hstack([np.zeros((m, 1)), shares]), seg_length, axis=1)
        holdings *= closes[:, start:]
        cash = daily_cash(
            np.concatenate([[1.0], 1.0 - invested - costs]), seg_start, seg_length, daily_cash_rate
        )
        total = holdings.sum(axis=0)
        total += cash
        holdings /= total
        value = np.repeat(np.concatenate([[initial_capital], pre_value]), seg_length)
        value *= total
        returns = value / np.concatenate([[initial_capital], value[:-1]])
        returns -= 1.0

    return daily_outputs(returns, holdings, value, exec_positions - start, turnover, costs, trades)


def daily_cash(
    after: FloatArray, seg_start: IntArray, seg_length: IntArray, daily_cash_rate: float
) -> FloatArray:
    """Each day's cash from the cash ``after`` each segment's trade, ``(J + 1,)``, with
    interest compounded daily since the segment began."""
    cash = np.repeat(after, seg_length)
    if daily_cash_rate != 0.0:
        days_held = np.arange(len(cash)) - np.repeat(seg_start - seg_start[0], seg_length)
        cash *= (1.0 + daily_cash_rate) ** days_held
    return cash


def daily_outputs(
    returns: FloatArray,
    holdings: FloatArray,
    value: FloatArray,
    at: IntArray,
    turnover: FloatArray,
    costs: FloatArray,
    trades: IntArray,
) -> KernelOutput:
    """The outputs from daily ``returns``, ``holdings`` ``(m, n_out)`` and ``value``, with
    each execution's ``turnover``, ``costs`` and ``trades`` ``(J,)`` put on its output day
    ``at``; ruin and overflow found. Modifies ``returns`` and ``holdings`` in place."""
    n_out = len(returns)
    daily_turnover = np.zeros(n_out)
    daily_turnover[at] = turnover
    daily_costs = np.zeros(n_out)
    daily_costs[at] = costs
    daily_trades = np.zeros(n_out, dtype=np.int64)
    daily_trades[at] = trades
    overflow_at = _first(~np.isfinite(value))
    ruined_at = _first(value <= 0.0)
    if ruined_at >= 0 and (overflow_at < 0 or ruined_at < overflow_at):
        # Ruin: everything is lost that day and nothing is held or traded after it (a
        # negative value would otherwise flip the sign of every later return).
        overflow_at = -1
        returns[ruined_at] = -1.0
        returns[ruined_at + 1 :] = 0.0
        holdings[:, ruined_at:] = 0.0
        for daily in (daily_turnover, daily_costs, daily_trades):
            daily[ruined_at + 1 :] = 0
    else:
        ruined_at = -1
    return KernelOutput(
        returns,
        holdings,
        daily_turnover,
        daily_costs,
        daily_trades,
        ruined_at=ruined_at,
        overflow_at=overflow_at,
    )


def _first(mask: npt.NDArray[np.bool_]) -> int:
    """Position of the first True, or -1."""
    found = np.flatnonzero(mask)
    return int(found[0]) if found.size else -1


def _solve_trades(
    targets: FloatArray,
    drifted: FloatArray,
    growth_before_costs: FloatArray,
    cash_growth: FloatArray,
    first_value: float,
    *,
    cost_rate: float,
    commission: float,
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Turnover, traded-asset counts and pre-trade values ``x`` of each execution, ``(J,)``.

    Costs at execution j lower the value at j+1, which changes the pre-trade weights and
    so the trades at j+1: a chain. Instead of a Python loop over rebalances this iterates
    on whole arrays. Given the turnovers and counts, ``x[j+1] = a[j] x[j] - b[j]`` (``a``:
    growth net of proportional costs, ``b``: commissions carried with the cash) is solved
    with cumulative products as ``x[j] = P[j] (x[0] - sum_{l<j} b[l] / P[l+1])``; given
    the values, the trades are one vectorised step.

    Entry j depends only on entries before it, so each pass fixes at least one more entry
    (the loop always ends, at worst after J passes). With realistic costs the changes
    shrink by a factor of about ``cost_rate * gross leverage`` per pass, and the loop
    stops once they no longer move costs by more than 1e-17 of the value: after about
    six passes at 10 bps.
    """
    n_exec = targets.shape[1]
    turnover = np.zeros(n_exec)
    trades = np.zeros(n_exec, dtype=np.int64)
    pre_value = np.full(n_exec, first_value)
    if n_exec == 0:
        return turnover, trades, pre_value
    # The first execution trades out of cash: the trade is the target itself.
    first_trade = np.abs(targets[:, 0])
    turnover[0] = first_trade.sum()
    trades[0] = np.count_nonzero(first_trade > TRADE_EPSILON)
    if n_exec == 1:
        return turnover, trades, pre_value

    proportional = cost_rate * cash_growth[1:]
    carried = commission * cash_growth[1:]
    counts_feed_back = commission != 0.0
    # Buffers reused by every pass: fresh large arrays cost page faults on every call.
    sizes = np.empty_like(drifted)
    above = np.empty(drifted.shape, dtype=np.bool_)
    fixed = 1
    while True:
        growth = growth_before_costs - proportional * turnover[:-1]
        cumulative = np.cumprod(growth)
        if counts_feed_back:
            paid = np.cumsum(carried * trades[:-1] / cumulative)
            np.multiply(cumulative, first_value - paid, out=pre_value[1:])
        else:
            np.multiply(cumulative, first_value, out=pre_value[1:])

        window = sizes[:, fixed - 1 :]
        np.multiply(
            drifted[:, fixed - 1 :], pre_value[fixed - 1 : -1] / pre_value[fixed:], out=window
        )
        np.subtract(targets[:, fixed:], window, out=window)
        np.abs(window, out=window)
        new_turnover = window.sum(axis=0)
        change = new_turnover - turnover[fixed:]
        turnover[fixed:] = new_turnover
        moved = change != 0.0
        if counts_feed_back:
            counted = above[:, fixed - 1 :]
            np.greater(window, TRADE_EPSILON, out=counted)
            new_trades = counted.sum(axis=0)
            recounted = new_trades != trades[fixed:]
            trades[fixed:] = new_trades
            moved |= recounted
        first_moved = int(moved.argmax())
        if not moved[first_moved]:
            break
        negligible = cost_rate * float(np.abs(change).max()) <= _NEGLIGIBLE_COST
        if negligible and not (counts_feed_back and recounted.any()):
            break
        # Entries up to the first change were computed from final inputs only.
        fixed += first_moved + 1
        if fixed >= n_exec:
            break
    if not counts_feed_back:
        np.greater(sizes, TRADE_EPSILON, out=above)
        trades[1:] = above.sum(axis=0)
    return turnover, trades, pre_value
