"""A strategy of one's own: 12-1 momentum scaled to a target volatility.

Scenarios beside this file name it as ``momentum_vol_target:MomentumVolTarget``; the module
is found next to the scenario, so it needs no installing and no PYTHONPATH.

At each rebalance date t, using closes up to and including t only:

1. score every asset by its return over ``lookback_months`` ending ``skip_months`` before t
   (12-1 momentum: twelve months, skipping the latest one, which tends to reverse);
2. hold the ``top_n`` best, equally weighted;
3. scale the basket so that its volatility over the last ``vol_days`` daily returns,
   annualised, is ``vol_target``, with gross exposure at most ``max_leverage``.

The weights dated t are traded at t's close and earn from t + 1 on: the engine does that,
the strategy only has to never read a row after t.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from portfolio_backtester import BaseStrategy, OptimizationData, Parameter
from portfolio_backtester.strategies import rebalance_dates

DAYS_PER_MONTH = 21  # trading days
DAYS_PER_YEAR = 252


class MomentumVolTarget(BaseStrategy):
    """Hold the top_n assets by 12-1 momentum, scaled to a target annual volatility."""

    name = "momentum_vol_target"
    description = "top_n by momentum skipping the last month, scaled to vol_target"
    parameters = (
        # low..high: where `optimize` searches by default; min/max: what any value must keep.
        Parameter("lookback_months", "int", default=12, low=6, high=18, min=1,
                  doc="months of return in the momentum score"),
        Parameter("skip_months", "int", default=1, low=0, high=2, min=0,
                  doc="latest months left out of the score"),
        Parameter("top_n", "int", default=5, low=2, high=10, min=1,
                  doc="assets held, equally weighted before scaling"),
        Parameter("vol_target", "float", default=0.15, low=0.05, high=0.30, min=0.001,
                  doc="target annualised volatility of the portfolio"),
        Parameter("vol_days", "int", default=63, low=21, high=126, min=2,
                  doc="trading days of returns in the realised volatility"),
        Parameter("max_leverage", "float", default=1.0, low=0.5, high=2.0, min=0.0,
                  doc="cap on the sum of weights (above 1 borrows at the cash rate)"),
        Parameter("rebalance", "categorical", default="monthly",
                  choices=("weekly", "monthly", "quarterly"), doc="how often to trade"),
    )  # fmt: skip

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        """Rows of history before the first weight can be computed."""
        p = self.resolve_params(params)
        momentum = DAYS_PER_MONTH * (p["lookback_months"] + p["skip_months"])
        return int(max(momentum, p["vol_days"]))

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        closes = data.daily.to_numpy()  # (n_days, n_assets), NaN where no price
        returns = data.returns.to_numpy()  # daily simple returns, NaN on day 0
        dates = rebalance_dates(pd.DatetimeIndex(data.daily.index), p["rebalance"])
        rows = data.daily.index.get_indexer(dates)
        weights = np.zeros((len(rows), closes.shape[1]))
        for i, t in enumerate(rows.tolist()):  # plain ints
            held = self._top_assets(closes, t, p)
            if len(held) == 0:
                continue  # not enough history yet: cash
            weights[i, held] = self._exposure(returns, t, held, p) / len(held)
        return pd.DataFrame(weights, index=dates, columns=data.daily.columns)

    @staticmethod
    def _top_assets(closes: np.ndarray, t: int, p: Mapping[str, Any]) -> np.ndarray:
        """Columns of the top_n scores at row t, from rows t - (lookback + skip) months to
        t - skip months; an asset without a price at t, or at either end, gets no score."""
        end = t - DAYS_PER_MONTH * p["skip_months"]
        start = end - DAYS_PER_MONTH * p["lookback_months"]
        if start < 0:
            return np.array([], dtype=int)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = closes[end] / closes[start] - 1.0
        scores[~np.isfinite(closes[t])] = np.nan
        ranked = np.flatnonzero(np.isfinite(scores))
        ranked = ranked[np.argsort(-scores[ranked], kind="stable")]  # best first, ties by column
        return ranked[: p["top_n"]]

    @staticmethod
    def _exposure(returns: np.ndarray, t: int, held: np.ndarray, p: Mapping[str, Any]) -> float:
        """Gross exposure that brings the equal-weight basket's realised volatility over the
        vol_days returns ending at t (inclusive) to vol_target, capped at max_leverage."""
        if t < p["vol_days"]:
            return 0.0  # not vol_days returns yet (day 0 has none): no estimate of risk
        window = returns[t - p["vol_days"] + 1 : t + 1, held]
        priced = np.isfinite(window)  # a basket's day is the mean of the assets priced then
        counts = priced.sum(axis=1)
        basket = np.where(priced, window, 0.0).sum(axis=1)[counts > 0] / counts[counts > 0]
        if len(basket) < 2:
            return 0.0
        realised = float(np.std(basket, ddof=1)) * np.sqrt(DAYS_PER_YEAR)
        if realised == 0.0:
            return float(p["max_leverage"])
        return float(min(p["vol_target"] / realised, p["max_leverage"]))
