"""Dual momentum: the best risers among the risky assets, while they beat a safe asset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError, did_you_mean
from ._base import BaseStrategy, Parameter
from ._parameters import momentum_parameters
from ._text_parameter import text_parameter
from ._weights import (
    TRADING_DAYS_PER_MONTH,
    daily_prices,
    equal_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)
from .simple_momentum import momentum_returns

CASH = "cash"


class DualMomentumStrategy(BaseStrategy):
    """Relative momentum picks the ``top_n`` risky assets by past total return; absolute
    momentum keeps each pick only while its return is at least the safe asset's (or 0 when
    ``safe_asset`` is ``cash``): a pick below it hands its 1/k share to the safe asset (or
    to cash).

    Returns are measured as in ``simple_momentum`` (``lookback_months`` of 21 trading days,
    skipping the latest ``skip_months``). The safe asset is never one of the risky picks.
    On a date where the safe asset has no return to compare with (too little history, no
    price), the comparison is with 0 and a failing pick's share goes to cash.
    """

    name: ClassVar[str] = "dual_momentum"
    description: ClassVar[str] = (
        "The top_n assets by past return, each switched to the safe asset (or cash) when its "
        "return is below the safe asset's (or below 0)."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        *momentum_parameters(),
        text_parameter(
            "safe_asset",
            CASH,
            "ticker held instead of a pick that trails it, or 'cash' (a hurdle of 0)",
        ),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        safe = _safe_column(data, p["safe_asset"])
        dates, rows = rebalance_rows(data, p["rebalance"])
        scores = momentum_returns(daily_prices(data), rows, p["lookback_months"], p["skip_months"])
        hurdle = np.zeros(len(rows))
        if safe is not None:
            safe_scores = scores[:, safe].copy()
            scores[:, safe] = np.nan  # the safe asset is the alternative, not a pick
            buyable = np.isfinite(safe_scores)
            hurdle[buyable] = safe_scores[buyable]
        weights = equal_weights(select_top(scores, p["top_n"], largest=True))
        failing = scores < hurdle[:, None]
        handed = np.where(failing, weights, 0.0).sum(axis=1)
        weights[failing] = 0.0
        if safe is not None:
            weights[buyable, safe] += handed[buyable]
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        p = self.resolve_params(params)
        return TRADING_DAYS_PER_MONTH * int(p["lookback_months"] + p["skip_months"])


def _safe_column(data: OptimizationData, safe_asset: str) -> int | None:
    """The safe asset's column number, or None for cash; a ticker not in the data is refused."""
    if safe_asset == CASH:
        return None
    tickers = [str(t) for t in data.daily.columns]
    if safe_asset not in tickers:
        raise ScenarioError(
            f"strategy 'dual_momentum' parameter 'safe_asset': {safe_asset!r} is not a ticker "
            "of the data" + did_you_mean(safe_asset, tickers) + "; add it to the universe or "
            f"use {CASH!r}"
        )
    return tickers.index(safe_asset)
