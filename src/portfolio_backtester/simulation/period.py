"""One trial's target weights simulated window by window, and the benchmark on those days."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import Scenario
from ..data import OptimizationData
from ..errors import DataError, ScenarioError
from .checks import Settings, prepare_prices, prepare_targets
from .engine import SimulationResult, simulate_range, simulate_range_arrays

__all__ = ["PeriodSimulator", "benchmark_period_returns"]

FloatArray = npt.NDArray[np.float64]


class PeriodSimulator:
    """One set of target weights, simulated over any range of trading days.

    An optimisation trial scores the same weights on many windows: the prices, the targets
    and the settings are checked and turned into arrays once here, so each window costs
    only its own arithmetic. All of them are checked, not only the days of the windows: a
    strategy that emits a non-finite weight or an off-calendar date anywhere is refused.
    """

    def __init__(self, scenario: Scenario, data: OptimizationData, weights: pd.DataFrame):
        portfolio = scenario.portfolio
        if portfolio.execution == "next_open" and data.open is None:
            raise DataError(
                "portfolio.execution is 'next_open' but the data has no open prices; "
                "use a long-form file with an 'open' field, or execution: close"
            )
        costs = scenario.costs
        impact = 0.0 if costs.impact is None else costs.impact.coefficient
        if impact > 0 and data.volume is None:
            raise ScenarioError(
                "costs.impact needs daily volumes and the data have none; give a file with "
                "a volume column (long, or one ticker's OHLCV), or remove costs.impact"
            )
        per_share = costs.per_share
        stops = portfolio.stops
        has_ranges = data.high is not None and data.low is not None
        ranges = stops.active and stops.use_high_low and has_ranges
        if stops.active and stops.unit == "atr" and not ranges:
            raise ScenarioError(
                "portfolio.stops with unit: atr needs daily highs and lows and the data have "
                "none; give a file with high and low columns, or use unit: fraction"
            )
        self.settings = Settings(
            cost_bps=costs.cost_bps,
            commission=costs.commission,
            initial_capital=portfolio.initial_capital,
            execution=portfolio.execution,
            cash_rate=portfolio.cash_rate,
            max_gross_leverage=portfolio.max_gross_leverage,
            allow_short=portfolio.allow_short,
            rebalance_when=portfolio.rebalance.when,
            band=portfolio.rebalance.band,
            band_type=portfolio.rebalance.band_type,
            min_trade=portfolio.rebalance.min_trade,
            per_share=0.0 if per_share is None else per_share.rate,
            per_share_min=0.0 if per_share is None else per_share.min,
            per_share_max=None if per_share is None else per_share.max,
            per_share_max_fraction=None if per_share is None else per_share.max_fraction,
            half_spread_bps=costs.half_spread_bps,
            impact=impact,
            volume_window=20 if costs.impact is None else costs.impact.window,
            borrow_rate=costs.borrow_rate,
            financing_rate=costs.financing_rate,
            stop_loss=stops.stop_loss,
            take_profit=stops.take_profit,
            trailing_stop=stops.trailing_stop,
            stop_unit=stops.unit,
            atr_window=stops.atr_window,
        )
        opens = data.open if portfolio.execution == "next_open" else None
        volume = data.volume if impact > 0 else None
        high, low = (data.high, data.low) if ranges else (None, None)
        # Checked on every call: the frames may have been written to in place since.
        self.market = prepare_prices(data.daily, opens, volume, high, low)
        self.positions, self.targets = prepare_targets(weights, self.market)

    def simulate(self, start: int, end: int) -> SimulationResult:
        """Simulate trading days ``start..end`` (positions), entering at the targets in force."""
        return simulate_range(self.market, self.positions, self.targets, start, end, self.settings)

    def scoring_outputs(self, start: int, end: int) -> tuple[pd.Series, FloatArray, int]:
        """Daily returns, daily turnover and the number of trades of ``start..end``.

        What an objective reads, without the other outputs' pandas objects.
        """
        first, out = simulate_range_arrays(
            self.market, self.positions, self.targets, start, end, self.settings
        )
        index = self.market.index[first : end + 1]
        returns = pd.Series(out.returns, index=index, name="returns", copy=False)
        return returns, out.turnover, int(out.trades.sum())


def benchmark_period_returns(data: OptimizationData, index: pd.Index) -> pd.Series | None:
    """Benchmark returns on the backtest's days (the first day earns nothing).

    Sliced by position and computed in NumPy: an optimisation asks for them once per window
    of every trial, where pandas' label slicing and ``pct_change`` cost more than the window's
    simulation.
    """
    if data.benchmark.shape[1] == 0:
        return None
    dates = data.benchmark.index
    lo = int(dates.searchsorted(index[0]))
    hi = int(dates.searchsorted(index[-1], side="right"))
    prices = data.benchmark.to_numpy(dtype=np.float64)[lo:hi, 0]  # a view, no column copy
    returns = np.zeros(len(prices))
    with np.errstate(invalid="ignore"):
        returns[1:] = prices[1:] / prices[:-1] - 1.0
    returns[np.isnan(returns)] = 0.0
    name = str(data.benchmark.columns[0])
    return pd.Series(returns, index=dates[lo:hi], name=name, copy=False)
