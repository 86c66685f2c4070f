"""Run one scenario end to end: data, strategy weights, simulation, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._identity_cache import cached_on
from ._lazy import Lazy
from .config import Scenario, load_scenario
from .data import OptimizationData, build_optimization_data, load_market_data
from .errors import DataError, ScenarioError, StrategyError
from .metrics import compute_metrics
from .metrics.trades import TradeArrays, trade_arrays, trade_statistics
from .overlays import (
    Overlay,
    apply_overlays,
    overlay_lookback_days,
    scenario_overlays,
    split_overlay_params,
)
from .simulation.period import PeriodSimulator, benchmark_period_returns
from .strategies import BaseStrategy, StrategyParams, get_strategy, is_builtin

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from .metrics.monte_carlo import MonteCarloResult
    from .simulation.engine import SimulationResult

__all__ = [
    "SURVIVORS_NOTE",
    "BacktestResult",
    "backtest_bounds",
    "refuse_unwanted_shorts",
    "result_warnings",
    "run_backtest",
    "target_weights",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produced; reports and notebooks read only this."""

    scenario: Scenario
    params: dict[str, Any]
    returns: pd.Series
    benchmark_returns: pd.Series | None
    holdings: pd.DataFrame
    """Daily weights after drift: each asset's value at the close over the portfolio's."""
    turnover: pd.Series
    costs: pd.Series
    """Daily costs as a fraction of value (:attr:`cost_breakdown` splits them by kind)."""
    metrics: dict[str, float]
    benchmark_metrics: dict[str, float] | None
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    ruined_on: pd.Timestamp | None = None
    """The day the portfolio lost everything (its value reached zero), if it did."""
    warnings: tuple[str, ...] = ()
    """What the user should know about this result: ruin, clipped short weights, the data."""
    # Built when first read (the trades' statistics are in the metrics already): a loop
    # over parameter sets that reads the metrics does not pay for these frames.
    _weights: Lazy[pd.DataFrame] = field(kw_only=True, repr=False, compare=False)
    _trades: Lazy[pd.DataFrame] = field(kw_only=True, repr=False, compare=False)
    _cost_breakdown: Lazy[pd.DataFrame | None] = field(kw_only=True, repr=False, compare=False)

    @property
    def weights(self) -> pd.DataFrame:
        """The targets in force at each rebalance (negative ones clipped when shorts are not
        allowed). With a band or a minimum trade an asset inside it keeps its drifted weight
        instead: :attr:`holdings` shows what was held."""
        return self._weights.get()

    @property
    def trades(self) -> pd.DataFrame:
        """One row per trade (:func:`portfolio_backtester.metrics.trades.trade_list`): a
        position in one asset from the day it opens to the day it closes or flips sign."""
        return self._trades.get()

    @property
    def cost_breakdown(self) -> pd.DataFrame | None:
        """``costs`` by kind (``bps``, ``commission``, ``per_share``, ``spread``, ``impact``,
        ``borrow``, ``financing``), summing to ``costs``."""
        return self._cost_breakdown.get()

    @property
    def equity(self) -> pd.Series:
        """Growth of one unit of capital."""
        return (1.0 + self.returns).cumprod()

    def plot(self) -> Figure:
        """Equity against the benchmark on a log scale, drawdown below."""
        from .reporting.plots import equity_figure

        name = self.scenario.strategy.name
        title = f"{self.scenario.name}: {name}"
        return equity_figure(self.returns, self.benchmark_returns, title=title, label=name)

    def save(self, directory: Path, *, monte_carlo: MonteCarloResult | None = None) -> None:
        """Write the run folder's files (metrics.json, returns.csv, weights.csv,
        holdings.csv, trades.csv, equity.png, run.json) into ``directory``, and a Monte
        Carlo of this result if one is given."""
        from .reporting.run_folder import write_backtest_run

        write_backtest_run(
            directory,
            scenario=self.scenario,
            params=self.params,
            returns=self.returns,
            benchmark_returns=self.benchmark_returns,
            weights=self.weights,
            holdings=self.holdings,
            trades=self.trades,
            turnover=self.turnover,
            costs=self.costs,
            cost_breakdown=self.cost_breakdown,
            metrics=self.metrics,
            benchmark_metrics=self.benchmark_metrics,
            warnings=self.warnings,
            monte_carlo=monte_carlo,
        )


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
    strategy_cls = get_strategy(scenario.strategy.name, scenario.strategy.folder)
    own, overlays = split_overlay_params(scenario_overlays(scenario), params or {})
    resolved = strategy_cls.resolve_params({**scenario.strategy.params, **own})
    if data is None:
        data = build_optimization_data(load_market_data(scenario.data))
    strategy = strategy_cls()
    start, end = backtest_bounds(scenario, strategy, resolved, data, overlays)
    refuse_unwanted_shorts(scenario, strategy_cls, resolved)
    weights = apply_overlays(target_weights(strategy, data, resolved), data, overlays)
    simulator = PeriodSimulator(scenario, data, weights)
    simulation = simulator.simulate(start, end)
    returns = simulation.returns
    benchmark_returns = benchmark_period_returns(data, returns.index)
    rf = scenario.portfolio.risk_free_rate
    metrics = compute_metrics(
        returns, benchmark_returns, turnover=simulation.turnover, risk_free_rate=rf
    )
    trades = _simulated_trades(simulator, simulation)
    stops = scenario.portfolio.stops.active
    metrics.update(trade_statistics(trades, simulation.weights, stops=stops))
    benchmark_metrics = _benchmark_metrics(data, benchmark_returns, rf)
    notes = result_warnings(scenario, weights, simulation.ruined_on)
    for note in notes:  # the command line prints them; a notebook sees them in the log
        logger.info("warning: %s", note)
    elapsed = time.perf_counter() - started
    logger.info(
        "backtest of %s %s: %d days in %.2f s",
        strategy_cls.name,
        dict(resolved),
        len(returns),
        elapsed,
    )
    allow_short = scenario.portfolio.allow_short
    # The rows are copied now, the frame built when read: a strategy that later changes
    # the frame it returned in place (one it keeps between calls) does not change this.
    in_period = _weights_in_period(weights, returns.index, allow_short)
    return BacktestResult(
        scenario=scenario,
        params=dict(resolved),
        returns=returns,
        benchmark_returns=benchmark_returns,
        holdings=simulation.weights,
        turnover=simulation.turnover,
        costs=simulation.costs,
        metrics=metrics,
        benchmark_metrics=benchmark_metrics,
        elapsed_s=elapsed,
        ruined_on=simulation.ruined_on,
        warnings=notes,
        _weights=Lazy(lambda: pd.DataFrame(in_period[0], *in_period[1:], copy=False)),
        _trades=Lazy(trades.frame),
        _cost_breakdown=Lazy(lambda: simulation.cost_breakdown),
    )


