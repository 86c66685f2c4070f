"""Fixtures for the strategy tests: the embedded S&P 500 data with a late listing, and a
builder of OptimizationData from any price frame."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.optimization.results import OptimizationData


def build_data(prices: pd.DataFrame) -> OptimizationData:
    """OptimizationData the way the data layer builds it, from daily closes alone."""
    benchmark = prices.mean(axis=1).to_frame("benchmark")
    return OptimizationData(
        daily=prices,
        monthly=prices.resample("ME").last(),
        returns=prices.pct_change(fill_method=None),
        benchmark=benchmark,
    )


@pytest.fixture(scope="session")
def make_data() -> Callable[[pd.DataFrame], OptimizationData]:
    return build_data


@pytest.fixture(scope="session")
def sp500_full() -> OptimizationData:
    """All 8313 days, every ticker priced from the first day."""
    prices, index = load_sp500()
    data = build_data(prices)
    return OptimizationData(data.daily, data.monthly, data.returns, index)


@pytest.fixture(scope="session")
def late_listing_prices() -> pd.DataFrame:
    """The embedded prices with AMD unpriced before 2000, as if it listed then."""
    prices, _ = load_sp500()
    amd = prices.columns.get_loc("AMD")
    values = prices.to_numpy(copy=True)
    values[prices.index < "2000-01-01", amd] = np.nan
    return pd.DataFrame(values, index=prices.index, columns=prices.columns)


@pytest.fixture(scope="session")
def late_listing(late_listing_prices: pd.DataFrame) -> OptimizationData:
    return build_data(late_listing_prices)
