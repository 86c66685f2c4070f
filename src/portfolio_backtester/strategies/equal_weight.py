"""Equal weight: the 1/n benchmark every other allocation should beat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._parameters import rebalance_parameter
from ._weights import daily_prices, equal_weights, rebalance_rows, weights_frame


class EqualWeightStrategy(BaseStrategy):
    """1/n in each of the n assets with a price on the rebalance date."""

    name: ClassVar[str] = "equal_weight"
    description: ClassVar[str] = "1/n in every asset with a price, reset at each rebalance."
    parameters: ClassVar[tuple[Parameter, ...]] = (rebalance_parameter("monthly"),)

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        return weights_frame(equal_weights(np.isfinite(daily_prices(data)[rows])), dates, data)
