"""Synthetic prices (geometric Brownian motion) for tests and benchmarks of any size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR

__all__ = ["synthetic_prices"]


def synthetic_prices(
    n_assets: int,
    n_days: int,
    *,
    seed: int = 0,
    annual_drift: float = 0.07,
    annual_volatility: float = 0.25,
    start: str | pd.Timestamp = "2000-01-03",
) -> pd.DataFrame:
    """Business-day closes starting at 100, reproducible for a given seed."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / TRADING_DAYS_PER_YEAR
    shocks = rng.standard_normal((n_days, n_assets))
    log_returns = (annual_drift - 0.5 * annual_volatility**2) * dt + (
        annual_volatility * np.sqrt(dt) * shocks
    )
    log_returns[0] = 0.0
    prices = 100.0 * np.exp(np.cumsum(log_returns, axis=0))
    index = pd.bdate_range(start=start, periods=n_days, name="date")
    width = len(str(max(n_assets - 1, 1)))
    columns = pd.Index([f"A{i:0{width}d}" for i in range(n_assets)], name="ticker")
    return pd.DataFrame(prices, index=index, columns=columns)
