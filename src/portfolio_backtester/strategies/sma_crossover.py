"""Trend following per asset: long while the fast moving average is above the slow one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError
from ._base import BaseStrategy, Parameter
from ._parameters import rebalance_parameter
from ._trailing import TrailingWindows
from ._weights import daily_prices, rebalance_rows, weights_frame

MODES = ("long_flat", "long_short")


class SmaCrossoverStrategy(BaseStrategy):
    """Signal +1 when SMA(fast) > SMA(slow), else 0 (``long_flat``) or -1 (``long_short``).

    Weights are signal / number of assets with a price that day, so the gross exposure is
    at most 1. Both averages are of closes up to and including the rebalance date; an asset
    without ``slow_days`` consecutive prices has signal 0, so early rows are cash.
    """

    name: ClassVar[str] = "sma_crossover"
    description: ClassVar[str] = (
        "Per asset, long when the fast moving average is above the slow one, else flat or short."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="fast_days",
            kind="int",
            default=50,
            low=5,
            high=100,
            step=1,
            min=1,
            doc="trading days in the fast simple moving average; must be below slow_days",
        ),
        Parameter(
            name="slow_days",
            kind="int",
            default=200,
            low=20,
            high=300,
            step=1,
            min=2,
            doc="trading days in the slow simple moving average",
        ),
        Parameter(
            name="mode",
            kind="categorical",
            default="long_flat",
            choices=MODES,
            doc="what a fast average at or below the slow one means: flat or short",
        ),
        rebalance_parameter("daily"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        fast_days, slow_days = p["fast_days"], p["slow_days"]
        if fast_days >= slow_days:
            raise ScenarioError(
                f"strategy {self.name!r}: fast_days ({fast_days}) must be less than "
                f"slow_days ({slow_days}); lower fast_days or raise slow_days"
            )
        dates, rows = rebalance_rows(data, p["rebalance"])
        prices = daily_prices(data)
        windows = TrailingWindows(prices, rows, [fast_days, slow_days])
        fast, slow = windows.mean(fast_days), windows.mean(slow_days)
        above = fast > slow
        weights = above.astype(np.float64)
        if p["mode"] == "long_short":
            # A complete slow window (finite mean) contains the fast one and today's price.
            weights -= ~above & np.isfinite(slow)
        n_priced = np.isfinite(prices).sum(axis=1)[rows]
        weights /= np.maximum(n_priced, 1)[:, None]
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["slow_days"]) - 1

    @classmethod
    def shorts(cls, params: Mapping[str, Any]) -> bool:
        return bool(cls.resolve_params(params)["mode"] == "long_short")
