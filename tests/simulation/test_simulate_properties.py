"""Properties every simulation must have, whatever the prices, targets and settings."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from simulation_cases import Case, cases, cost_model_cases, markets

from portfolio_backtester.simulation import simulate


@settings(max_examples=60, deadline=None)
@given(markets(), st.integers(0, 3), st.sampled_from(["close", "next_open"]))
def test_zero_cost_buy_and_hold_earns_the_asset_return(
    market: tuple[pd.DataFrame, pd.DataFrame], asset: int, execution: str
) -> None:
    closes, opens = market
    asset = asset % closes.shape[1]
    closes = closes.ffill().bfill()  # priced every day, so nothing is forced to 0
    # An asset never priced cannot be bought at all (it earns nothing, rightly): not this case.
    assume(bool(closes.iloc[:, asset].notna().all()))
    opens = opens.fillna(closes)
    first = closes.index[0]
    targets = pd.DataFrame({closes.columns[asset]: [1.0]}, index=[first])
    result = simulate(closes, targets, execution=execution, open_prices=opens)

    prices = closes.iloc[:, asset]
    expected = prices.pct_change().fillna(0.0)
    if execution == "next_open" and len(prices) > 1:
        expected.iloc[1] = prices.iloc[1] / opens.iloc[1, asset] - 1.0
    np.testing.assert_allclose(result.returns.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_all_zero_weights_earn_nothing_and_cost_nothing(case: Case) -> None:
    targets = case.targets * 0.0
    result = simulate(case.closes, targets, **{**case.kwargs(), "cash_rate": 0.0})
    assert (result.returns == 0.0).all()
    assert (result.turnover == 0.0).all()
    assert (result.costs == 0.0).all()
    assert (result.trades == 0).all()
    assert (result.weights.to_numpy() == 0.0).all()


RULES = {
    "schedule": {},
    "target_change": {"rebalance_when": "target_change"},
    "band": {"band": 0.05},
    "relative_band": {"band": 0.25, "band_type": "relative"},
    "min_trade": {"min_trade": 0.02},
    "all": {"rebalance_when": "target_change", "band": 0.02, "min_trade": 0.01},
}


@pytest.mark.parametrize("rules", RULES.values(), ids=RULES.keys())
@settings(max_examples=100, deadline=None)
@given(cases(), st.data())
def test_prices_after_a_day_never_change_results_up_to_that_day(
    rules: dict[str, Any], case: Case, data: st.DataObject
) -> None:
    """A weight decided with data up to t earns from t+1, under every rebalancing rule."""
    case = Case(case.closes, case.opens, case.targets, {**case.settings, **rules})
    n_days = len(case.closes)
    day = data.draw(st.integers(0, n_days - 1), label="day")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    shock = np.exp(rng.normal(0.0, 0.2, case.closes.shape))
    shock[: day + 1] = 1.0
    # The open of day + 1 is also after day's close: shock it as well.
    altered = Case(case.closes * shock, case.opens * shock, case.targets, case.settings)
    before = simulate(case.closes, case.targets, **case.kwargs())
    after = simulate(altered.closes, altered.targets, **altered.kwargs())

    up_to = before.returns.index <= case.closes.index[day]
    for name in ("returns", "turnover", "costs"):
        np.testing.assert_allclose(
            getattr(after, name)[up_to], getattr(before, name)[up_to], rtol=1e-13, atol=1e-15
        )
    np.testing.assert_allclose(after.weights[up_to], before.weights[up_to], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(after.trades[up_to], before.trades[up_to])


@settings(max_examples=150, deadline=None)
@given(cost_model_cases(), st.data())
def test_prices_and_volume_after_a_day_never_change_costs_up_to_that_day(
    case: Case, data: st.DataObject
) -> None:
    """Every cost model, impact's volatility and average volume included, reads only
    what is known when it charges: a change after day t moves nothing up to t."""
    n_days = len(case.closes)
    day = data.draw(st.integers(0, n_days - 1), label="day")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    shock = np.exp(rng.normal(0.0, 0.2, case.closes.shape))
    shock[: day + 1] = 1.0
    volume = None
    if case.volume is not None:
        volume_shock = np.exp(rng.normal(0.0, 1.0, case.closes.shape))
        volume_shock[: day + 1] = 1.0
        volume = case.volume * volume_shock
    # Trading at the next open, the day after's trades are made before its close: its open
    # is left as it was, and its orders and their costs must not move either.
    next_open = case.settings["execution"] == "next_open"
    open_shock = np.vstack([np.ones((1, shock.shape[1])), shock[:-1]]) if next_open else shock
    altered = Case(
        case.closes * shock, case.opens * open_shock, case.targets, case.settings, volume
    )
    before = simulate(case.closes, case.targets, **case.kwargs())
    after = simulate(altered.closes, altered.targets, **altered.kwargs())

    dates = before.returns.index
    up_to = dates <= case.closes.index[day]
    orders = dates <= case.closes.index[min(day + 1, n_days - 1)] if next_open else up_to
    close = {"rtol": 1e-13, "atol": 1e-15}
    np.testing.assert_allclose(after.returns[up_to], before.returns[up_to], **close)
    for name in ("turnover", "costs"):
        np.testing.assert_allclose(
            getattr(after, name)[orders], getattr(before, name)[orders], **close
        )
    np.testing.assert_allclose(
        after.cost_breakdown[orders], before.cost_breakdown[orders], **close
    )
    np.testing.assert_array_equal(after.trades[orders], before.trades[orders])


@settings(max_examples=100, deadline=None)
@given(cases(), st.sampled_from([1.0, 10.0, 100.0]))
def test_higher_costs_never_raise_the_return(case: Case, extra_bps: float) -> None:
    cheap = simulate(case.closes, case.targets, **case.kwargs())
    dear_settings = {**case.kwargs(), "cost_bps": case.settings["cost_bps"] + extra_bps}
    dear = simulate(case.closes, case.targets, **dear_settings)
    cheap_growth = float(np.prod(1.0 + cheap.returns.to_numpy()))
    dear_growth = float(np.prod(1.0 + dear.returns.to_numpy()))
    assert dear_growth <= cheap_growth * (1.0 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_zero_turnover_means_zero_cost(case: Case) -> None:
    result = simulate(case.closes, case.targets, **case.kwargs())
    idle = result.turnover == 0.0
    assert (result.costs[idle] == 0.0).all()
    assert (result.trades[idle] == 0).all()
    assert (result.costs >= 0.0).all()


@settings(max_examples=40, deadline=None)
@given(cases())
def test_inputs_are_never_modified(case: Case) -> None:
    originals = copy.deepcopy((case.closes, case.opens, case.targets))
    simulate(case.closes, case.targets, **case.kwargs())
    for before, after in zip(originals, (case.closes, case.opens, case.targets), strict=True):
        pd.testing.assert_frame_equal(after, before, check_exact=True)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_read_only_inputs_work(case: Case) -> None:
    def read_only(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame.to_numpy(copy=True)
        values.flags.writeable = False
        return pd.DataFrame(values, index=frame.index, columns=frame.columns, copy=False)

    frozen = Case(
        read_only(case.closes), read_only(case.opens), read_only(case.targets), case.settings
    )
    assert not frozen.closes.to_numpy().flags.writeable
    expected = simulate(case.closes, case.targets, **case.kwargs())
    actual = simulate(frozen.closes, frozen.targets, **frozen.kwargs())
    pd.testing.assert_series_equal(actual.returns, expected.returns)
    pd.testing.assert_frame_equal(actual.weights, expected.weights)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_unsorted_targets_and_partial_columns_mean_the_same(case: Case) -> None:
    assume(case.targets.shape[1] > 1)
    expected = simulate(case.closes, case.targets, **case.kwargs())
    shuffled = case.targets.iloc[::-1, ::-1]
    pd.testing.assert_series_equal(
        simulate(case.closes, shuffled, **case.kwargs()).returns, expected.returns
    )
    zero_column = case.targets.columns[case.targets.abs().sum().argmin()]
    if (case.targets[zero_column] == 0.0).all():
        narrower = case.targets.drop(columns=zero_column)
        pd.testing.assert_frame_equal(
            simulate(case.closes, narrower, **case.kwargs()).weights, expected.weights
        )


@pytest.mark.parametrize("execution", ["close", "next_open"])
def test_outputs_start_at_the_first_rebalance_date(execution: str) -> None:
    index = pd.bdate_range("2022-01-03", periods=6)
    closes = pd.DataFrame({"A": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}, index=index)
    targets = pd.DataFrame({"A": [1.0, 0.5]}, index=index[[4, 2]])
    result = simulate(closes, targets, execution=execution, open_prices=closes)
    pd.testing.assert_index_equal(result.returns.index, index[2:])
    pd.testing.assert_index_equal(result.weights.index, index[2:])
