"""Buy and hold: invest once, equally, and let the holdings drift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._weights import daily_prices, equal_weights, weights_frame


class BuyAndHoldStrategy(BaseStrategy):
    """One equal-weight row on the first date any asset has a price; no rebalancing after.

    Assets that get their first price later are never bought. Without any price at all,
    the single row is on the first date and all zero (cash); empty data gives no rows.
    """

    name: ClassVar[str] = "buy_and_hold"
    description: ClassVar[str] = (
        "Equal weight on the first date with prices, then holdings drift without rebalancing."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        self.resolve_params(params)
        priced = np.isfinite(daily_prices(data))
        any_priced = priced.any(axis=1)
        rows = np.flatnonzero(any_priced)[:1] if any_priced.any() else np.arange(len(priced))[:1]
        dates = pd.DatetimeIndex(data.daily.index[rows])
        return weights_frame(equal_weights(priced[rows]), dates, data)
