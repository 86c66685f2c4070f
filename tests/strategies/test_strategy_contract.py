"""The contract every registered strategy keeps; registering a strategy gets it tested here.

The example of a strategy of one's own (``examples/strategies``) is held to it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import (
    BaseStrategy,
    Parameter,
    get_strategy,
    strategy_names,
)
from portfolio_backtester.strategies._base import REBALANCE_FREQUENCIES

NAMES = strategy_names()
EXAMPLE = "momentum_vol_target:MomentumVolTarget"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
CLASSES: dict[str, type[BaseStrategy]] = {
    **{name: get_strategy(name) for name in NAMES},
    EXAMPLE: get_strategy(EXAMPLE, EXAMPLES),
}
DataBuilder = Callable[[pd.DataFrame], OptimizationData]

# Constraints between parameters that the ranges alone cannot express.
VALID_COMBINATIONS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "sma_crossover": lambda p: p["fast_days"] < p["slow_days"],
}


def write_scores(path: Path, prices: pd.DataFrame) -> Path:
    """Seeded random scores for every ticker on every fifth day, some cells empty: a file
    for ``file_signal``, which has no default one."""
    rng = np.random.default_rng(17)
    dates = prices.index[::5]
    scores = rng.normal(size=(len(dates), prices.shape[1]))
    scores[rng.random(scores.shape) < 0.1] = np.nan
    pd.DataFrame(scores, index=dates, columns=prices.columns).to_csv(path, index_label="date")
    return path


@pytest.fixture(scope="session")
def required_params(
    tmp_path_factory: pytest.TempPathFactory, late_listing_prices: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    """Parameters the suite gives, by strategy name, the rest running on ``{}``: those a
    strategy cannot default, and a yearly schedule for the skfolio adapter, which fits an
    optimiser at every rebalance (tens of milliseconds each; the contract is the same)."""
    scores = write_scores(tmp_path_factory.mktemp("scores") / "scores.csv", late_listing_prices)
    return {"file_signal": {"path": str(scores)}, "skfolio_portfolio": {"rebalance": "yearly"}}


@pytest.fixture(params=sorted(CLASSES))
def strategy(request: pytest.FixtureRequest) -> BaseStrategy:
    return CLASSES[request.param]()


@pytest.fixture
def needed(strategy: BaseStrategy, required_params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What a scenario must give ``strategy`` (usually nothing)."""
    return required_params.get(strategy.name, {})


def parameter_values(parameter: Parameter) -> st.SearchStrategy[Any]:
    """Every value an optimiser may propose for one parameter."""
    if parameter.kind == "int":
        assert parameter.low is not None and parameter.high is not None
        return st.integers(int(parameter.low), int(parameter.high))
    if parameter.kind == "float":
        assert parameter.low is not None and parameter.high is not None
        return st.floats(parameter.low, parameter.high)
    if parameter.kind == "bool":
        return st.booleans()
    assert parameter.choices is not None
    return st.sampled_from(parameter.choices)


def parameter_sets(cls: type[BaseStrategy]) -> st.SearchStrategy[dict[str, Any]]:
    sets = st.fixed_dictionaries({p.name: parameter_values(p) for p in cls.parameters})
    valid = VALID_COMBINATIONS.get(cls.name)
    return sets.filter(valid) if valid else sets


def check_weights(weights: pd.DataFrame, data: OptimizationData, max_gross: float = 1.0) -> None:
    """Shape, labels, dtype, finiteness, no weight without a price, gross exposure capped."""
    assert isinstance(weights.index, pd.DatetimeIndex)
    assert weights.index.isin(data.daily.index).all()
    assert weights.index.is_monotonic_increasing and weights.index.is_unique
    assert weights.columns.equals(data.daily.columns)
    assert weights.columns.names == data.daily.columns.names
    assert (weights.dtypes == np.float64).all()
    values = weights.to_numpy()
    assert np.isfinite(values).all()
    unpriced = data.daily.loc[weights.index].isna().to_numpy()
    assert (values[unpriced] == 0.0).all()
    assert (np.abs(values).sum(axis=1) <= max_gross + 1e-12).all()


