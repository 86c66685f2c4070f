"""The registry: explicit names, helpful errors for unknown ones."""

from __future__ import annotations

import pytest

from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.strategies import STRATEGIES, BaseStrategy, get_strategy, strategy_names

BRIEFED = {
    "buy_and_hold",
    "dummy_signal_strategy",
    "equal_weight",
    "inverse_volatility",
    "low_volatility",
    "sharpe_momentum",
    "simple_momentum",
    "sma_crossover",
}


def test_strategy_names_are_sorted_registry_keys() -> None:
    assert strategy_names() == sorted(STRATEGIES)
    assert BRIEFED <= set(strategy_names())


def test_registry_keys_are_the_class_names() -> None:
    for name, cls in STRATEGIES.items():
        assert issubclass(cls, BaseStrategy)
        assert cls.name == name


def test_get_strategy_returns_the_class() -> None:
    assert get_strategy("equal_weight") is STRATEGIES["equal_weight"]


def test_unknown_strategy_suggests_a_close_name_and_lists_all() -> None:
    with pytest.raises(ScenarioError) as caught:
        get_strategy("simple_momentun")
    message = str(caught.value)
    assert "unknown strategy 'simple_momentun'" in message
    assert "did you mean 'simple_momentum'?" in message
    assert all(name in message for name in strategy_names())


def test_unrelated_name_gets_no_suggestion() -> None:
    with pytest.raises(ScenarioError) as caught:
        get_strategy("zzz")
    assert "did you mean" not in str(caught.value)


def test_a_module_path_names_a_strategy_of_ones_own() -> None:
    found = get_strategy("portfolio_backtester.strategies.equal_weight:EqualWeightStrategy")
    assert found is STRATEGIES["equal_weight"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:Thing", "no module named 'no_such_module_xyz'"),
        (
            "portfolio_backtester.strategies.equal_weight:EqualWeightStrategi",
            "did you mean 'EqualWeightStrategy'",
        ),
        ("portfolio_backtester.errors:ScenarioError", "no BaseStrategy subclass"),
        (":EqualWeightStrategy", "expected 'module:ClassName'"),
    ],
)
def test_bad_module_paths_are_explained(path: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        get_strategy(path)
