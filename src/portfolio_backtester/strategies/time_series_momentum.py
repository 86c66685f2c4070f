"""Time-series momentum: each asset long (or short) by the sign of its own past return,
sized to a target volatility."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._parameters import lookback_days_parameter, rebalance_parameter
from ._trailing import TrailingWindows
from ._weights import (
    TRADING_DAYS_PER_MONTH,
    daily_prices,
    daily_returns,
    rebalance_rows,
    weights_frame,
)
from .simple_momentum import momentum_returns

MODES = ("long_flat", "long_short")


class TimeSeriesMomentumStrategy(BaseStrategy):
    """Per asset, signal +1 when its return over ``lookback_months`` is positive, else 0
    (``long_flat``) or -1 (``long_short``); weight = signal * ``target_volatility`` / its
    annualised volatility / n, n the assets with a price that day.

    Each asset thus gets the same risk budget whatever its volatility. The volatility is
    the sample std of the ``lookback_days`` daily returns up to the rebalance date, times
    sqrt(252). When the gross exposure would exceed ``max_leverage``, every weight is
    scaled down by the same factor. Assets without both estimates, or with zero
    volatility, get no weight.
    """

    name: ClassVar[str] = "time_series_momentum"
    description: ClassVar[str] = (
        "Per asset, long (or short) by the sign of its past return, scaled to a target "
        "volatility, gross exposure capped at max_leverage."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="lookback_months",
            kind="int",
            default=12,
            low=1,
            high=24,
            step=1,
            min=1,
            doc="months (of 21 trading days) over which the sign of the return is measured",
        ),
        lookback_days_parameter(),
        Parameter(
            name="target_volatility",
            kind="float",
            default=0.15,
            low=0.05,
            high=0.5,
            min=0.0,
            doc="annualised volatility each position is sized to, before dividing by n",
        ),
        Parameter(
            name="max_leverage",
            kind="float",
            default=1.0,
            low=0.5,
            high=3.0,
            min=0.0,
            doc="cap on the gross exposure (sum of absolute weights)",
        ),
        Parameter(
            name="mode",
            kind="categorical",
            default="long_flat",
            choices=MODES,
            doc="what a return at or below zero means: flat or short",
        ),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        prices = daily_prices(data)
        trend = momentum_returns(prices, rows, p["lookback_months"], 0)
        length = p["lookback_days"]
        _, stds = TrailingWindows(daily_returns(data), rows, [length], squares=True).mean_std(
            length
        )
        vols = stds * np.sqrt(TRADING_DAYS_PER_YEAR)
        usable = np.isfinite(trend) & (vols > 0) & np.isfinite(prices[rows])
        signal = (trend > 0).astype(np.float64)
        if p["mode"] == "long_short":
            signal -= trend <= 0
        sizes = np.divide(p["target_volatility"], vols, out=np.zeros(vols.shape), where=usable)
        n_priced = np.isfinite(prices[rows]).sum(axis=1)
        weights = signal * sizes / np.maximum(n_priced, 1)[:, None]
        gross = np.abs(weights).sum(axis=1)
        over = gross > p["max_leverage"]
        weights[over] *= (p["max_leverage"] / gross[over])[:, None]
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        p = self.resolve_params(params)
        return max(TRADING_DAYS_PER_MONTH * int(p["lookback_months"]), int(p["lookback_days"]))

    @classmethod
    def shorts(cls, params: Mapping[str, Any]) -> bool:
        return bool(cls.resolve_params(params)["mode"] == "long_short")
