"""low_volatility and inverse_volatility on returns with known volatilities."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy

DataBuilder = Callable[[pd.DataFrame], OptimizationData]


def alternating_prices(swings: list[float], n_rows: int = 80) -> pd.DataFrame:
    """Each asset alternates +s and -s returns: any even window has mean 0 and std
    s * sqrt(n / (n - 1)), so volatilities are known exactly."""
    signs = np.where(np.arange(n_rows) % 2 == 0, 1.0, -1.0)[:, None]
    growth = 1.0 + signs * np.asarray(swings)[None, :]
    growth[0] = 1.0
    index = pd.bdate_range("2021-01-04", periods=n_rows, name="date")
    columns = [f"S{i}" for i in range(len(swings))]
    return pd.DataFrame(100.0 * np.cumprod(growth, axis=0), index=index, columns=columns)


def test_low_volatility_holds_the_calmest_assets(make_data: DataBuilder) -> None:
    prices = alternating_prices([0.03, 0.01, 0.02, 0.005])
    params = {"lookback_days": 20, "top_n": 2, "rebalance": "daily"}
    weights = get_strategy("low_volatility")().generate_weights(make_data(prices), params)
    # Row 0 has no return, so the first full window of 20 returns ends at row 20.
    assert (weights.iloc[:20].to_numpy() == 0.0).all()
    np.testing.assert_array_equal(weights.iloc[20:].to_numpy(), [[0.0, 0.5, 0.0, 0.5]] * 60)


def test_inverse_volatility_weights_are_proportional_to_one_over_vol(
    make_data: DataBuilder,
) -> None:
    prices = alternating_prices([0.01, 0.02, 0.04])
    params = {"lookback_days": 20, "rebalance": "monthly"}
    weights = get_strategy("inverse_volatility")().generate_weights(make_data(prices), params)
    # 1/0.01 : 1/0.02 : 1/0.04 = 4 : 2 : 1
    np.testing.assert_allclose(weights.iloc[-1].to_numpy(), [4 / 7, 2 / 7, 1 / 7], rtol=1e-12)
    assert (weights.iloc[0].to_numpy() == 0.0).all()  # January: 20 prices, 19 returns


def test_inverse_volatility_skips_assets_without_risk_estimate(make_data: DataBuilder) -> None:
    prices = alternating_prices([0.01, 0.02])
    prices["FLAT"] = 50.0  # zero volatility: nothing to scale by
    prices["NEW"] = prices["S0"].where(prices.index >= prices.index[70])  # listed too late
    weights = get_strategy("inverse_volatility")().generate_weights(
        make_data(prices), {"lookback_days": 20}
    )
    np.testing.assert_allclose(weights.iloc[-1].to_numpy(), [2 / 3, 1 / 3, 0.0, 0.0])


def test_volatility_matches_pandas_rolling_std(late_listing: OptimizationData) -> None:
    lookback = 63
    weights = get_strategy("inverse_volatility")().generate_weights(
        late_listing, {"lookback_days": lookback, "rebalance": "monthly"}
    )
    vols = late_listing.returns.rolling(lookback).std().loc[weights.index]
    inverse = (1.0 / vols).where(late_listing.daily.loc[weights.index].notna(), np.nan)
    expected = inverse.div(inverse.sum(axis=1), axis=0).fillna(0.0)
    pd.testing.assert_frame_equal(weights, expected, rtol=1e-9, check_freq=False)
