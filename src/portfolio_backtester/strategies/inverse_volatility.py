"""Inverse-volatility weighting: a naive risk parity that ignores correlations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._parameters import lookback_days_parameter, rebalance_parameter
from ._trailing import TrailingWindows
from ._weights import (
    daily_prices,
    daily_returns,
    proportional_weights,
    rebalance_rows,
    weights_frame,
)


class InverseVolatilityStrategy(BaseStrategy):
    """Weights proportional to 1/std of daily returns, summing to 1.

    The window holds the ``lookback_days`` returns up to and including the rebalance date.
    Assets without a full window, or with zero volatility (no risk estimate to scale by),
    get no weight. Rebalance dates before any asset qualifies are all-zero rows (cash).
    """

    name: ClassVar[str] = "inverse_volatility"
    description: ClassVar[str] = (
        "Weights proportional to 1/volatility over lookback_days, fully invested."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        lookback_days_parameter(),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        length = p["lookback_days"]
        _, stds = TrailingWindows(daily_returns(data), rows, [length], squares=True).mean_std(
            length
        )
        usable = (stds > 0) & np.isfinite(daily_prices(data)[rows])
        inverse = np.divide(1.0, stds, out=np.zeros(stds.shape), where=usable)
        return weights_frame(proportional_weights(inverse), dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["lookback_days"])
