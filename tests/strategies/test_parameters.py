"""Parameter: keywords, limits apart from the search range, mistakes caught where defined."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.strategies import BaseStrategy, Parameter


def test_keywords_and_positions_make_the_same_parameter() -> None:
    by_keyword = Parameter(name="top_n", kind="int", default=5, low=1, high=20, min=1)
    short = Parameter("top_n", "int", default=5, low=1, high=20, min=1)
    positional = Parameter("top_n", "int", 5, "", low=1, high=20, min=1)  # older call sites
    assert by_keyword == short == positional
    assert short.doc == "" and short.max is None and short.step is None and not short.log


def test_search_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Parameter("top_n", "int", 5, "doc", 1, 20)  # type: ignore[misc]


def test_choices_may_be_a_list() -> None:
    parameter = Parameter("mode", "categorical", default="a", choices=["a", "b"])
    assert parameter.choices == ("a", "b")
    hash(parameter)  # still a frozen value


def test_the_search_range_is_not_a_limit() -> None:
    parameter = Parameter("top_n", "int", default=5, low=1, high=20, min=1)
    assert parameter.validate(200, "s") == 200
    assert parameter.validate(np.int64(7), "s") == 7
    assert type(parameter.validate(np.int64(7), "s")) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "parameter 'top_n': must be at least 1, got 0"),
        (101, "parameter 'top_n': must be at most 100, got 101"),
        (2.5, "expected a whole number"),
        ("5", "expected a number"),
        (True, "expected a number"),
        (float("nan"), "expected a finite number"),
    ],
)
def test_limits_and_kinds_are_enforced(value: Any, message: str) -> None:
    parameter = Parameter("top_n", "int", default=5, low=1, high=20, min=1, max=100)
    with pytest.raises(ScenarioError, match=message):
        parameter.validate(value, "s")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "integer", "default": 1}, r"kind must be one of .* \(did you mean 'int'\?\)"),
        ({"kind": "categorical", "default": "a"}, "needs choices"),
        ({"kind": "int", "default": 0, "min": 1}, "default 0: must be at least 1, got 0"),
        ({"kind": "int", "default": 1, "min": 5, "max": 2}, "min 5 is above max 2"),
        ({"kind": "int", "default": 5, "low": 9, "high": 3}, "low 9 is above high 3"),
        ({"kind": "int", "default": 5, "low": 0, "high": 9, "min": 1}, r"low \(0\) is outside"),
        ({"kind": "float", "default": 0.5, "low": 0.0, "high": 1.0, "log": True}, "low > 0"),
        ({"kind": "categorical", "default": "c", "choices": ("a", "b")}, "default 'c'"),
    ],
)
def test_a_badly_defined_parameter_fails_where_it_is_defined(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        Parameter("x", **arguments)
    assert str(caught.value).startswith("Parameter 'x': ")


def test_a_strategy_needs_only_generate_weights() -> None:
    class Minimal(BaseStrategy):
        """Holds nothing.

        More text."""

        def generate_weights(self, data: Any, params: Any) -> Any:
            return None

    assert Minimal.name == "Minimal"
    assert Minimal.description == "Holds nothing."
    assert Minimal.parameters == ()
    assert dict(Minimal.resolve_params({})) == {}


def test_an_optimize_range_may_go_past_the_declared_one_but_not_past_a_limit() -> None:
    from portfolio_backtester.config import ParamSpace
    from portfolio_backtester.optimization.space import validate_space
    from portfolio_backtester.strategies import STRATEGIES

    momentum = STRATEGIES["simple_momentum"]
    wide = ParamSpace(type="int", low=2, high=200)  # declared: 1..20, limit: >= 1
    validate_space(momentum, {"top_n": wide})
    with pytest.raises(ScenarioError, match=r"optimize.params.top_n.low: .*at least 1, got 0"):
        validate_space(momentum, {"top_n": ParamSpace(type="int", low=0, high=5)})
    probability = ParamSpace(type="float", low=0.1, high=1.5)
    with pytest.raises(ScenarioError, match=r"open_long_prob.high: .*at most 1, got 1.5"):
        validate_space(STRATEGIES["dummy_signal_strategy"], {"open_long_prob": probability})