@pytest.mark.parametrize("name", NAMES)
def test_registry_name_matches_class(name: str) -> None:
    strategy = get_strategy(name)
    assert strategy.name == name
    assert strategy.description and "\n" not in strategy.description


def test_parameter_specs_are_complete(strategy: BaseStrategy) -> None:
    names = [p.name for p in strategy.parameters]
    assert len(names) == len(set(names))
    for p in strategy.parameters:
        assert p.doc
        assert p.validate(p.default, strategy.name) == p.default
        if p.kind in ("int", "float"):
            assert p.low is not None and p.high is not None
            assert p.low <= p.default <= p.high
            assert p.min is not None, "a real limit is declared (top_n >= 1, a window >= 2)"
        if p.kind == "int":
            assert isinstance(p.default, int)
        if p.kind == "categorical":
            assert p.choices and p.default in p.choices
    if "rebalance" in names:
        (rebalance,) = (p for p in strategy.parameters if p.name == "rebalance")
        assert rebalance.choices is not None
        assert set(rebalance.choices) <= set(REBALANCE_FREQUENCIES)
        if strategy.name in NAMES:
            assert rebalance.choices == REBALANCE_FREQUENCIES


def test_defaults_resolve(strategy: BaseStrategy) -> None:
    resolved = strategy.resolve_params({})
    assert resolved == {p.name: p.default for p in strategy.parameters}
    assert strategy.lookback_days({}) >= 0


def test_default_weights_keep_the_contract(
    strategy: BaseStrategy, needed: dict[str, Any], late_listing: OptimizationData
) -> None:
    weights = strategy.generate_weights(late_listing, needed)
    check_weights(weights, late_listing)
    assert (weights.to_numpy() >= 0.0).all(), "defaults are long-only"
    assert (weights.to_numpy() != 0.0).any(), "defaults invest at some point"


def test_same_inputs_give_same_weights(
    strategy: BaseStrategy, needed: dict[str, Any], late_listing: OptimizationData
) -> None:
    first = strategy.generate_weights(late_listing, needed)
    pd.testing.assert_frame_equal(strategy.generate_weights(late_listing, needed), first)


def test_rows_before_lookback_are_cash(
    strategy: BaseStrategy, needed: dict[str, Any], sp500_full: OptimizationData
) -> None:
    weights = strategy.generate_weights(sp500_full, needed)
    first_usable = sp500_full.daily.index[strategy.lookback_days({})]
    early = weights.loc[weights.index < first_usable]
    assert (early.to_numpy() == 0.0).all()


def test_inputs_are_not_modified(
    strategy: BaseStrategy, needed: dict[str, Any], late_listing: OptimizationData
) -> None:
    copies = {name: frame.copy(deep=True) for name, frame in late_listing.frames().items()}
    strategy.generate_weights(late_listing, needed)
    for name, frame in late_listing.frames().items():
        pd.testing.assert_frame_equal(frame, copies[name], check_exact=True)


@pytest.mark.parametrize("order", ["C", "F"])
def test_read_only_inputs_are_accepted(
    strategy: BaseStrategy,
    needed: dict[str, Any],
    late_listing: OptimizationData,
    order: Literal["C", "F"],
) -> None:
    """Parallel workers see read-only memory maps; a strategy must never write to them."""

    def read_only(frame: pd.DataFrame) -> pd.DataFrame:
        values = np.array(frame.to_numpy(), order=order)
        values.flags.writeable = False
        view = pd.DataFrame(values, index=frame.index, columns=frame.columns, copy=False)
        assert np.shares_memory(view.to_numpy(), values)
        return view

    frozen = OptimizationData(
        daily=read_only(late_listing.daily),
        monthly=read_only(late_listing.monthly),
        returns=read_only(late_listing.returns),
        benchmark=read_only(late_listing.benchmark),
    )
    pd.testing.assert_frame_equal(
        strategy.generate_weights(frozen, needed), strategy.generate_weights(late_listing, needed)
    )


