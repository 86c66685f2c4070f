"""The honest results of an optimisation: the chosen parameters on data they were not chosen on.

Walk-forward: one continuous simulation over every test window, each window's parameters
trading from its first test day until the next window's parameters take over, the holdings
carried across the boundary (only the difference to the new targets is traded, with costs).
Holdout: the final parameters on the last part of the data, which no trial ever scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..data import OptimizationData, WalkForwardWindow
from ..metrics import compute_metrics
from ..simulation.engine import SimulationResult
from ..simulation.period import PeriodSimulator, benchmark_period_returns
from ..strategies import get_strategy
from .objective import Objective
from .results import PeriodResult

__all__ = ["holdout_result", "stitched_targets", "walk_forward_out_of_sample"]


def stitched_targets(
    objective: Objective,
    data: OptimizationData,
    windows: Sequence[WalkForwardWindow],
    params: Sequence[Mapping[str, Any]],
) -> tuple[pd.DataFrame, pd.Series, int, int]:
    """Each window's targets over its segment of the out-of-sample span, in one frame.

    Window k's segment runs from its first test day to the day before window k + 1's (the
    last one to its test end). A segment whose parameters differ from the previous one's
    opens with the targets in force on its first day, decided with data up to then, so the
    switch trades (the difference to the drifted holdings) at that close and earns from the
    next day on; a segment with the same parameters simply continues, trading nothing extra.
    Returns the targets, the window of each day of the span, and the span's first and last
    positions.
    """
    index = data.daily.index
    starts = [int(index.searchsorted(w.test_start)) for w in windows]
    last = int(index.searchsorted(windows[-1].test_end, side="right")) - 1
    stops = [*(s - 1 for s in starts[1:]), last]
    pieces = []
    owner = np.zeros(last + 1 - starts[0], dtype=np.int64)
    previous: dict[str, Any] | None = None
    for k, (start, stop, values) in enumerate(zip(starts, stops, params, strict=True)):
        if stop < start:
            continue  # a later window starts no later: it takes over at once
        resolved = {**dict(values), **dict(objective.resolve(values))}  # overlays' too
        weights = objective.targets(data, values)
        inside = weights.loc[index[start] : index[stop]]
        entry = int(weights.index.searchsorted(index[start], side="right")) - 1
        same = previous == resolved
        previous = resolved
        if same:
            pass  # the holdings and the schedule simply go on
        elif entry >= 0 and (inside.empty or inside.index[0] != index[start]):
            first = weights.iloc[[entry]].set_axis(pd.DatetimeIndex([index[start]]), axis=0)
            inside = pd.concat([first, inside])
        elif entry < 0 and (inside.empty or inside.index[0] != index[start]):
            cash = pd.DataFrame(
                0.0, index=pd.DatetimeIndex([index[start]]), columns=weights.columns
            )
            inside = pd.concat([cash, inside])
        pieces.append(inside)
        owner[start - starts[0] : stop + 1 - starts[0]] = k
    targets = pd.concat(pieces)
    window = pd.Series(owner, index=index[starts[0] : last + 1], name="window")
    return targets, window, starts[0], last


def walk_forward_out_of_sample(
    objective: Objective,
    data: OptimizationData,
    windows: Sequence[WalkForwardWindow],
    params: Sequence[Mapping[str, Any]],
) -> PeriodResult:
    """The continuous out-of-sample simulation of a walk-forward (see the module docstring)."""
    targets, window, start, end = stitched_targets(objective, data, windows, params)
    simulation = PeriodSimulator(objective.scenario, data, targets).simulate(start, end)
    return _period_result(
        objective,
        data,
        "out-of-sample",
        simulation,
        start,
        end,
        window.loc[simulation.returns.index],
    )


def holdout_result(
    objective: Objective, data: OptimizationData, params: Mapping[str, Any], start: int, end: int
) -> PeriodResult:
    """The final parameters on the holdout, entering at the targets in force on its first day."""
    weights = objective.targets(data, params)
    simulation = PeriodSimulator(objective.scenario, data, weights).simulate(start, end)
    result = _period_result(objective, data, "holdout", simulation, start, end, None)
    return replace(result, params=dict(params))


def _period_result(
    objective: Objective,
    data: OptimizationData,
    label: str,
    simulation: SimulationResult,
    start: int,
    end: int,
    window: pd.Series | None,
) -> PeriodResult:
    scenario = objective.scenario
    rf = scenario.portfolio.risk_free_rate
    returns = simulation.returns
    benchmark = benchmark_period_returns(data, returns.index)
    equal_cls = get_strategy("equal_weight")
    equal_targets = equal_cls().generate_weights(data, equal_cls.resolve_params({}))
    equal = PeriodSimulator(scenario, data, equal_targets).simulate(start, end)
    equal_returns = equal.returns.reindex(returns.index, fill_value=0.0).rename("equal_weight")
    return PeriodResult(
        label=label,
        returns=returns,
        turnover=simulation.turnover,
        costs=simulation.costs,
        metrics=compute_metrics(
            returns, benchmark, turnover=simulation.turnover, risk_free_rate=rf
        ),
        benchmark_returns=benchmark,
        benchmark_metrics=(
            None if benchmark is None else compute_metrics(benchmark, None, risk_free_rate=rf)
        ),
        equal_weight_returns=equal_returns,
        equal_weight_metrics=compute_metrics(
            equal_returns, benchmark, turnover=equal.turnover, risk_free_rate=rf
        ),
        window=window,
    )
