"""Low-volatility anomaly: hold the assets whose recent daily returns varied least."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._parameters import lookback_days_parameter, rebalance_parameter, top_n_parameter
from ._trailing import TrailingWindows
from ._weights import (
    daily_prices,
    daily_returns,
    equal_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)


class LowVolatilityStrategy(BaseStrategy):
    """Equal weight in the ``top_n`` assets with the lowest sample std of daily returns.

    The window holds the ``lookback_days`` returns up to and including the rebalance date;
    a window with a missing return gives no estimate. Rebalance dates before any asset has
    a full window are all-zero rows (cash).
    """

    name: ClassVar[str] = "low_volatility"
    description: ClassVar[str] = (
        "Equal weight in the top_n assets with the lowest volatility over lookback_days."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        lookback_days_parameter(),
        top_n_parameter(),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        length = p["lookback_days"]
        _, stds = TrailingWindows(daily_returns(data), rows, [length], squares=True).mean_std(
            length
        )
        vols = np.where(np.isfinite(daily_prices(data)[rows]), stds, np.nan)
        return weights_frame(
            equal_weights(select_top(vols, p["top_n"], largest=False)), dates, data
        )

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["lookback_days"])