def _weights_in_period(
    weights: pd.DataFrame, days: pd.Index, allow_short: bool
) -> tuple[npt.NDArray[np.float64], pd.Index, pd.Index]:
    """The targets of the backtest's days, the ones in force on its first day included:
    values (a copy), dates and columns."""
    if not weights.index.is_monotonic_increasing:
        weights = weights.sort_index()
    index = weights.index
    lo = int(index.searchsorted(days[0], side="left"))
    hi = int(index.searchsorted(days[-1], side="right"))
    rows = np.arange(lo, hi)
    dates = index[lo:hi]
    entry = int(index.searchsorted(days[0], side="right")) - 1
    if entry >= 0 and (lo == hi or index[lo] != days[0]):
        # The targets in force on the first day, so the weights file shows the entry too.
        rows = np.concatenate([[entry], rows])
        dates = pd.DatetimeIndex([days[0]], name=index.name).append(dates)
    values = weights.to_numpy(dtype=np.float64)[rows]
    if not allow_short:  # what was traded, not what was asked for
        np.maximum(values, 0.0, out=values)
    return values, dates, weights.columns


def _benchmark_metrics(
    data: OptimizationData, returns: pd.Series | None, rf: float
) -> dict[str, float] | None:
    if returns is None:
        return None
    # The same for every backtest of a loop over one data set: computed once per period.
    key = ("benchmark metrics", returns.index[0], returns.index[-1], len(returns), rf)
    metrics = cached_on(data, key, lambda: compute_metrics(returns, None, risk_free_rate=rf))
    return dict(metrics)


