"""equal_weight and buy_and_hold: who is held, when, and with what weight."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy

DataBuilder = Callable[[pd.DataFrame], OptimizationData]


def test_equal_weight_splits_across_priced_assets_at_month_ends(
    late_listing: OptimizationData,
) -> None:
    weights = get_strategy("equal_weight")().generate_weights(late_listing, {})
    assert weights.index[0] == pd.Timestamp("1990-01-31")
    assert weights.index[1] == pd.Timestamp("1990-02-28")
    before, after = weights.loc[:"1999-12-31"], weights.loc["2000-01-01":]
    assert (before["AMD"] == 0.0).all()
    np.testing.assert_array_equal(before.drop(columns="AMD").to_numpy(), 1 / 19)
    np.testing.assert_array_equal(after.to_numpy(), 1 / 20)


def test_equal_weight_follows_the_rebalance_choice(late_listing: OptimizationData) -> None:
    strategy = get_strategy("equal_weight")()
    yearly = strategy.generate_weights(late_listing, {"rebalance": "yearly"})
    assert list(yearly.index[:2]) == [pd.Timestamp("1990-12-31"), pd.Timestamp("1991-12-31")]


def test_buy_and_hold_buys_once_what_has_a_price(late_listing: OptimizationData) -> None:
    weights = get_strategy("buy_and_hold")().generate_weights(late_listing, {})
    assert list(weights.index) == [pd.Timestamp("1990-01-02")]
    expected = pd.Series(1 / 19, index=late_listing.daily.columns).where(
        late_listing.daily.columns != "AMD", 0.0
    )
    pd.testing.assert_series_equal(weights.iloc[0], expected, check_names=False)


def test_buy_and_hold_waits_for_the_first_price(
    late_listing_prices: pd.DataFrame, make_data: DataBuilder
) -> None:
    prices = late_listing_prices.iloc[:10].copy()
    prices.iloc[:3] = np.nan
    weights = get_strategy("buy_and_hold")().generate_weights(make_data(prices), {})
    assert list(weights.index) == [prices.index[3]]


def test_buy_and_hold_without_any_price_stays_in_cash(
    late_listing_prices: pd.DataFrame, make_data: DataBuilder
) -> None:
    prices = late_listing_prices.iloc[:10] * np.nan
    weights = get_strategy("buy_and_hold")().generate_weights(make_data(prices), {})
    assert list(weights.index) == [prices.index[0]]
    assert (weights.to_numpy() == 0.0).all()
