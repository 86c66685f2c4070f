"""The blend strategy: hand-checked mixes, drifting sleeves, no look-ahead, tunable children."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester import load_scenario, run_backtest
from portfolio_backtester.config import ParamSpace
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.optimization.space import validate_space
from portfolio_backtester.optimization.storage import default_storage_url
from portfolio_backtester.strategies import BaseStrategy, Parameter, get_strategy
from portfolio_backtester.strategies.blend import BlendStrategy, held_weights

BLEND = "blend"
DataBuilder = Callable[[pd.DataFrame], OptimizationData]
PAPER = {
    "children": {
        "momentum": {"name": "simple_momentum", "params": {"top_n": 5}},
        "lowvol": {"name": "low_volatility"},
    },
    "weights": {"momentum": 0.6, "lowvol": 0.4},
}


class FixedRows(BaseStrategy):
    """Given weights on given dates, to check a blend by hand."""

    rows: ClassVar[dict[str, list[float]]] = {}

    def generate_weights(self, data: OptimizationData, params: Any) -> pd.DataFrame:
        self.resolve_params(params)
        dates = pd.DatetimeIndex(list(self.rows))
        return pd.DataFrame(list(self.rows.values()), index=dates, columns=data.daily.columns)


class EveryOtherDay(FixedRows):
    """A on day 0, B on day 2."""

    rows: ClassVar[dict[str, list[float]]] = {"2020-01-01": [1.0, 0.0], "2020-01-03": [0.0, 1.0]}


class HalfOnDayOne(FixedRows):
    """Half in A on day 1, the rest cash; held."""

    rows: ClassVar[dict[str, list[float]]] = {"2020-01-02": [0.5, 0.0]}


class Tunable(BaseStrategy):
    """A parameter of its own, to check that a child's names pass through."""

    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("scale", "float", default=1.0, low=0.0, high=1.0, min=0.0, doc="exposure"),
    )

    def generate_weights(self, data: OptimizationData, params: Any) -> pd.DataFrame:
        p = self.resolve_params(params)
        return pd.DataFrame(
            [[p["scale"], 0.0]], index=data.daily.index[:1], columns=data.daily.columns
        )


@pytest.fixture
def two_assets(make_data: DataBuilder) -> OptimizationData:
    prices = pd.DataFrame(
        {"A": [100.0, 110.0, 121.0, 121.0], "B": [50.0, 50.0, 25.0, 50.0]},
        index=pd.date_range("2020-01-01", periods=4, freq="D"),
    )
    return make_data(prices)


def _children(**specs: str) -> dict[str, Any]:
    return {"children": {alias: {"name": f"{__name__}:{cls}"} for alias, cls in specs.items()}}


def test_a_blend_is_checked_by_hand(two_assets: OptimizationData) -> None:
    """Day 1 (Jan 2): the other child's sleeve is 100 % A, bought at 100, now 110: still
    100 % A. Day 2: A at 121; the half-cash sleeve holds 0.5 * 1.1 / (0.5 + 0.55)."""
    params = {**_children(a=EveryOtherDay.__name__, h=HalfOnDayOne.__name__)}
    params["weights"] = {"a": 3.0, "h": 1.0}
    weights = BlendStrategy().generate_weights(two_assets, params)
    half_drifted = 0.55 / 1.05
    expected = pd.DataFrame(
        [
            [0.75, 0.0],  # only the first child has a row: its 100 % A, at 3/4
            [0.75 + 0.25 * 0.5, 0.0],
            [0.25 * half_drifted, 0.75],
        ],
        index=pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03"]),
        columns=two_assets.daily.columns,
    )
    pd.testing.assert_frame_equal(weights, expected, check_exact=False, rtol=1e-15, atol=0)


def test_a_sleeve_drifts_with_prices_between_its_own_rows() -> None:
    prices = np.array([[100.0, 50.0], [110.0, 25.0], [121.0, 50.0]])
    weights = np.array([[0.5, 0.25]])
    held = held_weights(weights, np.array([0]), np.array([0, 1, 2]), prices)
    # day 1: 0.55 in A, 0.125 in B, 0.25 cash -> worth 0.925
    np.testing.assert_allclose(held[1], [0.55 / 0.925, 0.125 / 0.925], rtol=1e-15)
    np.testing.assert_allclose(held[2], [0.605 / 1.105, 0.25 / 1.105], rtol=1e-15)
    assert (held[0] == weights[0]).all()


def test_a_blend_of_one_child_is_that_child(sp500_full: OptimizationData) -> None:
    params = {"children": {"only": {"name": "low_volatility", "params": {"top_n": 3}}}}
    alone = get_strategy("low_volatility")().generate_weights(sp500_full, {"top_n": 3})
    pd.testing.assert_frame_equal(BlendStrategy().generate_weights(sp500_full, params), alone)


