"""What is computed once per data object is kept while the object lives and dropped with
it; what a write to the data could change is not kept."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd

import portfolio_backtester as pb
from portfolio_backtester import _identity_cache
from portfolio_backtester.simulation.period import PeriodSimulator
from portfolio_backtester.strategies._weights import rebalance_rows


def _weights(data: pb.OptimizationData) -> pd.DataFrame:
    columns = data.daily.columns
    return pd.DataFrame(1.0 / len(columns), index=data.daily.index[:1], columns=columns)


def test_a_write_to_the_data_is_seen_by_the_next_backtest() -> None:
    """Prices are checked on every call: a frame written to in place is never stale."""
    scenario = pb.load_scenario(None)
    data = pb.load_data(scenario)
    weights = _weights(data)
    PeriodSimulator(scenario, data, weights)
    data.daily.iloc[100, 0] = data.daily.iloc[100, 0] * 1.5
    after = PeriodSimulator(scenario, data, weights).market
    np.testing.assert_array_equal(after.closes, data.daily.to_numpy().T)


def test_a_schedule_is_shared_but_its_rows_are_the_callers() -> None:
    data = pb.load_data(None)
    dates, rows = rebalance_rows(data, "monthly")
    rows[:] = -1
    again_dates, again_rows = rebalance_rows(data, "monthly")
    assert again_dates is dates
    assert (again_rows >= 0).all()


def test_an_entry_goes_with_its_object() -> None:
    class Owner:
        pass

    owner = Owner()
    calls: list[int] = []
    assert _identity_cache.cached_on(owner, "k", lambda: calls.append(1) or 7) == 7
    assert _identity_cache.cached_on(owner, "k", lambda: calls.append(1) or 8) == 7
    assert calls == [1]
    key = id(owner)
    del owner
    gc.collect()
    assert key not in _identity_cache._CACHES


def test_a_daily_schedule_keeps_nothing_alive() -> None:
    """A kept value holding its owner would keep both forever: daily is not kept."""
    data = pb.load_data(None)
    dates, rows = rebalance_rows(data, "daily")
    assert dates is data.daily.index
    np.testing.assert_array_equal(rows, np.arange(len(dates)))
    assert id(data.daily.index) not in _identity_cache._CACHES or not any(
        key == ("rebalance_rows", "daily") for key in _identity_cache._CACHES[id(data.daily.index)]
    )
