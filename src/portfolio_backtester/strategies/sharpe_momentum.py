"""Risk-adjusted momentum: hold the assets with the best past ratio of mean to volatility."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._parameters import momentum_parameters
from ._trailing import TrailingWindows
from ._weights import (
    TRADING_DAYS_PER_MONTH,
    daily_prices,
    daily_returns,
    equal_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)


class SharpeMomentumStrategy(BaseStrategy):
    """Equal weight in the ``top_n`` assets with the highest mean/std of daily returns.

    The window holds ``lookback_months * 21`` daily returns and ends ``skip_months * 21``
    trading days before the rebalance date. The ratio is not annualised (the ranking would
    not change). A window with a missing return gives no score. Rebalance dates with too
    little history to score any asset are all-zero rows (cash).
    """

    name: ClassVar[str] = "sharpe_momentum"
    description: ClassVar[str] = (
        "Equal weight in the top_n assets by mean/std of daily returns over lookback_months, "
        "skipping the latest skip_months."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = momentum_parameters()

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        ends = rows - TRADING_DAYS_PER_MONTH * p["skip_months"]
        length = TRADING_DAYS_PER_MONTH * p["lookback_months"]
        windows = TrailingWindows(daily_returns(data), ends, [length], squares=True)
        means, stds = windows.mean_std(length)
        usable = (stds > 0) & np.isfinite(daily_prices(data)[rows])
        scores = np.divide(means, stds, out=np.full(means.shape, np.nan), where=usable)
        return weights_frame(
            equal_weights(select_top(scores, p["top_n"], largest=True)), dates, data
        )

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        p = self.resolve_params(params)
        return TRADING_DAYS_PER_MONTH * int(p["lookback_months"] + p["skip_months"])
