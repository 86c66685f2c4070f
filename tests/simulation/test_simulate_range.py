"""Simulating a range of an already prepared market equals simulating the sliced frames.

The optimiser scores every trial on many windows through ``simulate_range``; these tests pin
it to the public ``simulate`` on the window's own rows, entered at the targets in force on
its first day, which is what a backtest of that window alone does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from simulation_cases import Case, cases, cost_model_cases, ruled_cases
from test_simulate_reference import assert_same_result

from portfolio_backtester.errors import DataError
from portfolio_backtester.simulation import simulate
from portfolio_backtester.simulation.checks import Settings, prepare_prices, prepare_targets
from portfolio_backtester.simulation.engine import simulate_range, simulate_range_arrays


def sliced_targets(targets: pd.DataFrame, index: pd.Index, start: int, end: int) -> pd.DataFrame:
    """The window's rebalance rows, led by the row in force on its first day (if any)."""
    first, last = index[start], index[end]
    inside = targets.loc[first:last]
    before = targets.loc[:first]
    if len(before) and (inside.empty or inside.index[0] != first):
        entry = before.iloc[[-1]].set_axis(pd.Index([first], name=index.name), axis=0)
        inside = pd.concat([entry, inside])
    if inside.empty:
        inside = pd.DataFrame(
            0.0, index=pd.Index([first], name=index.name), columns=targets.columns
        )
    return inside


@settings(max_examples=200, deadline=None)
@given(cases(), st.data())
def test_range_equals_simulating_the_slice(case: Case, data: st.DataObject) -> None:
    _check_range(case, data)


@settings(max_examples=100, deadline=None)
@given(ruled_cases(), st.data())
def test_range_equals_simulating_the_slice_under_rebalancing_rules(
    case: Case, data: st.DataObject
) -> None:
    _check_range(case, data)


@settings(max_examples=100, deadline=None)
@given(cost_model_cases(), st.data())
def test_range_equals_simulating_the_slice_under_cost_models(
    case: Case, data: st.DataObject
) -> None:
    """Impact left out: its window reaches before the range's first day, the slice's not."""
    assume(case.volume is None)
    _check_range(case, data)


def _check_range(case: Case, data: st.DataObject) -> None:
    n = len(case.closes)
    start = data.draw(st.integers(0, n - 1), label="start")
    end = data.draw(st.integers(start, n - 1), label="end")
    kwargs = case.kwargs()
    opens = kwargs.pop("open_prices")
    market = prepare_prices(case.closes, opens if kwargs["execution"] == "next_open" else None)
    positions, targets = prepare_targets(case.targets, market)
    actual = simulate_range(market, positions, targets, start, end, Settings(**kwargs))

    rows = slice(start, end + 1)
    expected = simulate(
        case.closes.iloc[rows],
        sliced_targets(case.targets, case.closes.index, start, end),
        open_prices=opens.iloc[rows],
        **kwargs,
    )
    assert_same_result(actual, expected)
    first, arrays = simulate_range_arrays(
        market, positions, targets, start, end, Settings(**kwargs)
    )
    assert case.closes.index[first] == actual.returns.index[0]
    np.testing.assert_array_equal(arrays.returns, actual.returns.to_numpy())


def test_range_outside_the_prices_is_refused() -> None:
    index = pd.bdate_range("2022-01-03", periods=5)
    closes = pd.DataFrame({"A": np.linspace(10, 11, 5)}, index=index)
    market = prepare_prices(closes)
    positions, targets = prepare_targets(closes.iloc[:1] * 0 + 1.0, market)
    with pytest.raises(DataError, match="outside the prices' 5 rows"):
        simulate_range(market, positions, targets, 3, 5, Settings())
