"""Strategies that score each asset on a trailing window of closes and hold the top N."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy
from ._weights import (
    FloatArray,
    IntArray,
    daily_prices,
    equal_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)

__all__ = ["TopByScoreStrategy"]


class TopByScoreStrategy(BaseStrategy):
    """Equal weight in the ``top_n`` assets by :meth:`score`, at each rebalance date.

    A subclass names the parameter of its window (``window``), whether the highest or the
    lowest scores are held (``largest``) and how many days before the window's first close
    its history starts (``window_offset``: 0 when the score compares a close with the one
    ``window`` days earlier, -1 when the window holds ``window`` closes).
    """

    window: ClassVar[str]
    largest: ClassVar[bool]
    window_offset: ClassVar[int] = 0

    @abstractmethod
    def score(self, prices: FloatArray, rows: IntArray, window: int) -> FloatArray:
        """``(len(rows), m)`` scores from the ``(n, m)`` closes up to each row; NaN: none."""

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, rows = rebalance_rows(data, p["rebalance"])
        scores = self.score(daily_prices(data), rows, p[self.window])
        picks = select_top(scores, p["top_n"], largest=self.largest)
        return weights_frame(equal_weights(picks), dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)[self.window]) + self.window_offset