@pytest.mark.parametrize("n_rows", [0, 1, 3])
def test_short_history_gives_cash_not_an_error(
    strategy: BaseStrategy,
    needed: dict[str, Any],
    late_listing_prices: pd.DataFrame,
    make_data: DataBuilder,
    n_rows: int,
) -> None:
    data = make_data(late_listing_prices.iloc[:n_rows])
    check_weights(strategy.generate_weights(data, needed), data)


def test_unknown_parameter_is_refused_with_a_suggestion(
    strategy: BaseStrategy, late_listing: OptimizationData
) -> None:
    if not strategy.parameters:
        with pytest.raises(ScenarioError, match="no parameter 'window'"):
            strategy.generate_weights(late_listing, {"window": 3})
        return
    known = strategy.parameters[0].name
    typo = known[:-1]
    with pytest.raises(ScenarioError, match=f"did you mean '{known}'"):
        strategy.resolve_params({typo: strategy.parameters[0].default})
    with pytest.raises(ScenarioError, match=f"no parameter '{typo}'"):
        strategy.generate_weights(late_listing, {typo: strategy.parameters[0].default})


def test_values_past_a_limit_are_refused(strategy: BaseStrategy) -> None:
    for p in strategy.parameters:
        for limit, step, word in ((p.min, -1, "at least"), (p.max, 1, "at most")):
            if limit is not None:
                with pytest.raises(ScenarioError, match=f"'{p.name}': must be {word}"):
                    strategy.resolve_params({p.name: limit + step})


def test_values_past_the_search_range_are_accepted(strategy: BaseStrategy) -> None:
    """The declared range only suggests where to search: top_n = 200 on 2,000 assets is fine."""
    for p in strategy.parameters:
        if p.high is not None and (p.max is None or p.max > p.high):
            beyond = p.high * 10 if p.max is None else (p.high + p.max) / 2
            value = int(beyond) if p.kind == "int" else beyond
            assert strategy.resolve_params({p.name: value})[p.name] == value


# A five-year slice keeps the property test fast while the late listing (2000) is inside it.
SLICE = slice("1997-01-01", "2001-12-31")


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_weights_ignore_prices_after_rebalance_date(
    name: str,
    late_listing_prices: pd.DataFrame,
    make_data: DataBuilder,
    required_params: dict[str, dict[str, Any]],
) -> None:
    """Perturbed or deleted prices after t leave every weight dated t or earlier unchanged.

    t is mostly a rebalance date with a position, where a peek at t + 1 would show.
    """
    cls = CLASSES[name]
    prices = late_listing_prices.loc[SLICE]
    original = make_data(prices)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(params=parameter_sets(cls), seed=st.integers(0, 2**32 - 1), draw=st.data())
    def check(params: dict[str, Any], seed: int, draw: st.DataObject) -> None:
        params = {**params, **required_params.get(name, {})}
        strategy = cls()
        before = strategy.generate_weights(original, params)
        max_gross = max(1.0, params.get("max_leverage", 1.0))
        check_weights(before, original, max_gross)
        invested = before.index[(before.to_numpy() != 0.0).any(axis=1)]
        candidates = prices.index.get_indexer(invested[invested < prices.index[-1]]).tolist()
        any_row = st.integers(0, len(prices) - 2)
        cut = draw.draw(st.sampled_from(candidates) | any_row if len(candidates) else any_row)
        rng = np.random.default_rng(seed)
        later = slice(cut + 1, None)
        changed = prices.to_numpy(copy=True)
        changed[later] *= rng.lognormal(0.0, 0.5, size=changed[later].shape)
        changed[later, rng.random(prices.shape[1]) < 0.2] = np.nan
        future = make_data(pd.DataFrame(changed, index=prices.index, columns=prices.columns))
        after = strategy.generate_weights(future, params)
        check_weights(after, future, max_gross)
        cut_date = prices.index[cut]
        pd.testing.assert_frame_equal(
            after.loc[:cut_date], before.loc[:cut_date], check_exact=True
        )

    check()