def _simulated_trades(simulator: PeriodSimulator, simulation: SimulationResult) -> TradeArrays:
    """The trade list of a simulation, at the prices it traded at (closes, or next opens)."""
    market, settings = simulator.market, simulator.settings
    first = int(market.index.searchsorted(simulation.returns.index[0]))
    days = slice(first, first + len(simulation.returns))

    def on_days(values: npt.NDArray[np.float64]) -> pd.DataFrame:
        # The checked asset-major prices, as a frame without a copy (as the engine's own).
        index = simulation.returns.index
        return pd.DataFrame(values[:, days].T, index=index, columns=market.columns, copy=False)

    return trade_arrays(
        simulation.weights,
        simulation.returns,
        on_days(market.closes),
        opens=None if market.opens is None else on_days(market.opens),
        costs=simulation.costs,
        turnover=simulation.turnover,
        commission=settings.commission / settings.initial_capital,
        stop_exits=simulation.stop_exits,
    )


SURVIVORS_NOTE = (
    "the built-in data are 20 of today's S&P 500 members, survivors chosen after the fact: "
    "their returns overstate what the index's members delivered at the time"
)


def target_weights(
    strategy: BaseStrategy, data: OptimizationData, params: StrategyParams
) -> pd.DataFrame:
    """The strategy's targets; a user strategy's own exception becomes one clear error.

    A built-in strategy that raises is a bug of this package and keeps its traceback.
    """
    if is_builtin(type(strategy)):
        return strategy.generate_weights(data, params)
    try:
        return strategy.generate_weights(data, params)
    except Exception as exc:  # user code: name it, keep the cause for --debug
        raise StrategyError(
            f"strategy {strategy.name!r} with {dict(params)} raised {type(exc).__name__}: "
            f"{exc}; run with --debug for the traceback"
        ) from exc


def refuse_unwanted_shorts(
    scenario: Scenario, strategy_cls: type[BaseStrategy], params: StrategyParams
) -> None:
    """A strategy set up to go short while the portfolio may not is a contradiction: refuse
    it before running, instead of silently trading the long leg only."""
    if scenario.portfolio.allow_short or not strategy_cls.shorts(params):
        return
    raise ScenarioError(
        f"strategy {strategy_cls.name!r} with {dict(params)} takes short positions but "
        "portfolio.allow_short is false; allow shorts, or choose its long-only setting"
    )


def result_warnings(
    scenario: Scenario, weights: pd.DataFrame, ruined_on: pd.Timestamp | None
) -> tuple[str, ...]:
    """Lines a user must read with the result (each once)."""
    notes = []
    if ruined_on is not None:
        notes.append(
            f"the portfolio lost everything on {ruined_on:%Y-%m-%d} (its value reached zero): "
            "that day's return is -100% and nothing is held after it"
        )
    if not scenario.portfolio.allow_short:
        clipped = int((weights.to_numpy() < 0).sum())
        if clipped:
            notes.append(
                f"strategy {scenario.strategy.name!r} returned {clipped} negative target "
                "weight(s) while portfolio.allow_short is false: they were traded as 0"
            )
    if scenario.data.source == "builtin:sp500":
        notes.append(SURVIVORS_NOTE)
    return tuple(notes)


def backtest_bounds(
    scenario: Scenario,
    strategy: BaseStrategy,
    params: Mapping[str, Any],
    data: OptimizationData,
    overlays: Sequence[Overlay] | None = None,
) -> tuple[int, int]:
    """Positions of the first and last backtest day, after the warm-up of the strategy and
    of its ``overlays`` (default: the scenario's): a 200-day risk-off rule cannot act
    before 200 days."""
    index = data.daily.index
    if overlays is None:
        overlays = scenario_overlays(scenario)
    lookback = max(strategy.lookback_days(params), overlay_lookback_days(overlays))
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
