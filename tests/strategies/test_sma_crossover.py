"""sma_crossover: signals on straight lines and a tent, and the parameter constraint."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy

DataBuilder = Callable[[pd.DataFrame], OptimizationData]


def frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    n_rows = len(next(iter(columns.values())))
    index = pd.bdate_range("2019-01-01", periods=n_rows, name="date")
    return pd.DataFrame(columns, index=index)


def test_rising_is_long_falling_is_short_or_flat(make_data: DataBuilder) -> None:
    t = np.arange(80, dtype=float)
    late = np.where(t >= 30, 100.0 + t, np.nan)
    data = make_data(frame({"UP": 100.0 + t, "DOWN": 300.0 - t, "LATE": late}))
    strategy = get_strategy("sma_crossover")()
    params = {"fast_days": 5, "slow_days": 20, "mode": "long_short"}
    weights = strategy.generate_weights(data, params).to_numpy()
    # Rows 0..18: no complete 20-day average. From row 19: +1 / -1 over the priced assets
    # (2 before LATE lists at row 30, then 3); LATE needs its own 20 prices (row 49 on).
    assert (weights[:19] == 0.0).all()
    np.testing.assert_array_equal(weights[19:30], [[1 / 2, -1 / 2, 0.0]] * 11)
    np.testing.assert_array_equal(weights[30:49], [[1 / 3, -1 / 3, 0.0]] * 19)
    np.testing.assert_array_equal(weights[49:], [[1 / 3, -1 / 3, 1 / 3]] * 31)
    flat = strategy.generate_weights(data, {**params, "mode": "long_flat"}).to_numpy()
    np.testing.assert_array_equal(flat, np.maximum(weights, 0.0))


def test_signal_flips_eight_days_after_the_top_of_a_tent(make_data: DataBuilder) -> None:
    # Price 160 - |t - 60|. d days after the top (4 <= d <= 19) SMA5 = 162 - d and
    # SMA20 = 160 - S/20 with S = (19 - d)(20 - d)/2 + d(d + 1)/2, so SMA5 > SMA20
    # while S > 20d - 40: true for d = 7 (106 > 100), false for d = 8 (102 < 120).
    t = np.arange(100, dtype=float)
    data = make_data(frame({"TENT": 160.0 - np.abs(t - 60.0)}))
    weights = get_strategy("sma_crossover")().generate_weights(
        data, {"fast_days": 5, "slow_days": 20}
    )
    signal = weights["TENT"].to_numpy()
    assert (signal[19:68] == 1.0).all()
    assert (signal[68:] == 0.0).all()


def test_signal_matches_pandas_rolling_means(late_listing: OptimizationData) -> None:
    fast_days, slow_days = 30, 120
    weights = get_strategy("sma_crossover")().generate_weights(
        late_listing, {"fast_days": fast_days, "slow_days": slow_days, "mode": "long_short"}
    )
    prices = late_listing.daily
    fast, slow = prices.rolling(fast_days).mean(), prices.rolling(slow_days).mean()
    signal = np.where(fast > slow, 1.0, np.where(slow.notna(), -1.0, 0.0))
    expected = signal / prices.notna().sum(axis=1).to_numpy()[:, None]
    # Averages within rounding of each other could legitimately differ: ignore those days.
    close = np.isclose(fast.to_numpy(), slow.to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(weights.to_numpy()[~close], expected[~close])


@pytest.mark.parametrize(("fast", "slow"), [(50, 50), (100, 20)])
def test_fast_window_must_be_shorter(late_listing: OptimizationData, fast: int, slow: int) -> None:
    with pytest.raises(ScenarioError, match=r"fast_days \(\d+\) must be less than slow_days"):
        get_strategy("sma_crossover")().generate_weights(
            late_listing, {"fast_days": fast, "slow_days": slow}
        )


def test_weekly_rebalance_samples_the_daily_signal(late_listing: OptimizationData) -> None:
    strategy = get_strategy("sma_crossover")()
    daily = strategy.generate_weights(late_listing, {})
    weekly = strategy.generate_weights(late_listing, {"rebalance": "weekly"})
    assert len(weekly) < len(daily)
    pd.testing.assert_frame_equal(weekly, daily.loc[weekly.index])
