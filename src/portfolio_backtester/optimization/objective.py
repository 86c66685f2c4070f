"""Parameters to scores over walk-forward windows, checked once per run and pure per trial."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import OptimizeConfig, Scenario
from ..data import OptimizationData, WalkForwardWindow
from ..errors import ScenarioError, did_you_mean
from ..metrics import HIGHER_IS_BETTER, METRIC_NAMES, metric
from ..metrics.trades import count_trades
from ..overlays import apply_overlays, scenario_overlays, split_overlay_params
from ..simulation.engine import simulate_range_arrays
from ..simulation.period import PeriodSimulator, benchmark_period_returns
from ..strategies import BaseStrategy, StrategyParams, get_strategy

__all__ = [
    "Evaluation",
    "Objective",
    "Period",
    "StepReport",
    "directions",
    "evaluate_params",
    "objective_names",
    "window_positions",
]

Period = Literal["train", "test"]

StepReport = Callable[[int, tuple[float, ...]], bool]
"""Told the running aggregate after each window (its position, the values so far); True
stops the evaluation there (a pruner's decision)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A trial's scores: aggregated values per objective, and each window's values."""

    values: tuple[float, ...]
    window_values: tuple[tuple[float, ...], ...]
    constraint_violations: tuple[float, ...]
    n_trades: int
    """Trades over the windows (:func:`metrics.trades.count_trades`): positions opened or
    flipped, not orders; what ``constraints.min_trades`` compares with."""
    daily_returns: npt.NDArray[np.float64] | None = None
    """Every day of each window's period, one window after another, 0 before the first
    position: the trial's row in the overfitting statistics (not stored in the study)."""
    pruned: bool = False
    """Stopped after ``len(window_values)`` windows: ``values`` aggregate those only."""

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.constraint_violations)


