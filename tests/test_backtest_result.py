"""A backtest's result: frames built when read, equal to what they are built from, and the
data stored as the engine reads it."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import portfolio_backtester as pb
from portfolio_backtester._lazy import Lazy
from portfolio_backtester.data import asset_major
from portfolio_backtester.metrics.trades import trade_statistics
from portfolio_backtester.simulation.checks import prepare_prices
from portfolio_backtester.strategies import STRATEGIES

SCENARIO: dict[str, Any] = {
    "name": "result",
    "data": {"source": "builtin:sp500", "start": "2005-01-01", "end": "2012-12-31"},
    "strategy": {"name": "simple_momentum", "params": {"lookback_months": 6, "top_n": 3}},
    "portfolio": {"stops": {"stop_loss": 0.08}},
}


@pytest.fixture(scope="module")
def data() -> pb.OptimizationData:
    return pb.load_data(pb.load_scenario(SCENARIO))


def test_the_trade_statistics_of_the_metrics_are_those_of_the_trade_list(
    data: pb.OptimizationData,
) -> None:
    result = pb.run_backtest(SCENARIO, data=data)
    from_frame = trade_statistics(result.trades, result.holdings, stops=True)
    assert from_frame == {name: result.metrics[name] for name in from_frame}
    assert result.metrics["Stop Exits"] > 0
    assert (result.trades["exit_reason"] == "stop_loss").sum() == result.metrics["Stop Exits"]


def test_a_result_pickles_with_its_frames(data: pb.OptimizationData) -> None:
    result = pb.run_backtest(SCENARIO, data=data)
    copy = pickle.loads(pickle.dumps(result))  # noqa: S301 (our own bytes)
    pd.testing.assert_frame_equal(copy.trades, result.trades)
    pd.testing.assert_frame_equal(copy.weights, result.weights)
    pd.testing.assert_frame_equal(copy.cost_breakdown, result.cost_breakdown)
    assert copy.metrics == result.metrics


class Kept(STRATEGIES["equal_weight"]):  # type: ignore[misc, valid-type]
    """Returns the same frame on every call, as a strategy that caches its weights might."""

    frames: ClassVar[list[pd.DataFrame]] = []

    def generate_weights(self, data: Any, params: Any) -> pd.DataFrame:
        if not self.frames:
            self.frames.append(super().generate_weights(data, params))
        return self.frames[0]


def test_a_strategy_that_later_changes_its_frame_does_not_change_the_result(
    data: pb.OptimizationData,
) -> None:
    Kept.frames.clear()
    scenario = {**SCENARIO, "strategy": {"name": Kept}}
    result = pb.run_backtest(scenario, data=data)
    Kept.frames[0].iloc[:, :] = 0.0  # after the run, before the weights are read
    assert result.weights.to_numpy().sum() > 0


def test_a_lazy_value_is_computed_once_and_pickled_as_its_value() -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 42

    lazy = Lazy(compute)
    assert "not computed" in repr(lazy)
    assert lazy.get() == 42 and lazy.get() == 42 and calls == [1]
    assert pickle.loads(pickle.dumps(Lazy(lambda: [1, 2]))).get() == [1, 2]  # noqa: S301


def test_the_data_are_stored_asset_by_asset_and_checked_without_a_copy(
    data: pb.OptimizationData,
) -> None:
    for frame in (data.daily, data.returns, data.monthly):
        assert frame.to_numpy().T.flags.c_contiguous
    market = prepare_prices(data.daily)
    assert np.shares_memory(market.closes, data.daily.to_numpy())


def test_a_frame_stored_date_by_date_gets_the_same_values_asset_by_asset() -> None:
    dates = pd.bdate_range("2020-01-01", periods=5)
    by_date = pd.DataFrame(np.arange(10.0).reshape(5, 2) + 1, index=dates, columns=["A", "B"])
    by_date = by_date.groupby(dates.month).tail(5)  # a group-by leaves date-major values
    converted = asset_major(by_date)
    pd.testing.assert_frame_equal(converted, by_date)
    assert converted.to_numpy().T.flags.c_contiguous
    assert asset_major(converted) is converted
    mixed = pd.DataFrame({"A": [1.0, 2.0], "B": ["x", "y"]})
    assert asset_major(mixed) is mixed  # not prices: left for the checks to refuse
