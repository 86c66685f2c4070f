"""Risk parity: weights under which every asset contributes the same share of the risk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError
from ._base import BaseStrategy, Parameter
from ._covariance import covariance_lookback_parameter, trailing_covariances
from ._parameters import rebalance_parameter
from ._weights import FloatArray, daily_prices, daily_returns, rebalance_rows, weights_frame

# Newton steps needed in practice are under 20; the bound only stops a runaway loop.
_MAX_STEPS = 200
_TOLERANCE = 1e-11


class RiskParityStrategy(BaseStrategy):
    """Equal risk contribution: ``w_i (Σw)_i`` is the same for every asset, weights sum to 1.

    Σ is the sample covariance of the ``lookback_days`` daily returns up to and including
    the rebalance date, over the assets with a price that day and a full window. Unlike
    inverse volatility, correlated assets share one risk budget. With no more returns than
    assets Σ is singular, a portfolio of zero sample variance exists and the problem has no
    solution: that is refused with the lookback it needs. Rebalance dates before any
    asset qualifies are all-zero rows (cash).
    """

    name: ClassVar[str] = "risk_parity"
    description: ClassVar[str] = (
        "Equal risk contribution weights from the sample covariance over lookback_days."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        covariance_lookback_parameter(),
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
            if len(assets) >= p["lookback_days"]:
                raise ScenarioError(
                    f"strategy {self.name!r}: the covariance of {len(assets)} assets from "
                    f"lookback_days={p['lookback_days']} daily returns is singular (on "
                    f"{dates[i]:%Y-%m-%d}), and equal risk contributions are then undefined; "
                    f"set lookback_days to at least {len(assets) + 1}"
                )
            weights[i, assets] = equal_risk_contributions(covariance)
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["lookback_days"])


def equal_risk_contributions(covariance: FloatArray) -> FloatArray:
    """Long-only weights summing to 1 with equal risk contributions, for a covariance with a
    positive diagonal and no long-only portfolio of zero variance (it may still be singular,
    as with two identical assets).

    Newton's method on the convex ``f(y) = y'Σy / 2 - Σ log(y_i) / n`` (Spinu, 2013), whose
    minimiser, normalised to sum 1, is the solution; each step is halved until it keeps y
    positive and does not raise f, so the iteration cannot diverge.
    """
    n = covariance.shape[0]
    sigma = covariance / np.mean(np.diag(covariance))  # scale-free, for the tolerance
    budget = np.full(n, 1.0 / n)
    y = 1.0 / np.sqrt(np.diag(sigma))
    y /= np.sqrt(y @ sigma @ y)  # the minimiser has y'Σy = sum(budget) = 1

    def objective(x: FloatArray) -> float:
        return float(0.5 * x @ sigma @ x - budget @ np.log(x))

    value = objective(y)
    for _ in range(_MAX_STEPS):
        gradient = sigma @ y - budget / y
        if np.max(np.abs(gradient * y)) < _TOLERANCE:
            break
        step = np.linalg.solve(sigma + np.diag(budget / y**2), gradient)
        # Halve the step until y stays positive and f does not rise (beyond rounding).
        scale = 1.0
        while True:
            trial = y - scale * step
            if (trial > 0).all():
                trial_value = objective(trial)
                if trial_value <= value + 1e-13 * abs(value) or scale < 1e-12:
                    break
            scale /= 2
        y, value = trial, trial_value
    else:
        raise RuntimeError(f"risk parity: no solution after {_MAX_STEPS} Newton steps")
    weights: FloatArray = y / y.sum()
    return weights
