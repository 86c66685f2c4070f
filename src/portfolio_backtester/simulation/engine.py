"""Target weights at rebalance dates to daily portfolio returns, holdings, turnover and costs.

How a portfolio is simulated
----------------------------
The portfolio starts as ``initial_capital`` in cash at the close of the first rebalance
date; earlier dates are not in the output.

*When targets trade.* A row of ``target_weights`` dated t holds fractions of the
portfolio's value at t's close. With ``execution="close"`` it trades at t's close; with
``"next_open"`` at the open of the next row of ``prices.index``, using ``open_prices``
(a target dated on the last row never trades). Either way a weight decided with data up
to t earns returns from t+1 on, never t's own return. With ``"next_open"`` the trade
uses the portfolio's value at that open and the holdings earn open-to-close that day.

*Drift.* Between rebalances share counts are fixed, so weights drift with prices. Cash is
the value not held in assets (negative when levered) and earns ``cash_rate / 252`` per
trading day, credited on the previous close's balance (a negative balance pays it).

*Costs.* Trades are the difference between the target holdings and the drifted pre-trade
holdings, both valued at the pre-cost portfolio value; each rebalance costs
``cost_bps / 1e4 * sum |trade value| + commission * (assets traded)``, taken from cash at
that moment, so that day's return includes them and the new holdings are exactly the
targets times the pre-cost value (vectorbt instead sizes orders so that the post-cost
value matches the target, which makes weights exact but costs implicit). An asset counts
as traded when its weight changes by more than ``1e-12``. ``turnover`` is
``sum |trade value|`` over the pre-cost value (buys plus sells, so switching fully from
one asset to another is 2.0); ``costs`` is the cost over the same value.

*Rebalancing rules* (all off by default: every rebalance trades every asset to its
target). With ``rebalance_when="target_change"`` a rebalance whose cleaned target equals
the row before (every weight within ``1e-12``) trades nothing: shares are held and drift.
With ``band``, an asset whose drifted weight ``d`` is within ``band`` of its target ``w``
(``band * |w|`` with ``band_type="relative"``) keeps its shares; with ``min_trade``, so does
an asset whose trade ``|w - d|`` is below that fraction of the pre-cost value. The other
assets trade to ``w`` times the pre-cost value as usual; cash takes the difference, and
costs are charged on what is traded only. The rules apply to the first rebalance too
(out of cash, ``d = 0``).

*Missing prices.* A ``NaN`` price means the asset cannot be traded that day: its target is
forced to 0 (a holding is sold at its last known price). A held asset whose price goes
missing keeps its last price (return 0) until a price returns. With ``"next_open"`` both
the close on the decision date and the open on the execution date must be present.

*Cleaning targets.* Untradable assets are set to 0; with ``allow_short=False`` negative
targets are clipped to 0 (so a long/short signal becomes its long leg rather than an
error, which suits optimisers exploring parameters); then a row whose gross exposure
``sum |w|`` exceeds ``max_gross_leverage`` is scaled down to it, so the cap applies to
what is really held.

*What is refused* (``DataError`` or ``ScenarioError``, raised once on entry): a target
date missing from ``prices.index``, unknown or duplicated columns or dates, non-finite
targets, prices that are not positive where present, and invalid settings; a value that
overflows (absurd prices or leverage) is refused with the day it happens.

*Ruin.* When the portfolio's value reaches zero or below (a levered or short book can lose
more than it has), that day's return is -100% and nothing is held or traded afterwards:
``SimulationResult.ruined_on`` names the day. A negative value would otherwise turn every
later loss into a gain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError, ScenarioError
from . import _kernel, _rules
from .checks import EXECUTIONS, PreparedPrices, Settings, prepare_prices, prepare_targets

__all__ = [
    "EXECUTIONS",
    "SimulationResult",
    "simulate",
    "simulate_range",
    "simulate_range_arrays",
]


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Daily outputs indexed by ``prices.index`` from the first rebalance date on.

    ``returns``: portfolio simple returns. ``weights``: end-of-day holdings over portfolio
    value, columns ``prices.columns``. ``turnover``: ``sum |traded value|`` over the
    pre-cost value (0 on days without trades). ``costs``: costs over the same value.
    ``trades``: number of assets traded (int).
    """

    returns: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    trades: pd.Series
    ruined_on: pd.Timestamp | None = None
    """The day the portfolio's value reached zero or below: it lost everything that day
    (a return of -100%) and held nothing after it."""


