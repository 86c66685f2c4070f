"""Cross-sectional momentum: hold the assets that rose most over the past months."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._parameters import momentum_parameters
from ._weights import (
    TRADING_DAYS_PER_MONTH,
    FloatArray,
    IntArray,
    daily_prices,
    equal_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)


class SimpleMomentumStrategy(BaseStrategy):
    """Equal weight in the ``top_n`` assets with the highest past total return.

    With m = 21 trading days, the score at row t is ``price[t - skip*m] /
    price[t - (skip + lookback)*m] - 1``. Rebalance dates with too little history to score
    any asset are all-zero rows (cash).
    """

    name: ClassVar[str] = "simple_momentum"
    description: ClassVar[str] = (
        "Equal weight in the top_n assets by total return over lookback_months, skipping the "
        "latest skip_months."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = momentum_parameters()

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        scores = momentum_returns(daily_prices(data), rows, p["lookback_months"], p["skip_months"])
        return weights_frame(
            equal_weights(select_top(scores, p["top_n"], largest=True)), dates, data
        )

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        p = self.resolve_params(params)
        return TRADING_DAYS_PER_MONTH * int(p["lookback_months"] + p["skip_months"])


def momentum_returns(
    prices: FloatArray, rows: IntArray, lookback_months: int, skip_months: int
) -> FloatArray:
    """Past total return per asset at each row; NaN without both prices or a price today."""
    ends = rows - TRADING_DAYS_PER_MONTH * skip_months
    starts = ends - TRADING_DAYS_PER_MONTH * lookback_months
    inside = (starts >= 0)[:, None]
    first = prices[np.maximum(starts, 0)]
    last = prices[np.maximum(ends, 0)]
    usable = inside & (first > 0) & np.isfinite(last) & np.isfinite(prices[rows])
    scores = np.full(last.shape, np.nan)
    np.divide(last, first, out=scores, where=usable)
    return scores - 1.0
