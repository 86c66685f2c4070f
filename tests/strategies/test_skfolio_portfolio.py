"""skfolio's optimisers as a strategy: real fits on slices of the embedded data."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skfolio.optimization import HierarchicalRiskParity, MeanRisk

from portfolio_backtester import load_scenario, run_backtest
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.optimization.space import validate_space
from portfolio_backtester.optimization.storage import default_storage_url
from portfolio_backtester.strategies.skfolio_portfolio import (
    ESTIMATORS,
    SkfolioPortfolioStrategy,
)

SKFOLIO = "skfolio_portfolio"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "skfolio_hrp.yaml"
DataBuilder = Callable[[pd.DataFrame], OptimizationData]
QUARTERLY = {"lookback_days": 63, "rebalance": "quarterly"}


@pytest.fixture(scope="module")
def two_years(late_listing_prices: pd.DataFrame) -> pd.DataFrame:
    """1999-2000: AMD is unpriced until 2000, so early windows lack it."""
    return late_listing_prices.loc["1999-01-01":"2000-12-31"]


def _window(data: OptimizationData, date: pd.Timestamp, days: int) -> pd.DataFrame:
    end = data.returns.index.get_loc(date)
    return data.returns.iloc[end + 1 - days : end + 1]


def test_hrp_weights_equal_skfolios_own_fit(
    two_years: pd.DataFrame, make_data: DataBuilder
) -> None:
    data = make_data(two_years)
    weights = SkfolioPortfolioStrategy().generate_weights(data, QUARTERLY)
    date = weights.index[-1]  # December 2000: every asset has a full window
    window = _window(data, date, 63)
    assert window.notna().all().all()
    own = HierarchicalRiskParity().fit(window.to_numpy()).weights_
    np.testing.assert_allclose(weights.loc[date].to_numpy(), own, rtol=1e-12, atol=1e-15)


def test_an_asset_missing_in_the_window_gets_no_weight_and_is_left_out_of_the_fit(
    two_years: pd.DataFrame, make_data: DataBuilder
) -> None:
    data = make_data(two_years)
    params = {**QUARTERLY, "estimator": "mean_risk"}
    weights = SkfolioPortfolioStrategy().generate_weights(data, params)
    date = weights.index[weights.index > "2000-01-01"][0]  # AMD listed, window incomplete
    assert weights.loc[date, "AMD"] == 0.0
    window = _window(data, date, 63).drop(columns="AMD")
    own = np.clip(MeanRisk().fit(window.to_numpy()).weights_, 0.0, None)
    np.testing.assert_allclose(weights.loc[date].drop("AMD").to_numpy(), own, atol=1e-9)


def test_a_stale_price_gets_no_weight(two_years: pd.DataFrame, make_data: DataBuilder) -> None:
    prices = two_years.copy()
    prices.loc["2000-07-01":, "KO"] = prices.loc[:"2000-06-30", "KO"].iloc[-1]
    weights = SkfolioPortfolioStrategy().generate_weights(make_data(prices), QUARTERLY)
    assert weights.loc["2000-12-29", "KO"] == 0.0
    assert weights.loc["2000-12-29"].sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_estimator_fits_long_only_and_fully_invested(
    estimator: str, two_years: pd.DataFrame, make_data: DataBuilder
) -> None:
    data = make_data(two_years.loc["2000-01-01":])
    weights = SkfolioPortfolioStrategy().generate_weights(
        data, {**QUARTERLY, "estimator": estimator, "risk_measure": "cvar"}
    )
    fitted = weights.loc[weights.index >= data.daily.index[63]].to_numpy()
    assert len(fitted) == 3 and (fitted >= 0).all()
    np.testing.assert_allclose(fitted.sum(axis=1), 1.0, atol=1e-6)
    assert (weights.loc[weights.index < data.daily.index[63]].to_numpy() == 0).all()


def test_weights_ignore_prices_after_rebalance_date(
    two_years: pd.DataFrame, make_data: DataBuilder
) -> None:
    params = {"lookback_days": 42, "rebalance": "monthly", "estimator": "herc"}
    before = SkfolioPortfolioStrategy().generate_weights(make_data(two_years), params)
    rng = np.random.default_rng(3)
    rows = two_years.index.get_indexer(before.index[before.index > "1999-04-01"][:-1])
    for cut in rng.choice(rows, size=3, replace=False):
        changed = two_years.to_numpy(copy=True)
        changed[cut + 1 :] *= rng.lognormal(0.0, 0.5, size=changed[cut + 1 :].shape)
        changed[cut + 1 :, rng.random(two_years.shape[1]) < 0.2] = np.nan
        future = make_data(pd.DataFrame(changed, index=two_years.index, columns=two_years.columns))
        after = SkfolioPortfolioStrategy().generate_weights(future, params)
        day = two_years.index[cut]
        pd.testing.assert_frame_equal(after.loc[:day], before.loc[:day], check_exact=True)


def _falling_after(days: int, make_data: DataBuilder) -> OptimizationData:
    """Four assets rising for ``days`` trading days, then all falling: no window of the
    fall has an asset with a positive mean return."""
    rng = np.random.default_rng(11)
    drift = np.where(np.arange(160) < days, 0.003, -0.02)[:, None]
    returns = drift + rng.normal(0.0, 0.004, size=(160, 4))
    prices = 100 * np.cumprod(1 + returns, axis=0)
    index = pd.bdate_range("2020-01-01", periods=160)
    return make_data(pd.DataFrame(prices, index=index, columns=list("ABCD")))


def test_a_window_skfolio_cannot_fit_keeps_the_previous_weights(
    make_data: DataBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    data = _falling_after(100, make_data)
    params = {"estimator": "mean_risk", "objective": "maximize_ratio", "lookback_days": 20}
    weights = SkfolioPortfolioStrategy().generate_weights(data, params)
    fallen = weights.loc[weights.index >= data.daily.index[100]]
    before = weights.loc[weights.index < data.daily.index[100]]
    assert len(fallen) >= 2 and before.iloc[-1].sum() == pytest.approx(1.0)
    for _, row in fallen.iterrows():
        pd.testing.assert_series_equal(row, before.iloc[-1], check_names=False)
    assert f"could not be fitted on {len(fallen)} of" in caplog.text
    assert "kept the previous weights" in caplog.text


def test_a_scenario_skfolio_can_never_fit_is_refused(make_data: DataBuilder) -> None:
    data = _falling_after(0, make_data)
    params = {"estimator": "mean_risk", "objective": "maximize_ratio", "lookback_days": 20}
    with pytest.raises(ScenarioError, match=r"could not be fitted on (\d+) of \1 windows"):
        SkfolioPortfolioStrategy().generate_weights(data, params)


def test_without_skfolio_the_error_says_how_to_install_it(
    two_years: pd.DataFrame, make_data: DataBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "skfolio", None)  # what `import` finds when it is absent
    with pytest.raises(ScenarioError, match=r"pip install 'portfolio-backtester\[skfolio\]'"):
        SkfolioPortfolioStrategy().generate_weights(make_data(two_years), QUARTERLY)


def test_a_backtest_on_the_embedded_data() -> None:
    result = run_backtest(
        {
            "data": {"start": "2014-01-02", "end": "2016-12-30"},
            "strategy": {"name": SKFOLIO, "params": QUARTERLY},
        }
    )
    invested = result.weights.loc[result.weights.sum(axis=1) > 0]
    assert len(invested) > 0 and np.isfinite(result.metrics["Sharpe"])


def test_the_example_searches_known_parameters() -> None:
    scenario = load_scenario(EXAMPLE)
    assert scenario.optimize is not None
    validate_space(SkfolioPortfolioStrategy, scenario.optimize.params, scenario.strategy.params)


def test_the_estimator_and_window_are_tuned_by_optimize(tmp_path: Path) -> None:
    scenario = load_scenario(
        {
            "data": {"start": "2012-01-03", "end": "2015-12-31"},
            "strategy": {"name": SKFOLIO, "params": {"rebalance": "quarterly"}},
            "optimize": {
                "params": {
                    "estimator": {"type": "categorical", "choices": ["hrp", "herc"]},
                    "lookback_days": {"type": "int", "low": 63, "high": 126, "step": 63},
                },
                "trials": 3,
                "sampler": "random",
                "windows": {"train_days": 504, "test_days": 252},
                "overfitting": {"enabled": False},
            },
        }
    )
    result = ParallelOptimizationRunner(
        scenario=scenario,
        data=build_optimization_data(load_market_data(scenario.data)),
        storage_url=default_storage_url(tmp_path),
        study_name="s",
    ).run()[0]
    assert set(result.trial_states) == {"COMPLETE"}  # (repeats of a point are extra rows)
    assert result.best_params["estimator"] in ("hrp", "herc")
