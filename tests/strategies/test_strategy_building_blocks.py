"""The shared helpers against slow, obviously correct twins (pandas rolling, sorting)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import rebalance_dates
from portfolio_backtester.strategies._trailing import TrailingWindows
from portfolio_backtester.strategies._weights import equal_weights, select_top


@pytest.fixture(scope="module")
def holey_returns(late_listing: OptimizationData) -> pd.DataFrame:
    """Returns with the late listing plus scattered missing days."""
    returns = late_listing.returns.to_numpy(copy=True)
    rng = np.random.default_rng(0)
    returns[rng.random(returns.shape) < 0.002] = np.nan
    return pd.DataFrame(returns, index=late_listing.returns.index)


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly", "yearly"])
@pytest.mark.parametrize("length", [5, 21, 63, 252])
def test_trailing_statistics_match_pandas_rolling(
    holey_returns: pd.DataFrame, frequency: str, length: int
) -> None:
    dates = rebalance_dates(pd.DatetimeIndex(holey_returns.index), frequency)
    ends = holey_returns.index.get_indexer(dates)
    windows = TrailingWindows(holey_returns.to_numpy(), ends, [length, 5], squares=True)
    rolling = holey_returns.rolling(length)
    means, stds = windows.mean_std(length)
    np.testing.assert_allclose(means, rolling.mean().to_numpy()[ends], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(stds, rolling.std().to_numpy()[ends], rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(windows.mean(length), means)


def test_infinite_values_make_their_windows_incomplete() -> None:
    values = np.ones((10, 2))
    values[4, 0] = np.inf
    means = TrailingWindows(values, np.arange(10), [3]).mean(3)
    assert np.isnan(means[4:7, 0]).all() and (means[7:, 0] == 1.0).all()
    assert np.isnan(means[:2]).all() and (means[2:, 1] == 1.0).all()


def test_select_top_breaks_ties_by_column_and_never_picks_nan() -> None:
    scores = np.array([[1.0, 3.0, 3.0, np.nan, 2.0], [np.nan, np.nan, 1.0, np.nan, np.nan]])
    np.testing.assert_array_equal(
        select_top(scores, 2, largest=True), [[0, 1, 1, 0, 0], [0, 0, 1, 0, 0]]
    )
    np.testing.assert_array_equal(
        select_top(scores, 2, largest=False), [[1, 0, 0, 0, 1], [0, 0, 1, 0, 0]]
    )


def test_equal_weights_leave_empty_rows_in_cash() -> None:
    selected = np.array([[True, False, True], [False, False, False]])
    np.testing.assert_array_equal(equal_weights(selected), [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
