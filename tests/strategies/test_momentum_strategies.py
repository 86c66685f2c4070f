"""simple_momentum and sharpe_momentum on hand-made prices and against slow references."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy, rebalance_dates

DataBuilder = Callable[[pd.DataFrame], OptimizationData]
MONTH = 21


def prices_from_returns(returns: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Closes starting at 100 whose simple returns are ``returns`` (row 0 is the start)."""
    growth = np.vstack([np.ones(returns.shape[1]), 1.0 + returns[1:]])
    index = pd.bdate_range("2020-01-01", periods=len(returns), name="date")
    return pd.DataFrame(100.0 * np.cumprod(growth, axis=0), index=index, columns=columns)


def test_simple_momentum_holds_the_fastest_risers(make_data: DataBuilder) -> None:
    rates = np.array([0.002, 0.001, 0.0, -0.001, 0.003])
    prices = prices_from_returns(np.tile(rates, (120, 1)), list("ABCDE"))
    params = {"lookback_months": 1, "skip_months": 0, "top_n": 2, "rebalance": "daily"}
    weights = get_strategy("simple_momentum")().generate_weights(make_data(prices), params)
    # A score needs the price one month (21 rows) back: rows 0..20 are cash.
    assert (weights.iloc[:MONTH].to_numpy() == 0.0).all()
    expected = np.array([0.5, 0.0, 0.0, 0.0, 0.5])
    np.testing.assert_array_equal(weights.iloc[MONTH:].to_numpy(), np.tile(expected, (99, 1)))


def test_skip_months_ignores_the_latest_crash(make_data: DataBuilder) -> None:
    returns = np.full((100, 2), 0.001)
    returns[:79, 1] = 0.01  # B rises fast ...
    returns[79:, 1] = -0.03  # ... then crashes in the last month (rows 79..99)
    prices = prices_from_returns(returns, ["A", "B"])
    strategy = get_strategy("simple_momentum")()
    base = {"lookback_months": 1, "top_n": 1, "rebalance": "daily"}
    fresh = strategy.generate_weights(make_data(prices), {**base, "skip_months": 0})
    skipping = strategy.generate_weights(make_data(prices), {**base, "skip_months": 1})
    assert fresh.iloc[-1].tolist() == [1.0, 0.0]  # rows 78..99: B fell
    assert skipping.iloc[-1].tolist() == [0.0, 1.0]  # rows 57..78: B rose 1%/day


def test_sharpe_momentum_prefers_steady_gains_to_larger_volatile_ones(
    make_data: DataBuilder,
) -> None:
    n = 150
    volatile = np.where(np.arange(n) % 2 == 0, 0.03, -0.01)  # mean 1%, std 2%
    steady = np.where(np.arange(n) % 2 == 0, 0.006, 0.004)  # mean 0.5%, std 0.1%
    prices = prices_from_returns(np.column_stack([volatile, steady]), ["VOLATILE", "STEADY"])
    params = {"lookback_months": 2, "skip_months": 0, "top_n": 1, "rebalance": "monthly"}
    data = make_data(prices)
    by_return = get_strategy("simple_momentum")().generate_weights(data, params)
    by_sharpe = get_strategy("sharpe_momentum")().generate_weights(data, params)
    assert by_return.iloc[-1].tolist() == [1.0, 0.0]
    assert by_sharpe.iloc[-1].tolist() == [0.0, 1.0]


def slow_selection(scores: dict[str, float], top_n: int, columns: pd.Index) -> list[str]:
    """The top_n tickers by score, ties to the earlier column: the documented rule."""
    ranked = sorted(scores, key=lambda t: (-scores[t], columns.get_loc(t)))
    return ranked[:top_n]


@pytest.mark.parametrize(
    ("lookback", "skip", "top_n"), [(12, 1, 5), (3, 0, 3), (24, 3, 10), (1, 2, 1)]
)
def test_simple_momentum_matches_a_loop_over_dates(
    late_listing: OptimizationData, lookback: int, skip: int, top_n: int
) -> None:
    params = {"lookback_months": lookback, "skip_months": skip, "top_n": top_n}
    weights = get_strategy("simple_momentum")().generate_weights(late_listing, params)
    prices = late_listing.daily
    dates = rebalance_dates(pd.DatetimeIndex(prices.index), "monthly")[::7]
    for date, row in zip(dates, prices.index.get_indexer(dates), strict=True):
        end, start = row - MONTH * skip, row - MONTH * (skip + lookback)
        scores: dict[str, float] = {}
        if start >= 0:
            for ticker in prices.columns:
                now, first, last = (prices[ticker].iloc[i] for i in (row, start, end))
                if np.isfinite(now) and np.isfinite(last) and first > 0:
                    scores[ticker] = float(last / first - 1.0)
        held = slow_selection(scores, top_n, prices.columns)
        expected = pd.Series(0.0, index=prices.columns)
        expected[held] = 1.0 / len(held) if held else 0.0
        np.testing.assert_array_equal(weights.loc[date].to_numpy(), expected.to_numpy())


@pytest.mark.parametrize(("lookback", "skip", "top_n"), [(12, 1, 5), (2, 0, 3), (6, 3, 8)])
def test_sharpe_momentum_matches_a_loop_over_dates(
    late_listing: OptimizationData, lookback: int, skip: int, top_n: int
) -> None:
    params = {"lookback_months": lookback, "skip_months": skip, "top_n": top_n}
    weights = get_strategy("sharpe_momentum")().generate_weights(late_listing, params)
    prices, returns = late_listing.daily, late_listing.returns
    dates = rebalance_dates(pd.DatetimeIndex(prices.index), "monthly")[::7]
    for date, row in zip(dates, prices.index.get_indexer(dates), strict=True):
        end = row - MONTH * skip
        start = end - MONTH * lookback + 1
        scores: dict[str, float] = {}
        if start >= 0:
            for ticker in prices.columns:
                window = returns[ticker].iloc[start : end + 1].to_numpy()
                if np.isfinite(prices[ticker].iloc[row]) and np.isfinite(window).all():
                    std = window.std(ddof=1)
                    if std > 0:
                        scores[ticker] = float(window.mean() / std)
        held = slow_selection(scores, top_n, prices.columns)
        expected = pd.Series(0.0, index=prices.columns)
        expected[held] = 1.0 / len(held) if held else 0.0
        np.testing.assert_array_equal(weights.loc[date].to_numpy(), expected.to_numpy())