def test_a_child_at_weight_zero_is_left_out(sp500_full: OptimizationData) -> None:
    params = {**PAPER, "weights": {"momentum": 0.0, "lowvol": 2.0}}
    alone = get_strategy("low_volatility")().generate_weights(sp500_full, {})
    pd.testing.assert_frame_equal(BlendStrategy().generate_weights(sp500_full, params), alone)
    cash = BlendStrategy().generate_weights(
        sp500_full, {**PAPER, "weights": {"momentum": 0.0, "lowvol": 0.0}}
    )
    assert cash.empty and cash.columns.equals(sp500_full.daily.columns)


def test_rows_are_the_union_of_the_childrens_dates(sp500_full: OptimizationData) -> None:
    params = {
        "children": {
            "m": {"name": "simple_momentum", "params": {"rebalance": "quarterly"}},
            "v": {"name": "low_volatility", "params": {"rebalance": "yearly"}},
        }
    }
    weights = BlendStrategy().generate_weights(sp500_full, params)
    quarterly = get_strategy("simple_momentum")().generate_weights(
        sp500_full, {"rebalance": "quarterly"}
    )
    assert weights.index.equals(quarterly.index)  # every year end is a quarter end
    np.testing.assert_allclose(weights.sum(axis=1).iloc[-1], 1.0, rtol=1e-12)


def test_params_resolve_flat_and_round_trip() -> None:
    resolved = BlendStrategy.resolve_params(PAPER)
    assert resolved["momentum.strategy"] == "simple_momentum"
    assert resolved["momentum.top_n"] == 5
    assert resolved["lowvol.top_n"] == 5 and resolved["lowvol.lookback_days"] == 63
    assert resolved["weight.momentum"] == 0.6 and resolved["weight.lowvol"] == 0.4
    assert BlendStrategy.resolve_params(dict(resolved)) == resolved
    tuned = BlendStrategy.resolve_params({**PAPER, "momentum.top_n": 8, "weight.lowvol": 0.1})
    assert tuned["momentum.top_n"] == 8 and tuned["weight.lowvol"] == 0.1


def test_a_childs_own_parameters_pass_through() -> None:
    params = {"children": {"t": f"{__name__}:Tunable"}, "t.scale": 0.5}
    assert BlendStrategy.resolve_params(params)["t.scale"] == 0.5
    names = [p.name for p in BlendStrategy.parameters_for(params)]
    assert names == ["t.strategy", "t.scale", "weight.t"]


