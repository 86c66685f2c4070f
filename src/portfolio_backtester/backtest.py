"""Run one scenario end to end: data, strategy weights, simulation, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .config import Scenario, load_scenario
from .data import OptimizationData, build_optimization_data, load_market_data
from .errors import DataError, ScenarioError, StrategyError
from .metrics import compute_metrics
from .simulation.period import PeriodSimulator, benchmark_period_returns
from .strategies import BaseStrategy, StrategyParams, get_strategy, is_builtin

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from .metrics.monte_carlo import MonteCarloResult

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
    weights: pd.DataFrame
    holdings: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    metrics: dict[str, float]
    benchmark_metrics: dict[str, float] | None
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    ruined_on: pd.Timestamp | None = None
    """The day the portfolio lost everything (its value reached zero), if it did."""
    warnings: tuple[str, ...] = ()
    """What the user should know about this result: ruin, clipped short weights, the data."""

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
        """Write metrics.json, returns.csv, weights.csv and equity.png into ``directory``,
        and a Monte Carlo of this result if one is given."""
        from .reporting.run_folder import write_backtest_run

        write_backtest_run(
            directory,
            scenario=self.scenario,
            params=self.params,
            returns=self.returns,
            benchmark_returns=self.benchmark_returns,
            weights=self.weights,
            turnover=self.turnover,
            costs=self.costs,
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
    strategy_cls = get_strategy(scenario.strategy.name)
    resolved = strategy_cls.resolve_params({**scenario.strategy.params, **(params or {})})
    if data is None:
        data = build_optimization_data(load_market_data(scenario.data))
    strategy = strategy_cls()
    start, end = backtest_bounds(scenario, strategy, resolved, data)
    refuse_unwanted_shorts(scenario, strategy_cls, resolved)
    weights = target_weights(strategy, data, resolved)
    simulation = PeriodSimulator(scenario, data, weights).simulate(start, end)
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
    if not scenario.portfolio.allow_short:
        in_period = in_period.clip(lower=0.0)  # what was traded, not what was asked for
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
    return BacktestResult(
        scenario=scenario,
        params=dict(resolved),
        returns=returns,
        benchmark_returns=benchmark_returns,
        weights=in_period,
        holdings=simulation.weights,
        turnover=simulation.turnover,
        costs=simulation.costs,
        metrics=metrics,
        benchmark_metrics=benchmark_metrics,
        elapsed_s=elapsed,
        ruined_on=simulation.ruined_on,
        warnings=notes,
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
