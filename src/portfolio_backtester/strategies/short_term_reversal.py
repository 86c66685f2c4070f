"""Short-term reversal: buy last month's worst performers, which tend to bounce back."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._base import Parameter
from ._parameters import rebalance_parameter, top_n_parameter
from ._ranking import TopByScoreStrategy
from ._weights import FloatArray, IntArray


class ShortTermReversalStrategy(TopByScoreStrategy):
    """Equal weight in the ``top_n`` assets with the lowest return over the last
    ``lookback_days`` trading days: ``price[t] / price[t - lookback_days] - 1``.

    The default is a month (21 days), rebalanced monthly. An asset without both prices has
    no score; rebalance dates with too little history are all-zero rows (cash).
    """

    name: ClassVar[str] = "short_term_reversal"
    description: ClassVar[str] = (
        "Equal weight in the top_n assets with the lowest return over the last lookback_days."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="lookback_days",
            kind="int",
            default=21,
            low=5,
            high=63,
            step=1,
            min=1,
            doc="trading days over which the losers are measured (21 is a month)",
        ),
        top_n_parameter(),
        rebalance_parameter("monthly"),
    )

    window: ClassVar[str] = "lookback_days"
    largest: ClassVar[bool] = False

    def score(self, prices: FloatArray, rows: IntArray, window: int) -> FloatArray:
        return trailing_returns(prices, rows, window)


def trailing_returns(prices: FloatArray, rows: IntArray, days: int) -> FloatArray:
    """``price[row] / price[row - days] - 1`` per asset; NaN without both prices."""
    starts = rows - days
    first = prices[np.maximum(starts, 0)]
    last = prices[rows]
    usable = (starts >= 0)[:, None] & (first > 0) & np.isfinite(last)
    returns = np.full(last.shape, np.nan)
    np.divide(last, first, out=returns, where=usable)
    return returns - 1.0