def simulate(
    prices: pd.DataFrame,
    target_weights: pd.DataFrame,
    *,
    cost_bps: float = 0.0,
    commission: float = 0.0,
    initial_capital: float = 1_000_000.0,
    execution: Literal["close", "next_open"] = "close",
    open_prices: pd.DataFrame | None = None,
    cash_rate: float = 0.0,
    max_gross_leverage: float | None = None,
    allow_short: bool = True,
    rebalance_when: Literal["schedule", "target_change"] = "schedule",
    band: float | None = None,
    band_type: Literal["absolute", "relative"] = "absolute",
    min_trade: float = 0.0,
) -> SimulationResult:
    """Hold ``target_weights`` through ``prices``; see the module docstring for the rules.

    ``prices``: ``(n_dates, n_assets)`` closes, ``NaN`` before a ticker is listed.
    ``target_weights``: rows are rebalance dates (a subset of ``prices.index``), columns a
    subset of ``prices.columns`` (missing columns are 0). ``open_prices`` is required for
    ``execution="next_open"`` and ignored otherwise. Inputs are never modified and may
    be read-only.
    """
    settings = Settings(
        cost_bps=cost_bps,
        commission=commission,
        initial_capital=initial_capital,
        execution=execution,
        cash_rate=cash_rate,
        max_gross_leverage=max_gross_leverage,
        allow_short=allow_short,
        rebalance_when=rebalance_when,
        band=band,
        band_type=band_type,
        min_trade=min_trade,
    )
    market = prepare_prices(prices, open_prices if execution == "next_open" else None)
    positions, targets = prepare_targets(target_weights, market)
    if len(positions) == 0:
        return _empty_result(prices)
    last = len(market.index) - 1
    first, out = _simulate_arrays(market, positions, targets, 0, last, settings)
    return _result(market, first, last, out)


def simulate_range(
    market: PreparedPrices,
    positions: npt.NDArray[np.int64],
    targets: npt.NDArray[np.float64],
    start: int,
    end: int,
    settings: Settings,
) -> SimulationResult:
    """Simulate date positions ``start..end``, entering at the targets in force on ``start``.

    Equal to :func:`simulate` on ``prices.iloc[start : end + 1]`` with the rebalance rows
    in that range, preceded by the last earlier row moved to ``start`` (decided with data
    up to then). With no earlier row the outputs start at the range's first rebalance, and
    with no rebalance at all the portfolio holds cash from ``start``.
    """
    first, out = simulate_range_arrays(market, positions, targets, start, end, settings)
    return _result(market, first, end, out)


def simulate_range_arrays(
    market: PreparedPrices,
    positions: npt.NDArray[np.int64],
    targets: npt.NDArray[np.float64],
    start: int,
    end: int,
    settings: Settings,
) -> tuple[int, _kernel.KernelOutput]:
    """:func:`simulate_range` as arrays, and the position of their first date.

    For callers that score many ranges and need only a few of the outputs: building the
    five pandas objects of a :class:`SimulationResult` costs as much as the simulation.
    """
    if not 0 <= start <= end < len(market.index):
        raise DataError(
            f"date positions {start}..{end} are outside the prices' {len(market.index)} rows"
        )
    lo = int(np.searchsorted(positions, start, side="left"))
    hi = int(np.searchsorted(positions, end, side="right"))
    rows = positions[lo:hi]
    chosen = targets[:, lo:hi]
    if (len(rows) == 0 or rows[0] != start) and lo > 0:
        rows = np.concatenate(([start], rows))
        chosen = np.concatenate((targets[:, lo - 1 : lo], chosen), axis=1)
    elif len(rows) == 0:
        rows = np.array([start], dtype=np.int64)
        chosen = np.zeros((len(market.columns), 1))
    return _simulate_arrays(market, rows, chosen, start, end, settings)


