"""The validated market data of a scenario, as every reader returns it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["MarketData"]


@dataclass(frozen=True, slots=True)
class MarketData:
    """Validated closes plus a benchmark series, and the opens, highs, lows and volumes
    when the source had them (on the closes' dates and tickers)."""

    prices: pd.DataFrame
    benchmark: pd.Series | None
    open: pd.DataFrame | None = None
    high: pd.DataFrame | None = None
    low: pd.DataFrame | None = None
    volume: pd.DataFrame | None = None
    """Shares traded per day, on the same footing as the prices (split-adjusted with them)."""
