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

*Cost models* (all off by default; each is a column of
``SimulationResult.cost_breakdown``, and the columns sum to ``costs``). Per order, that
is per traded asset i with traded value ``T_i = |trade value_i|`` and ``S_i = T_i / p_i``
shares at the execution price ``p_i``:

- ``bps``: ``cost_bps / 1e4 * T_i``; ``commission``: ``commission`` (currency).
- ``per_share``: ``min(max(per_share * S_i, per_share_min), per_share_max,
  per_share_max_fraction * T_i)``: the maximums win over the minimum, as at brokers
  charging "$0.005 a share, at least $1, at most 1 % of the trade value" (a $50 order
  pays $0.50). Share counts are those of the given prices (notional for split-adjusted
  ones).
- ``spread``: ``half_spread_bps_i / 1e4 * T_i``, one number for all assets or a mapping
  ticker -> bps (an unnamed ticker pays none).
- ``impact``: ``impact * sigma_i * sqrt(T_i / ADV_i) * T_i`` (square-root law), where
  ``sigma_i`` is the sample standard deviation of the asset's daily close-to-close returns
  and ``ADV_i`` the mean of ``close * volume``, both over the ``volume_window`` days before
  the execution day (the execution day itself excluded, so nothing known at or after the
  trade enters); refused without ``volume``, and for a traded asset with fewer than two
  returns or no volume in that window.

Those are charged at the execution, from cash, on the pre-cost value as above. Two fees
accrue daily instead, charged at the start of each day (before its trades) on the
previous close's book, at annual rates over 252 days: ``borrow``: ``borrow_rate / 252 *
sum_i max(-shares_i, 0) * close_i``; ``financing``: ``financing_rate / 252 * max(-cash,
0)``, on top of ``cash_rate``. In ``costs`` a day's accruals are over the previous close's
value, its execution costs over the pre-cost value at the execution. With only ``cost_bps``
and ``commission`` the vectorised kernel runs; any other model walks the executions (and,
for the two fees, the days) in a loop, as the rebalancing rules below do.

*Rebalancing rules* (all off by default: every rebalance trades every asset to its
target). With ``rebalance_when="target_change"`` a rebalance whose cleaned target equals
the row before (every weight within ``1e-12``) trades nothing: shares are held and drift.
With ``band``, an asset whose drifted weight ``d`` is within ``band`` of its target ``w``
(``band * |w|`` with ``band_type="relative"``) keeps its shares; with ``min_trade``, so does
an asset whose trade ``|w - d|`` is below that fraction of the pre-cost value. The other
assets trade to ``w`` times the pre-cost value as usual; cash takes the difference, and
costs are charged on what is traded only. The rules apply to the first rebalance too
(out of cash, ``d = 0``).