class Objective:
    """The scoring rule of one scenario: its metrics, directions and strategy, checked once.

    A worker builds one per run and calls :meth:`evaluate` for every trial, so that metric
    names, directions and the strategy are looked up and validated once, not per trial.
    """

    def __init__(self, scenario: Scenario) -> None:
        if scenario.optimize is None:
            raise ScenarioError("the scenario has no 'optimize' section")
        self.scenario = scenario
        self.config: OptimizeConfig = scenario.optimize
        self.names: tuple[str, ...] = tuple(objective_names(self.config))
        self.directions: tuple[Literal["maximize", "minimize"], ...] = tuple(
            directions(self.config)
        )
        strategy = scenario.strategy
        self.strategy_cls: type[BaseStrategy] = get_strategy(strategy.name, strategy.folder)
        self.overlays = scenario_overlays(scenario)
        self._higher = tuple(HIGHER_IS_BETTER[name] for name in self.names)

    def resolve(self, params: Mapping[str, Any]) -> StrategyParams:
        """The scenario's strategy parameters overlaid with a trial's, validated once (the
        trial's overlay parameters, ``vol_target.target``, left out)."""
        own, _ = split_overlay_params(self.overlays, params)
        return self.strategy_cls.resolve_params({**self.scenario.strategy.params, **own})

    def targets(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        """A trial's target weights: the strategy's, resized by the scenario's overlays with
        the trial's overlay parameters."""
        _, overlays = split_overlay_params(self.overlays, params)
        weights = self.strategy_cls().generate_weights(data, self.resolve(params))
        return apply_overlays(weights, data, overlays)

    def evaluate(
        self,
        data: OptimizationData,
        params: Mapping[str, Any],
        windows: Sequence[WalkForwardWindow],
        period: Period = "test",
        report: StepReport | None = None,
    ) -> Evaluation:
        """Score one parameter set on each window's ``period`` and aggregate the scores.

        The strategy's weights are computed once over all the data: a row dated t uses only
        data up to t, so slicing them per window never lets later data in. ``report``, if
        given, sees the running aggregate after each window and may stop the evaluation.
        """
        config = self.config
        simulator = PeriodSimulator(self.scenario, data, self.targets(data, params))
        rf = self.scenario.portfolio.risk_free_rate
        per_window: list[tuple[float, ...]] = []
        drawdowns: list[float] = []
        pieces: list[npt.NDArray[np.float64]] = []
        n_trades = 0
        pruned = False
        for window in windows:
            first, last = window_positions(data, window, period)
            returns, turnover, trades = _scoring_outputs(simulator, first, last)
            pieces.append(_padded(returns.to_numpy(), last + 1 - first))
            benchmark = benchmark_period_returns(data, returns.index)
            per_window.append(
                tuple(
                    metric(name, returns, benchmark, turnover=turnover, risk_free_rate=rf)
                    for name in self.names
                )
            )
            n_trades += trades
            if config.constraints.max_drawdown is not None:
                drawdowns.append(metric("Max Drawdown", returns))
            if report is not None and len(per_window) < len(windows):
                pruned = report(len(per_window) - 1, self._aggregated(per_window))
                if pruned:
                    break
        values = self._aggregated(per_window)
        violations = []
        if config.constraints.max_drawdown is not None:
            worst = min(drawdowns) if drawdowns else 0.0
            violations.append(-worst - config.constraints.max_drawdown)
        if config.constraints.min_trades is not None:
            short = float(config.constraints.min_trades - n_trades)
            # A pruned trial's drawdown so far can only deepen, but its trades would have
            # grown: too few of them yet is no violation.
            violations.append(min(short, 0.0) if pruned else short)
        daily = np.concatenate(pieces) if pieces else np.zeros(0)
        return Evaluation(values, tuple(per_window), tuple(violations), n_trades, daily, pruned)

    def _aggregated(self, per_window: Sequence[tuple[float, ...]]) -> tuple[float, ...]:
        """Each objective's aggregate over the windows' values (``optimize.aggregate``)."""
        how = self.config.aggregate
        return tuple(
            _aggregate([row[i] for row in per_window], how, self._higher[i])
            for i in range(len(self.names))
        )

    def daily_returns(
        self,
        data: OptimizationData,
        params: Mapping[str, Any],
        windows: Sequence[WalkForwardWindow],
        period: Period = "test",
    ) -> npt.NDArray[np.float64]:
        """The daily returns a trial is scored on: every day of each window's period, one
        window after another, 0 on days before its first position (what the overfitting
        statistics compare across trials, so every trial has the same days)."""
        # The same code path as the trial itself, so a rebuilt row equals a recorded one.
        daily = self.evaluate(data, params, windows, period).daily_returns
        assert daily is not None
        return daily


def evaluate_params(
    scenario: Scenario,
    data: OptimizationData,
    params: Mapping[str, Any],
    windows: Sequence[WalkForwardWindow],
    period: Period = "test",
) -> Evaluation:
    """One evaluation without keeping the :class:`Objective` (for a single score)."""
    return Objective(scenario).evaluate(data, params, windows, period)


def objective_names(config: OptimizeConfig) -> list[str]:
    """The objectives' metric names, checked against the known metrics."""
    names = []
    for objective in config.objectives:
        if objective.metric not in METRIC_NAMES:
            raise ScenarioError(
                f"optimize.objectives: unknown metric {objective.metric!r}"
                + did_you_mean(objective.metric, METRIC_NAMES)
                + f"; known metrics: {', '.join(METRIC_NAMES)}"
            )
        names.append(objective.metric)
    return names


def directions(config: OptimizeConfig) -> list[Literal["maximize", "minimize"]]:
    """Each objective's direction, defaulting to the metric's natural one."""
    objective_names(config)
    return [
        objective.direction or ("maximize" if HIGHER_IS_BETTER[objective.metric] else "minimize")
        for objective in config.objectives
    ]


def window_positions(
    data: OptimizationData, window: WalkForwardWindow, period: Period
) -> tuple[int, int]:
    """Positions of the first and last trading day of a window's train or test period."""
    first, last = (
        (window.train_start, window.train_end)
        if period == "train"
        else (window.test_start, window.test_end)
    )
    index = data.daily.index
    return int(index.searchsorted(first)), int(index.searchsorted(last, side="right")) - 1


def _scoring_outputs(
    simulator: PeriodSimulator, first: int, last: int
) -> tuple[pd.Series, npt.NDArray[np.float64], int]:
    """A window's daily returns, daily turnover and number of trades.

    Trades as the trade list counts them (a position opened or flipped, not each order
    that resizes it), from the window's own holdings: each window starts from cash.
    """
    start, out = simulate_range_arrays(
        simulator.market, simulator.positions, simulator.targets, first, last, simulator.settings
    )
    index = simulator.market.index[start : last + 1]
    returns = pd.Series(out.returns, index=index, name="returns", copy=False)
    return returns, out.turnover, count_trades(out.weights)


def _padded(returns: npt.NDArray[np.float64], days: int) -> npt.NDArray[np.float64]:
    """A window's returns on all its ``days``: 0 before the first position (cash)."""
    if len(returns) == days:
        return returns
    out = np.zeros(days)
    out[days - len(returns) :] = returns
    return out


def _aggregate(values: list[float], how: str, higher_is_better: bool) -> float:
    finite = [v for v in values if not math.isnan(v)]
    if len(finite) < len(values) or not finite:
        return math.nan
    if how == "mean":
        return float(np.mean(finite))
    if how == "median":
        return float(np.median(finite))
    return min(finite) if higher_is_better else max(finite)