def _simulate_arrays(
    market: PreparedPrices,
    positions: npt.NDArray[np.int64],
    targets: npt.NDArray[np.float64],
    first: int,
    last: int,
    settings: Settings,
) -> tuple[int, _kernel.KernelOutput]:
    """The simulation of dates ``first..last`` with rebalances at ``positions`` (absolute);
    the outputs start at the first rebalance, whose position is returned with them."""
    closes = market.closes[:, first : last + 1]
    positions = positions - first
    start = int(positions[0])
    n_dates = last + 1 - first

    if settings.execution == "close":
        filled_closes = _kernel.fill_prices(closes) if market.closes_missing else closes
        exec_positions = positions
        tradable = (
            ~np.isnan(_kernel.take_dates(closes, positions)) if market.closes_missing else None
        )
        exec_prices = _kernel.take_dates(filled_closes, positions)
    else:
        if market.opens is None:
            raise ScenarioError(
                'execution="next_open" needs open_prices; pass them or use execution="close"'
            )
        opens = market.opens[:, first : last + 1]
        keep = positions < n_dates - 1
        positions, targets = positions[keep], targets[:, keep]
        exec_positions = positions + 1
        tradable = None
        filled_opens, filled_closes = opens, closes
        if market.closes_missing or market.opens_missing:
            tradable = ~np.isnan(_kernel.take_dates(closes, positions))
            tradable &= ~np.isnan(_kernel.take_dates(opens, exec_positions))
            filled_opens, filled_closes = _kernel.fill_open_close(opens, closes)
        exec_prices = _kernel.take_dates(filled_opens, exec_positions)

    cleaned = _kernel.clean_targets(
        targets,
        tradable,
        allow_short=settings.allow_short,
        max_gross_leverage=settings.max_gross_leverage,
    )
    if settings.rebalance_when == "target_change":
        changed = _rules.changed_targets(cleaned)
        if not changed.all():
            kept = np.flatnonzero(changed)
            exec_positions, cleaned = exec_positions[kept], _kernel.take_dates(cleaned, kept)
            exec_prices = _kernel.take_dates(exec_prices, kept)
    terms = _kernel.Terms(
        initial_capital=float(settings.initial_capital),
        cost_rate=float(settings.cost_bps) / 1e4,
        commission=float(settings.commission),
        daily_cash_rate=float(settings.cash_rate) / TRADING_DAYS_PER_YEAR,
    )
    arrays = (filled_closes, exec_prices, exec_positions, cleaned, start, terms)
    if settings.trades_every_asset:
        out = _kernel.run(*arrays)
    else:
        out = _rules.run_banded(
            *arrays,
            band=settings.band,
            relative=settings.band_type == "relative",
            min_trade=float(settings.min_trade),
        )
    if out.overflow_at >= 0:
        day = market.index[first + start + out.overflow_at]
        raise DataError(
            f"the portfolio's value is not a finite number on {day:%Y-%m-%d}: prices (up to "
            f"{float(np.nanmax(closes)):.3g}) or leverage are too large to compute with; check "
            "the price file's units"
        )
    return first + start, out


def _result(
    market: PreparedPrices, first: int, last: int, out: _kernel.KernelOutput
) -> SimulationResult:
    index = market.index[first : last + 1]
    return SimulationResult(
        returns=pd.Series(out.returns, index=index, name="returns", copy=False),
        # The transpose is a view whose memory order is pandas' own block layout.
        weights=pd.DataFrame(out.weights.T, index=index, columns=market.columns, copy=False),
        turnover=pd.Series(out.turnover, index=index, name="turnover", copy=False),
        costs=pd.Series(out.costs, index=index, name="costs", copy=False),
        trades=pd.Series(out.trades, index=index, name="trades", copy=False),
        ruined_on=None if out.ruined_at < 0 else pd.Timestamp(index[out.ruined_at]),
    )


def _empty_result(prices: pd.DataFrame) -> SimulationResult:
    index = prices.index[:0]
    return SimulationResult(
        returns=pd.Series(np.zeros(0), index=index, name="returns"),
        weights=pd.DataFrame(
            np.zeros((0, len(prices.columns))), index=index, columns=prices.columns
        ),
        turnover=pd.Series(np.zeros(0), index=index, name="turnover"),
        costs=pd.Series(np.zeros(0), index=index, name="costs"),
        trades=pd.Series(np.zeros(0, dtype=np.int64), index=index, name="trades"),
    )