*Stops* (off by default; see :mod:`._stops` for the levels): ``stop_loss``,
``take_profit`` and ``trailing_stop`` per position, as fractions of the price or, with
``stop_unit="atr"``, multiples of the ``atr_window``-day average true range (needs ``high``
and ``low``). Each day a position is held at the close it is checked on the close, or on
the day's low and high when ``high`` and ``low`` are given; one hit on day t exits the
way a target dated t trades (t's close, or the next open with ``"next_open"``), the rest
of the book untouched, and the asset stays flat until its target changes.
:attr:`SimulationResult.stop_exits` lists the exits.

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

from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError, ScenarioError
from . import _costs, _kernel, _rules, _stops
from ._costs import COST_KINDS
from .checks import EXECUTIONS, PreparedPrices, Settings, prepare_prices, prepare_targets
from .result import SimulationResult, build_result, empty_result

__all__ = [
    "COST_KINDS",
    "EXECUTIONS",
    "SimulationResult",
    "simulate",
    "simulate_range",
    "simulate_range_arrays",
]


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
    per_share: float = 0.0,
    per_share_min: float = 0.0,
    per_share_max: float | None = None,
    per_share_max_fraction: float | None = None,
    half_spread_bps: float | Mapping[str, float] = 0.0,
    impact: float = 0.0,
    volume_window: int = 20,
    borrow_rate: float = 0.0,
    financing_rate: float = 0.0,
    volume: pd.DataFrame | None = None,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_stop: float | None = None,
    stop_unit: Literal["fraction", "atr"] = "fraction",
    atr_window: int = 14,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
) -> SimulationResult:
    """Hold ``target_weights`` through ``prices``; see the module docstring for the rules.

    ``prices``: ``(n_dates, n_assets)`` closes, ``NaN`` before a ticker is listed.
    ``target_weights``: rows are rebalance dates (a subset of ``prices.index``), columns a
    subset of ``prices.columns`` (missing columns are 0). ``open_prices`` is required for
    ``execution="next_open"`` and ignored otherwise. ``volume``: shares traded per day,
    shaped as ``prices`` (NaN: unknown), required for ``impact``; ``high`` and ``low``
    likewise, for stops. Inputs are never modified and may be read-only.
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
        per_share=per_share,
        per_share_min=per_share_min,
        per_share_max=per_share_max,
        per_share_max_fraction=per_share_max_fraction,
        half_spread_bps=half_spread_bps,
        impact=impact,
        volume_window=volume_window,
        borrow_rate=borrow_rate,
        financing_rate=financing_rate,
        stop_loss=stop_loss,
        take_profit=take_profit,
        trailing_stop=trailing_stop,
        stop_unit=stop_unit,
        atr_window=atr_window,
    )
    stops = settings.has_stops
    market = prepare_prices(
        prices,
        open_prices if execution == "next_open" else None,
        volume if impact > 0 else None,
        high if stops else None,
        low if stops else None,
    )
    positions, targets = prepare_targets(target_weights, market)
    if len(positions) == 0:
        return empty_result(prices, stops=settings.has_stops)
    last = len(market.index) - 1
    first, out = _simulate_arrays(market, positions, targets, 0, last, settings)
    return build_result(market, first, last, out, settings.cost_bps / 1e4)


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
    with no rebalance at all the portfolio holds cash from ``start``. (The impact model's
    window and an ATR stop's may reach before ``start``: that history is known, and a
    slice would lack it; positions held on ``start`` open there, with their stops.)
    """
    first, out = simulate_range_arrays(market, positions, targets, start, end, settings)
    return build_result(market, first, end, out, settings.cost_bps / 1e4)


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
            targets = _kernel.take_dates(targets, kept)
    terms = _kernel.Terms(
        initial_capital=float(settings.initial_capital),
        cost_rate=float(settings.cost_bps) / 1e4,
        commission=float(settings.commission),
        daily_cash_rate=float(settings.cash_rate) / TRADING_DAYS_PER_YEAR,
    )
    arrays = (filled_closes, exec_prices, exec_positions, cleaned, start, terms)
    if settings.trades_every_asset and not (settings.has_cost_models or settings.has_stops):
        out = _kernel.run(*arrays)
    else:
        stops = None
        rows = exec_positions + first
        if settings.has_stops:
            exit_prices = filled_closes if settings.execution == "close" else filled_opens
            stops = _stops.stop_book(market, settings, first, last, filled_closes, exit_prices)
            rows = np.arange(first + start, last + 1)  # costs by day: exits fall on any
        models = _costs.resolve(market, settings, rows)
        try:
            out = _rules.run_executions(
                *arrays,
                band=settings.band,
                relative=settings.band_type == "relative",
                min_trade=float(settings.min_trade),
                models=models,
                stops=stops,
                asked=targets,
            )
        except _costs.ImpactUndefinedError as exc:
            day = market.index[int(rows[exc.execution])]
            raise DataError(
                f"the impact model cannot price the trade in {market.columns[exc.asset]!r} "
                f"on {day:%Y-%m-%d}: it needs two returns and some volume in the "
                f"{settings.volume_window} days before; start the targets later or shorten "
                "volume_window"
            ) from None
        except _stops.StopUndefinedError as exc:
            day = market.index[first + exc.position]
            raise DataError(
                f"the ATR stop of the position in {market.columns[exc.asset]!r} opened on "
                f"{day:%Y-%m-%d} has no high and low in the {settings.atr_window} days "
                "before; start the targets later or use stop_unit: fraction"
            ) from None
    if out.overflow_at >= 0:
        day = market.index[first + start + out.overflow_at]
        raise DataError(
            f"the portfolio's value is not a finite number on {day:%Y-%m-%d}: prices (up to "
            f"{float(np.nanmax(closes)):.3g}) or leverage are too large to compute with; check "
            "the price file's units"
        )
    return first + start, out
