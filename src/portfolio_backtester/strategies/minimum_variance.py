"""Minimum variance: the long-only portfolio with the least sample variance, capped per asset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._covariance import covariance_lookback_parameter, trailing_covariances
from ._parameters import rebalance_parameter
from ._weights import (
    FloatArray,
    IntArray,
    daily_prices,
    daily_returns,
    rebalance_rows,
    weights_frame,
)

_RIDGE = 1e-10
_TOLERANCE = 1e-12
_MAX_STEPS = 1000


class MinimumVarianceStrategy(BaseStrategy):
    """Weights minimising ``w'Σw`` with ``0 <= w_i <= max_weight`` and ``sum(w) = 1``.

    Σ is the sample covariance of the ``lookback_days`` daily returns up to and including
    the rebalance date, over the assets with a price that day and a full window; the problem
    is solved exactly by an active-set method. The cap keeps the solution from piling into
    one or two assets (an unconstrained minimum often does). When fewer than
    ``1 / max_weight`` assets qualify, each holds ``max_weight`` and the rest is cash.
    Rebalance dates before any asset qualifies are all-zero rows (cash).
    """

    name: ClassVar[str] = "minimum_variance"
    description: ClassVar[str] = (
        "Long-only minimum variance from the sample covariance over lookback_days, each "
        "weight at most max_weight."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        covariance_lookback_parameter(),
        Parameter(
            name="max_weight",
            kind="float",
            default=0.25,
            low=0.05,
            high=1.0,
            min=0.001,
            max=1.0,
            doc="largest weight of one asset (1 is no cap)",
        ),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        weights = np.zeros((len(rows), data.daily.shape[1]))
        covariances = trailing_covariances(
            daily_returns(data), daily_prices(data), rows, p["lookback_days"]
        )
        for i, assets, covariance in covariances:
            weights[i, assets] = minimum_variance_weights(covariance, p["max_weight"])
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["lookback_days"])


def minimum_variance_weights(covariance: FloatArray, max_weight: float) -> FloatArray:
    """The fully invested long-only minimum of ``w'Σw`` with every weight at most
    ``max_weight``; ``max_weight`` each when the cap cannot reach full investment.

    A primal active-set method (Nocedal and Wright, ch. 16.5): from equal weights, each step
    solves the problem with the working set's bounds held as equalities and walks towards
    that solution until a bound blocks; at a solution, a bound whose multiplier has the
    wrong sign is released. A 1e-10 ridge makes a singular Σ (fewer days than assets)
    strictly convex, so the solution is unique.
    """
    n = covariance.shape[0]
    if n * max_weight <= 1.0:
        return np.full(n, max_weight)
    sigma = covariance / np.mean(np.diag(covariance)) + _RIDGE * np.eye(n)
    weights = np.full(n, 1.0 / n)
    bound = np.zeros(n, dtype=np.int8)  # 0 free, -1 held at 0, +1 held at max_weight
    for _ in range(_MAX_STEPS):
        gradient = sigma @ weights
        free = np.flatnonzero(bound == 0)
        step = np.zeros(n)
        budget = float(np.max(gradient[bound == 1])) if len(free) == 0 else 0.0
        if len(free):
            step[free], budget = _equality_step(sigma[np.ix_(free, free)], gradient[free])
        if np.max(np.abs(step)) > _TOLERANCE:
            weights = _walk(weights, step, free, bound, max_weight)
            continue
        # Multipliers of the held bounds: a negative one means the bound costs variance.
        multipliers = np.where(bound == -1, gradient - budget, budget - gradient)
        multipliers[bound == 0] = np.inf
        worst = int(np.argmin(multipliers))
        if multipliers[worst] >= -_TOLERANCE:
            return weights
        bound[worst] = 0
    raise RuntimeError(f"minimum variance: no solution after {_MAX_STEPS} active-set steps")


def _equality_step(sigma: FloatArray, gradient: FloatArray) -> tuple[FloatArray, float]:
    """The step ``p`` minimising ``p'Σp / 2 + g'p`` with ``sum(p) = 0``, and the budget's
    multiplier (the common marginal variance of the free assets after the step)."""
    k = len(gradient)
    system = np.zeros((k + 1, k + 1))
    system[:k, :k] = sigma
    system[:k, k] = system[k, :k] = 1.0
    solution = np.linalg.solve(system, np.append(-gradient, 0.0))
    return solution[:k], -float(solution[k])


def _walk(
    weights: FloatArray,
    step: FloatArray,
    free: IntArray,
    bound: npt.NDArray[np.int8],
    max_weight: float,
) -> FloatArray:
    """Move along ``step`` as far as 1 or the first bound; that bound joins the working set."""
    room = np.full(len(free), np.inf)
    down, up = step[free] < 0, step[free] > 0
    room[down] = weights[free][down] / -step[free][down]
    room[up] = (max_weight - weights[free][up]) / step[free][up]
    blocking = int(np.argmin(room))
    length = min(1.0, float(room[blocking]))
    moved = weights + length * step
    if length < 1.0:
        asset = int(free[blocking])
        bound[asset] = -1 if down[blocking] else 1
        moved[asset] = 0.0 if down[blocking] else max_weight
    result: FloatArray = moved
    return result
