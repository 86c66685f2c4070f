"""Run one scenario end to end: data, strategy weights, simulation, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .config import Scenario, load_scenario
from .data import build_optimization_data, load_market_data
from .errors import DataError
from .metrics import compute_metrics
from .optimization.results import OptimizationData
from .simulation import SimulationResult
from .simulation.engine import (
    Settings,
    prepare_prices,
    prepare_targets,
    simulate_range,
    simulate_range_arrays,
)
from .strategies import BaseStrategy, get_strategy

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

__all__ = [
    "BacktestResult",
    "PeriodSimulator",
    "backtest_period",
    "run_backtest",
    "target_weights",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produced; reports and notebooks read only this."""

    scenario: Scenario
    params: dict[str, Any]
    returns: pd.Series
    benchmark_returns: pd.Series | None
    weights: pd.DataFrame
    holdings: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    metrics: dict[str, float]
    benchmark_metrics: dict[str, float] | None
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def equity(self) -> pd.Series:
        """Growth of one unit of capital."""
        return (1.0 + self.returns).cumprod()

    def plot(self) -> Figure:
        """Equity against the benchmark on a log scale, drawdown below."""
        from .reporting.plots import equity_figure

        return equity_figure(self)

    def save(self, directory: Path) -> None:
        """Write metrics.json, returns.csv, weights.csv and equity.png into ``directory``."""
        from .reporting.files import write_backtest_files

        write_backtest_files(self, directory)


def run_backtest(
    scenario: Scenario | str | Mapping[str, Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    data: OptimizationData | None = None,
) -> BacktestResult:
    """Backtest a scenario (a path, a mapping, a Scenario, or None for the default).

    ``params`` override the scenario's strategy parameters; ``data`` reuses data already
    built (the optimiser passes its memory-mapped copy).
    """
    started = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    strategy_cls = get_strategy(scenario.strategy.name)
    resolved = strategy_cls.resolve_params({**scenario.strategy.params, **(params or {})})
    if data is None:
        data = build_optimization_data(load_market_data(scenario.data))
    strategy = strategy_cls()
    start, end = backtest_bounds(scenario, strategy, resolved, data)
    weights = target_weights(strategy, data, resolved)
    simulator = PeriodSimulator(scenario, data, weights)
    simulation = simulator.simulate(start, end)
    returns = simulation.returns
    benchmark_returns = benchmark_period_returns(data, returns.index)
    rf = scenario.portfolio.risk_free_rate
    metrics = compute_metrics(
        returns, benchmark_returns, turnover=simulation.turnover, risk_free_rate=rf
    )
    benchmark_metrics = None
    if benchmark_returns is not None:
        benchmark_metrics = compute_metrics(benchmark_returns, None, risk_free_rate=rf)
    in_period = weights.loc[returns.index[0] : returns.index[-1]]
    entry = int(weights.index.searchsorted(returns.index[0], side="right")) - 1
    if entry >= 0 and (in_period.empty or in_period.index[0] != returns.index[0]):
        # The targets in force on the first day, so the weights file shows the entry too.
        first = weights.iloc[[entry]].set_axis(pd.DatetimeIndex([returns.index[0]]), axis=0)
        in_period = pd.concat([first, in_period])
    elapsed = time.perf_counter() - started
    logger.info(
        "backtest of %s %s: %d days in %.2f s", strategy_cls.name, resolved, len(returns), elapsed
    )
    return BacktestResult(
        scenario=scenario,
        params=resolved,
        returns=returns,
        benchmark_returns=benchmark_returns,
        weights=in_period,
        holdings=simulation.weights,
        turnover=simulation.turnover,
        costs=simulation.costs,
        metrics=metrics,
        benchmark_metrics=benchmark_metrics,
        elapsed_s=elapsed,
    )


def target_weights(
    strategy: BaseStrategy, data: OptimizationData, params: Mapping[str, Any]
) -> pd.DataFrame:
    """The strategy's targets over all the data; slicing later never changes a row."""
    return strategy.generate_weights(data, params)


def backtest_bounds(
    scenario: Scenario,
    strategy: BaseStrategy,
    params: Mapping[str, Any],
    data: OptimizationData,
) -> tuple[int, int]:
    """Positions of the first and last backtest day, after the strategy's warm-up."""
    index = data.daily.index
    lookback = strategy.lookback_days(params)
    first_allowed = min(lookback, len(index) - 1)
    if scenario.data.start is None:
        start = first_allowed
    else:
        start = int(index.searchsorted(pd.Timestamp(scenario.data.start)))
        if start < lookback:
            raise DataError(
                f"strategy {strategy.name!r} needs {lookback} trading days of history before "
                f"the start {scenario.data.start}, but the data has only {start}; "
                f"move the start to {index[min(lookback, len(index) - 1)]:%Y-%m-%d} or later"
            )
    end = len(index) - 1
    if scenario.data.end is not None:
        end = int(index.searchsorted(pd.Timestamp(scenario.data.end), side="right")) - 1
    if end - start < 1:
        raise DataError(
            f"too few trading days to backtest {strategy.name!r}: it needs {lookback} days of "
            f"history and the data has {len(index)} from {index[0]:%Y-%m-%d} to "
            f"{index[-1]:%Y-%m-%d}"
        )
    return start, end


def backtest_period(
    scenario: Scenario, data: OptimizationData, weights: pd.DataFrame, start: int, end: int
) -> SimulationResult:
    """Simulate trading days ``start..end`` (positions), entering at the targets in force."""
    return PeriodSimulator(scenario, data, weights).simulate(start, end)


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
        self.settings = Settings(
            cost_bps=scenario.costs.cost_bps,
            commission=scenario.costs.commission,
            initial_capital=portfolio.initial_capital,
            execution=portfolio.execution,
            cash_rate=portfolio.cash_rate,
            max_gross_leverage=portfolio.max_gross_leverage,
            allow_short=portfolio.allow_short,
        )
        opens = data.open if portfolio.execution == "next_open" else None
        self.market = prepare_prices(data.daily, opens)
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
