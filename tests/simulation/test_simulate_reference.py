"""The vectorised engine against the slow loop-per-day reference simulator."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simulation_cases import Case, cases, cost_model_cases, ruled_cases, stop_cases

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.simulation import SimulationResult, simulate
from reference_simulator import reference_simulate

TOLERANCE = 1e-12


def assert_same_result(actual: SimulationResult, expected: SimulationResult) -> None:
    """Same labels, integer trade counts equal, floats within TOLERANCE."""
    pd.testing.assert_index_equal(actual.returns.index, expected.returns.index)
    pd.testing.assert_index_equal(actual.weights.columns, expected.weights.columns)
    for name in ("returns", "turnover", "costs"):
        difference = np.abs(getattr(actual, name).to_numpy() - getattr(expected, name).to_numpy())
        assert difference.max(initial=0.0) <= TOLERANCE, name
    weights_difference = np.abs(actual.weights.to_numpy() - expected.weights.to_numpy())
    assert weights_difference.max(initial=0.0) <= TOLERANCE
    assert actual.trades.dtype == np.int64
    np.testing.assert_array_equal(actual.trades.to_numpy(), expected.trades.to_numpy())
    pd.testing.assert_index_equal(actual.cost_breakdown.columns, expected.cost_breakdown.columns)
    breakdown_difference = np.abs(
        actual.cost_breakdown.to_numpy() - expected.cost_breakdown.to_numpy()
    )
    assert breakdown_difference.max(initial=0.0) <= TOLERANCE, "cost_breakdown"
    assert actual.ruined_on == expected.ruined_on
    if expected.stop_exits is None:
        assert actual.stop_exits is None
    else:
        assert actual.stop_exits is not None
        pd.testing.assert_frame_equal(actual.stop_exits, expected.stop_exits)


KINDS: dict[str, Callable[..., st.SearchStrategy[Case]]] = {
    "schedule": cases,
    "rebalance_rules": ruled_cases,  # target changes only, bands, minimum trades
    "cost_models": cost_model_cases,  # per share, spread, impact, borrow, financing
    "stops": stop_cases,  # stop-loss, take-profit, trailing; fractions or ATR; closes or ranges
}


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_engine_matches_reference_simulator(
    kind: Callable[..., st.SearchStrategy[Case]], data: st.DataObject
) -> None:
    case = data.draw(kind(), label="case")
    actual = simulate(case.closes, case.targets, **case.kwargs())
    expected = reference_simulate(case.closes, case.targets, **case.kwargs())
    assert_same_result(actual, expected)


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_engine_matches_reference_on_longer_histories(
    kind: Callable[..., st.SearchStrategy[Case]], data: st.DataObject
) -> None:
    case = data.draw(kind(max_days=120, max_assets=6), label="case")
    actual = simulate(case.closes, case.targets, **case.kwargs())
    expected = reference_simulate(case.closes, case.targets, **case.kwargs())
    assert_same_result(actual, expected)


def test_extreme_costs_still_match_reference() -> None:
    """At 20% costs on a gross of up to 1.5 the engine's fixed-point passes contract
    slowly (by about 0.3 each), so this needs many passes, not the usual handful."""
    rng = np.random.default_rng(7)
    index = pd.bdate_range("2020-01-01", periods=60)
    closes = pd.DataFrame(
        30 * np.exp(np.cumsum(rng.normal(0, 0.01, (60, 3)), axis=0)), index=index
    )
    targets = pd.DataFrame(rng.uniform(-0.5, 0.5, (60, 3)), index=index)
    kwargs = {"cost_bps": 2000.0, "initial_capital": 1e5}
    assert_same_result(
        simulate(closes, targets, **kwargs), reference_simulate(closes, targets, **kwargs)
    )


def test_real_data_monthly_with_costs_matches_reference() -> None:
    prices, _ = load_sp500()
    prices = prices.iloc[-400:, :8]
    month_ends = prices.index[
        prices.index.to_period("M").to_numpy()
        != np.roll(prices.index.to_period("M").to_numpy(), -1)
    ]
    rng = np.random.default_rng(3)
    targets = pd.DataFrame(
        rng.dirichlet(np.ones(8), len(month_ends)), index=month_ends, columns=prices.columns
    )
    kwargs = {"cost_bps": 10.0, "commission": 1.0, "cash_rate": 0.02}
    assert_same_result(
        simulate(prices, targets, **kwargs), reference_simulate(prices, targets, **kwargs)
    )
