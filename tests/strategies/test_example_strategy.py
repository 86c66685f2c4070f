"""The example strategy of one's own (examples/strategies): its arithmetic by hand, and no
look-ahead on the embedded data. The contract suite holds it to every other rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
MomentumVolTarget = get_strategy("momentum_vol_target:MomentumVolTarget", EXAMPLES)
DataBuilder = Callable[[pd.DataFrame], OptimizationData]


def _alternating(first: float, second: float, n: int) -> np.ndarray:
    """Prices from 100 whose daily returns alternate between two values."""
    returns = np.where(np.arange(n) % 2 == 0, first, second)
    return 100.0 * np.cumprod(1.0 + returns)


@pytest.fixture
def three_assets(make_data: DataBuilder) -> OptimizationData:
    """A rises fastest and swings most, B rises calmly, C falls: A, then B, rank first."""
    n = 400
    index = pd.bdate_range("2020-01-01", periods=n)
    prices = pd.DataFrame(
        {
            "A": _alternating(0.03, -0.02, n),
            "B": _alternating(0.006, -0.004, n),
            "C": _alternating(-0.003, 0.002, n),
        },
        index=index,
    )
    return make_data(prices)


def test_the_top_asset_is_scaled_to_the_volatility_target(three_assets: OptimizationData) -> None:
    params = {"lookback_months": 6, "skip_months": 1, "top_n": 1, "vol_days": 21}
    params |= {"vol_target": 0.10, "max_leverage": 2.0, "rebalance": "monthly"}
    weights = MomentumVolTarget().generate_weights(three_assets, params)
    t = weights.index[-1]
    window = three_assets.returns.loc[:t, "A"].iloc[-21:]
    realised = window.std(ddof=1) * np.sqrt(252)
    assert weights.loc[t, "A"] == pytest.approx(0.10 / realised, rel=1e-12)
    assert (weights.loc[t, ["B", "C"]] == 0).all()
    # Before 7 months (6 + 1 skipped) of history there is no score: cash.
    first = three_assets.daily.index[21 * 7]
    assert (weights.loc[weights.index < first].to_numpy() == 0).all()
    assert (weights.loc[weights.index >= first, "A"] > 0).all()


def test_exposure_is_capped_at_max_leverage(three_assets: OptimizationData) -> None:
    params = {"top_n": 2, "lookback_months": 6, "vol_target": 5.0, "max_leverage": 1.5}
    weights = MomentumVolTarget().generate_weights(three_assets, params)
    invested = weights.loc[weights.sum(axis=1) > 0]
    assert len(invested) > 5
    np.testing.assert_allclose(invested.sum(axis=1), 1.5)
    np.testing.assert_allclose(invested["A"], invested["B"])  # equal weight, then scaled
    assert (invested["C"] == 0).all()


@pytest.mark.parametrize("rebalance", ["weekly", "monthly"])
def test_weights_up_to_t_ignore_every_price_after_t(
    rebalance: str, sp500_full: OptimizationData, make_data: DataBuilder
) -> None:
    """Prices after t multiplied by noise, or deleted: every weight dated t or earlier is
    unchanged, bit for bit, at several t (each a rebalance date with positions)."""
    prices = sp500_full.daily.loc["2004-01-01":"2009-12-31"]
    params = {"rebalance": rebalance, "max_leverage": 2.0, "vol_days": 42}
    strategy = MomentumVolTarget()
    before = strategy.generate_weights(make_data(prices), params)
    invested = before.index[(before.to_numpy() != 0).any(axis=1)]
    rng = np.random.default_rng(7)
    for t in invested[[0, len(invested) // 3, 2 * len(invested) // 3, -2]]:
        cut = prices.index.get_loc(t) + 1
        changed = prices.to_numpy(copy=True)
        changed[cut:] *= rng.lognormal(0.0, 0.3, size=changed[cut:].shape)
        changed[cut:, rng.random(prices.shape[1]) < 0.3] = np.nan
        future = make_data(pd.DataFrame(changed, index=prices.index, columns=prices.columns))
        after = strategy.generate_weights(future, params)
        pd.testing.assert_frame_equal(after.loc[:t], before.loc[:t], check_exact=True)
        assert not after.loc[t:].iloc[1:].equals(before.loc[t:].iloc[1:]), "later rows moved"
