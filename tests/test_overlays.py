"""Sizing overlays: hand-built cases, their errors, and no look-ahead on the built-in data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portfolio_backtester as pb
from portfolio_backtester.data import MarketData, OptimizationData, build_optimization_data
from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.overlays import Overlay, apply_overlays, overlay_lookback_days
from portfolio_backtester.strategies import get_strategy

DAYS = pd.bdate_range("2021-01-04", periods=300)


def _data(prices: pd.DataFrame, benchmark: pd.Series | None = None) -> OptimizationData:
    return build_optimization_data(MarketData(prices=prices, benchmark=benchmark))


@pytest.mark.parametrize(
    ("excess", "weights", "expected"),
    [
        ("spread", [0.5, 0.3, 0.2], [0.4, 0.36, 0.24]),  # 0.1 cut, spread 3:2
        ("cash", [0.5, 0.3, 0.2], [0.4, 0.3, 0.2]),
        # Spreading lifts the second asset to the cap too: the rest goes to the third.
        ("spread", [0.6, 0.35, 0.05], [0.4, 0.4, 0.2]),
        ("spread", [-0.6, 0.2, 0.2], [-0.4, 0.2, 0.2]),  # no other short to take the excess
        # Each side's excess stays on its side; the longs' last 0.1 has nowhere to go.
        ("spread", [-0.5, -0.1, 0.6, 0.3], [-0.4, -0.2, 0.4, 0.4]),
    ],
)
def test_max_weight_caps_each_asset_and_spreads_or_keeps_the_excess(
    excess: str, weights: list[float], expected: list[float]
) -> None:
    prices = pd.DataFrame(1.0, index=DAYS[:3], columns=list("ABCD")[: len(weights)])
    targets = pd.DataFrame([weights], index=DAYS[1:2], columns=prices.columns)
    out = apply_overlays(
        targets, _data(prices), [Overlay("max_weight", {"cap": 0.4, "excess": excess})]
    )
    np.testing.assert_allclose(out.to_numpy()[0], expected, atol=1e-12)


def test_vol_target_scales_to_the_target_on_the_trailing_window_only() -> None:
    rng = np.random.default_rng(3)
    calm = rng.normal(0, 0.005, 150)
    wild = rng.normal(0, 0.03, 150)
    prices = pd.DataFrame({"A": 100 * np.cumprod(1 + np.concatenate([calm, wild]))}, index=DAYS)
    targets = pd.DataFrame({"A": [1.0, 1.0]}, index=DAYS[[120, 280]])
    overlay = Overlay("vol_target", {"target": 0.20, "lookback_days": 63, "max_leverage": 2.0})
    out = apply_overlays(targets, _data(prices), [overlay])
    returns = prices["A"].pct_change().to_numpy()
    for k, row in enumerate([120, 280]):
        vol = np.std(returns[row - 62 : row + 1], ddof=1) * math.sqrt(252)
        assert out["A"].iloc[k] == pytest.approx(min(0.20 / vol, 2.0), rel=1e-12)
    assert out["A"].iloc[0] == 2.0  # calm: capped at the leverage limit
    assert out["A"].iloc[1] < 0.5  # wild: scaled down


def test_risk_off_goes_to_cash_or_a_defensive_ticker_below_the_moving_average() -> None:
    up = np.linspace(100, 200, 150)
    down = np.linspace(200, 120, 150)
    benchmark = pd.Series(np.concatenate([up, down]), index=DAYS, name="SPX")
    prices = pd.DataFrame({"A": benchmark.to_numpy(), "BOND": 50.0}, index=DAYS)
    targets = pd.DataFrame({"A": [1.0, 1.0, 1.0], "BOND": 0.0}, index=DAYS[[60, 140, 290]])
    cash = [Overlay("risk_off", {"ma_days": 50})]
    out = apply_overlays(targets, _data(prices, benchmark), cash)
    assert out["A"].tolist() == [1.0, 1.0, 0.0]  # above its average twice, then below
    bonds = [Overlay("risk_off", {"ma_days": 50, "signal": "A", "to": "BOND"})]
    out = apply_overlays(targets, _data(prices, benchmark), bonds)
    assert out.iloc[2].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        (Overlay("vol_targte", {}), "unknown overlay 'vol_targte'.*did you mean 'vol_target'"),
        (Overlay("vol_target", {"taget": 0.1}), "has no parameter 'taget'"),
        (Overlay("vol_target", {"target": -0.1}), "target must be > 0"),
        (Overlay("risk_off", {"ma_days": 2.5}), "ma_days must be a whole number"),
        (Overlay("max_weight", {"excess": "bank"}), "excess must be 'spread' or 'cash'"),
        (Overlay("risk_off", {"signal": "XYZ"}), "signal 'XYZ' is neither"),
        (Overlay("risk_off", {"to": "XYZ"}), "to 'XYZ' is neither"),
    ],
)
def test_a_bad_overlay_is_refused_with_the_fix(overlay: Overlay, message: str) -> None:
    prices = pd.DataFrame({"A": np.linspace(1, 2, 300)}, index=DAYS)
    targets = pd.DataFrame({"A": [1.0]}, index=DAYS[[250]])
    with pytest.raises(ScenarioError, match=message):
        apply_overlays(targets, _data(prices, prices["A"]), [overlay])


def test_the_lookback_of_overlays_is_the_longest_window() -> None:
    overlays = [
        Overlay("vol_target", {"lookback_days": 63}),
        Overlay("risk_off", {"ma_days": 200}),
    ]
    assert overlay_lookback_days(overlays) == 200
    assert overlay_lookback_days([Overlay("max_weight", {})]) == 0


ALL = [
    Overlay("risk_off", {"ma_days": 100}),
    Overlay("vol_target", {"target": 0.12, "lookback_days": 42, "max_leverage": 1.5}),
    Overlay("max_weight", {"cap": 0.3}),
]


@settings(max_examples=15, deadline=None)
@given(day=st.integers(300, 1900), seed=st.integers(0, 2**32 - 1))
def test_prices_after_a_day_never_change_the_overlaid_weights_up_to_it(
    day: int, seed: int
) -> None:
    prices, index = load_sp500()
    prices, benchmark = prices.iloc[:2000], index["SP500"].iloc[:2000]
    strategy = get_strategy("simple_momentum")
    params = strategy.resolve_params({"top_n": 3})
    data = build_optimization_data(MarketData(prices=prices, benchmark=benchmark))
    before = apply_overlays(strategy().generate_weights(data, params), data, ALL)
    rng = np.random.default_rng(seed)
    shocked = prices.copy()
    shocked.iloc[day + 1 :] *= rng.uniform(0.5, 1.5, (len(prices) - day - 1, prices.shape[1]))
    shocked_bench = benchmark.copy()
    shocked_bench.iloc[day + 1 :] *= rng.uniform(0.5, 1.5, len(prices) - day - 1)
    data2 = build_optimization_data(MarketData(prices=shocked, benchmark=shocked_bench))
    after = apply_overlays(strategy().generate_weights(data2, params), data2, ALL)
    cut = prices.index[day]
    pd.testing.assert_frame_equal(before.loc[:cut], after.loc[:cut], rtol=0, atol=0)
    assert not before.loc[:cut].eq(0).all().all()


def test_a_scenario_applies_its_overlays_in_order_and_waits_for_their_windows() -> None:
    """A 600-day risk-off rule pushes the start past the strategy's own 12-month lookback;
    a 0.15 cap then holds every pick of top 5 at 0.15 (nothing below the cap to take the
    rest), so the book is 75 % invested whenever it is not risk-off."""
    overlays = [
        {"kind": "risk_off", "params": {"ma_days": 600}},
        {"kind": "max_weight", "params": {"cap": 0.15, "excess": "spread"}},
    ]
    result = pb.run_backtest({"overlays": overlays})
    plain = pb.run_backtest(None)
    days = pd.DatetimeIndex(load_sp500()[0].index)
    assert result.returns.index[0] == days[600]
    assert plain.returns.index[0] < result.returns.index[0]
    gross = result.weights.abs().sum(axis=1)
    assert set(np.round(gross.unique(), 12)) <= {0.0, 0.75}
    assert (gross == 0.0).any() and (gross == 0.75).any()
    with pytest.raises(ScenarioError, match="has no parameter 'capp'"):
        pb.run_backtest({"overlays": [{"kind": "max_weight", "params": {"capp": 0.1}}]})


def test_overlay_parameters_are_tuned_like_strategy_parameters() -> None:
    """``vol_target.target`` in the optimize section: each trial sizes the book with its own
    target, the walk-forward's out-of-sample and the final backtest use the chosen one."""
    scenario = {
        "strategy": {"name": "simple_momentum"},
        "overlays": [{"kind": "vol_target", "params": {"target": 0.10, "lookback_days": 63}}],
        "optimize": {
            "params": {
                "lookback_months": {"type": "int", "low": 6, "high": 12},
                "vol_target.target": {"type": "float", "low": 0.04, "high": 0.3},
            },
            "trials": 4,
            "mode": "walk_forward",
            "windows": {"train_days": 1260, "test_days": 1260, "kind": "rolling"},
            "seed": 3,
        },
    }
    run = pb.optimize(scenario)
    targets = run.trials["param_vol_target.target"].dropna()
    assert targets.nunique() > 1
    assert set(run.best_params) == {"lookback_months", "vol_target.target"}
    chosen = run.best_params["vol_target.target"]
    again = pb.run_backtest(scenario, params=run.best_params)
    assert again.params["lookback_months"] == run.best_params["lookback_months"]
    assert again.metrics["Annual Volatility"] < chosen * 1.6
    with pytest.raises(ScenarioError, match=r"optimize\.params\.vol_target\.target: .*> 0"):
        pb.optimize(
            {
                **scenario,
                "optimize": {
                    **scenario["optimize"],
                    "params": {"vol_target.target": {"type": "float", "low": -0.1, "high": 0.3}},
                },
            }
        )