def test_a_blend_of_blends_is_tuned_by_dotted_paths(sp500_full: OptimizationData) -> None:
    inner = {"name": BLEND, "params": {"children": {"m": "simple_momentum"}}}
    params = {"children": {"inner": inner, "v": "low_volatility"}, "inner.m.top_n": 3}
    resolved = BlendStrategy.resolve_params(params)
    assert resolved["inner.m.top_n"] == 3 and resolved["inner.weight.m"] == 1.0
    expected = BlendStrategy().generate_weights(
        sp500_full, {**PAPER, "momentum.top_n": 3, "weights": {"momentum": 1, "lowvol": 1}}
    )
    pd.testing.assert_frame_equal(BlendStrategy().generate_weights(sp500_full, params), expected)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"childs": {}}, "no parameter 'childs' .*did you mean 'children'"),
        ({"children": {}}, "children must map aliases to strategies"),
        ({"children": {"a.b": "low_volatility"}}, "alias 'a.b' must be .* without '.'"),
        ({"children": {"m": "simple_momentun"}}, "did you mean 'simple_momentum'"),
        ({"children": {"m": {"name": "low_volatility", "param": {}}}}, "did you mean 'params'"),
        (
            {"children": {"m": {"name": "low_volatility", "params": {"top_n": 0}}}},
            "children.m: .*'top_n': must be at least 1",
        ),
        ({**PAPER, "momentum.top_m": 3}, "did you mean 'momentum.top_n'"),
        ({**PAPER, "weights": {"lowvl": 1.0}}, "did you mean 'weight.lowvol'"),
        ({**PAPER, "weight.lowvol": -0.1}, "'weight.lowvol': must be at least 0"),
    ],
)
def test_mistakes_are_refused_with_a_fix(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        BlendStrategy.resolve_params(params)


def test_lookback_and_shorts_follow_the_children() -> None:
    params = {
        "children": {
            "m": {"name": "simple_momentum", "params": {"lookback_months": 6}},
            "s": {"name": "sma_crossover", "params": {"mode": "long_short"}},
        }
    }
    assert BlendStrategy().lookback_days(params) == min(
        get_strategy("simple_momentum")().lookback_days({"lookback_months": 6}),
        get_strategy("sma_crossover")().lookback_days({}),
    )
    assert BlendStrategy.shorts(BlendStrategy.resolve_params(params))
    assert not BlendStrategy.shorts(BlendStrategy.resolve_params({**params, "weight.s": 0.0}))


def test_weights_ignore_prices_after_rebalance_date(
    late_listing_prices: pd.DataFrame, make_data: DataBuilder
) -> None:
    """Prices perturbed (and some deleted) after each of several cut dates leave every row
    dated on or before the cut unchanged."""
    prices = late_listing_prices.loc["1997-01-01":"2001-12-31"]
    params = {
        "children": {
            "m": {"name": "simple_momentum", "params": {"rebalance": "monthly", "top_n": 3}},
            "v": {"name": "low_volatility", "params": {"rebalance": "weekly"}},
            "b": "buy_and_hold",
        }
    }
    before = BlendStrategy().generate_weights(make_data(prices), params)
    rng = np.random.default_rng(7)
    for cut in rng.choice(prices.index.get_indexer(before.index[:-1]), size=5, replace=False):
        changed = prices.to_numpy(copy=True)
        changed[cut + 1 :] *= rng.lognormal(0.0, 0.5, size=changed[cut + 1 :].shape)
        changed[cut + 1 :, rng.random(prices.shape[1]) < 0.2] = np.nan
        future = make_data(pd.DataFrame(changed, index=prices.index, columns=prices.columns))
        after = BlendStrategy().generate_weights(future, params)
        day = prices.index[cut]
        pd.testing.assert_frame_equal(after.loc[:day], before.loc[:day], check_exact=True)


def test_a_backtest_of_the_scenario_shape_on_the_embedded_data() -> None:
    result = run_backtest(
        {
            "data": {"start": "2010-01-04", "end": "2016-12-30"},
            "strategy": {"name": BLEND, "params": PAPER},
        }
    )
    assert (result.weights.to_numpy() > 0).any()
    assert np.isfinite(result.metrics["Sharpe"])
    assert result.scenario.strategy.params == PAPER


def test_the_example_scenario_backtests() -> None:
    result = run_backtest(Path(__file__).resolve().parents[2] / "examples" / "blend.yaml")
    assert (result.weights.to_numpy() > 0).any()


def test_a_childs_parameter_and_a_weight_are_searchable() -> None:
    space = {
        "momentum.top_n": ParamSpace(type="int", low=2, high=6),
        "weight.lowvol": ParamSpace(type="float", low=0.0, high=1.0),
    }
    validate_space(BlendStrategy, space, PAPER)
    with pytest.raises(ScenarioError, match=r"did you mean 'momentum\.top_n'"):
        validate_space(BlendStrategy, {"momentum.topn": space["momentum.top_n"]}, PAPER)
    with pytest.raises(ScenarioError, match=r"momentum.top_n.low: .*must be at least 1"):
        validate_space(BlendStrategy, {"momentum.top_n": ParamSpace(type="int", low=0, high=3)})


def _optimize(tmp_path: Path, children: dict[str, Any], space: dict[str, Any]) -> Any:
    scenario = load_scenario(
        {
            "data": {"start": "2008-01-02", "end": "2014-12-31"},
            "strategy": {"name": BLEND, "params": {"children": children}},
            "optimize": {
                "params": space,
                "trials": 3,
                "sampler": "random",
                "windows": {"train_days": 504, "test_days": 252},
                "overfitting": {"enabled": False},
            },
        }
    )
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=build_optimization_data(load_market_data(scenario.data)),
        storage_url=default_storage_url(tmp_path),
        study_name="s",
    )
    return runner.run()[0]


def test_momentum_top_n_is_tuned_by_optimize(tmp_path: Path) -> None:
    children = {"momentum": {"name": "simple_momentum"}, "low_volatility": "low_volatility"}
    space = {"momentum.top_n": {"type": "int", "low": 2, "high": 8}}
    result = _optimize(tmp_path, children, space)
    assert result.trial_states == {"COMPLETE": 3}
    assert 2 <= result.best_params["momentum.top_n"] <= 8
    tried = result.trials.filter(like="momentum.top_n").iloc[:, 0]
    assert tried.between(2, 8).all() and tried.nunique() > 1


def test_children_of_any_alias_are_tuned_by_optimize(tmp_path: Path) -> None:
    children = PAPER["children"]
    space = {
        "momentum.top_n": {"type": "int", "low": 2, "high": 8},
        "weight.lowvol": {"type": "float", "low": 0.0, "high": 1.0},
    }
    assert _optimize(tmp_path, children, space).trial_states == {"COMPLETE": 3}
