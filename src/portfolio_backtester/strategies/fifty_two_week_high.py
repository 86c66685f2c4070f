"""52-week-high proximity: hold the assets trading closest to their trailing high."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._base import Parameter
from ._parameters import rebalance_parameter, top_n_parameter
from ._ranking import TopByScoreStrategy
from ._weights import FloatArray, IntArray


class FiftyTwoWeekHighStrategy(TopByScoreStrategy):
    """Equal weight in the ``top_n`` assets with the highest ``price[t] / max(price)`` over
    the ``window_days`` closes up to and including t (1 means at the high).

    Investors anchor on the 52-week high and underreact near it (George and Hwang, 2004).
    A window with a missing close gives no score, so early rows are cash.
    """

    name: ClassVar[str] = "fifty_two_week_high"
    description: ClassVar[str] = (
        "Equal weight in the top_n assets closest to their high over the last window_days."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="window_days",
            kind="int",
            default=252,
            low=63,
            high=504,
            step=1,
            min=1,
            doc="trading days of closes the high is taken over (252 is 52 weeks)",
        ),
        top_n_parameter(),
        rebalance_parameter("monthly"),
    )

    window: ClassVar[str] = "window_days"
    largest: ClassVar[bool] = True
    window_offset: ClassVar[int] = -1

    def score(self, prices: FloatArray, rows: IntArray, window: int) -> FloatArray:
        return high_proximity(prices, rows, window)


def high_proximity(prices: FloatArray, rows: IntArray, window_days: int) -> FloatArray:
    """Close over the window's highest close, per asset; NaN for an incomplete window."""
    proximity = np.full((len(rows), prices.shape[1]), np.nan)
    for i, row in enumerate(rows):
        start = row - window_days + 1
        if start < 0:
            continue
        high = prices[start : row + 1].max(axis=0)  # NaN when a close is missing
        np.divide(prices[row], high, out=proximity[i], where=high > 0)
    return proximity
