"""Low beta: hold the assets that moved least with the benchmark (betting against beta)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError
from ._base import BaseStrategy, Parameter
from ._parameters import rebalance_parameter, top_n_parameter
from ._trailing import TrailingWindows
from ._weights import (
    FloatArray,
    IntArray,
    daily_prices,
    daily_returns,
    equal_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)


class LowBetaStrategy(BaseStrategy):
    """Equal weight in the ``top_n`` assets with the lowest beta to the benchmark:
    cov(asset, benchmark) / var(benchmark) of the ``lookback_days`` daily returns up to and
    including the rebalance date.

    Low-beta assets have earned more than their beta implies (Frazzini and Pedersen, 2014).
    With ``unit_beta`` the weights are divided by the portfolio's beta (the mean beta held,
    when positive), so it carries the benchmark's market risk; the gross exposure is then
    capped at ``max_leverage``. A window with a missing return (the asset's or the
    benchmark's) gives no beta; dates before any beta are all-zero rows (cash).
    """

    name: ClassVar[str] = "low_beta"
    description: ClassVar[str] = (
        "Equal weight in the top_n assets with the lowest beta to the benchmark over "
        "lookback_days, optionally levered to a beta of 1."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="lookback_days",
            kind="int",
            default=252,
            low=63,
            high=504,
            step=1,
            min=2,
            doc="trading days of daily returns in the beta estimate",
        ),
        top_n_parameter(),
        Parameter(
            name="unit_beta",
            kind="bool",
            default=False,
            doc="scale the weights by 1 / portfolio beta (levering up low-beta holdings)",
        ),
        Parameter(
            name="max_leverage",
            kind="float",
            default=2.0,
            low=1.0,
            high=3.0,
            min=0.0,
            doc="cap on the gross exposure when unit_beta scales the weights",
        ),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        betas = trailing_betas(
            daily_returns(data), benchmark_returns(data), rows, p["lookback_days"]
        )
        betas[~np.isfinite(daily_prices(data)[rows])] = np.nan
        weights = equal_weights(select_top(betas, p["top_n"], largest=False))
        if p["unit_beta"]:
            portfolio_beta = np.nansum(np.where(weights > 0, weights * betas, 0.0), axis=1)
            scale = np.divide(
                1.0, portfolio_beta, out=np.ones(len(rows)), where=portfolio_beta > 0
            )
            scale = np.minimum(scale, p["max_leverage"])  # equal weights have gross 1
            weights *= scale[:, None]
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["lookback_days"])


def benchmark_returns(data: OptimizationData) -> FloatArray:
    """Daily simple returns of the benchmark on the daily calendar (NaN where unknown)."""
    if data.benchmark.shape[1] == 0:
        raise ScenarioError(
            "strategy 'low_beta' needs a benchmark to measure beta against; set the data "
            "section's benchmark (a ticker or 'default')"
        )
    closes = data.benchmark.iloc[:, 0].reindex(data.daily.index).to_numpy(dtype=np.float64)
    returns = np.full(len(closes), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        returns[1:] = closes[1:] / closes[:-1] - 1.0
    return returns


def trailing_betas(
    returns: FloatArray, benchmark: FloatArray, rows: IntArray, length: int
) -> FloatArray:
    """Beta of each asset to ``benchmark`` over the ``length`` returns ending at each row."""
    windows = TrailingWindows(returns, rows, [length])
    cross = TrailingWindows(returns * benchmark[:, None], rows, [length])
    market_mean, market_std = TrailingWindows(
        benchmark[:, None], rows, [length], squares=True
    ).mean_std(length)
    covariance = (cross.mean(length) - windows.mean(length) * market_mean) * (
        length / (length - 1)
    )
    variance = np.square(market_std)
    betas = np.full(covariance.shape, np.nan)
    np.divide(covariance, variance, out=betas, where=np.isfinite(covariance) & (variance > 0))
    return betas
