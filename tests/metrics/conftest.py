"""Fixtures for the metrics tests: daily returns from the embedded S&P 500 data."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def stock(sp500: tuple[pd.DataFrame, pd.DataFrame]) -> pd.Series:
    """One stock's daily returns (AAPL, 1990-2022)."""
    prices, _ = sp500
    return prices["AAPL"].pct_change().iloc[1:]


@pytest.fixture(scope="module")
def portfolio(sp500: tuple[pd.DataFrame, pd.DataFrame]) -> pd.Series:
    """Daily-rebalanced equal-weight portfolio of the 20 stocks."""
    prices, _ = sp500
    return prices.pct_change().iloc[1:].mean(axis=1)


@pytest.fixture(scope="module")
def benchmark(sp500: tuple[pd.DataFrame, pd.DataFrame]) -> pd.Series:
    _, index = sp500
    return index.iloc[:, 0].pct_change().iloc[1:]
