"""The search space: a scenario's ranges checked against the strategy, turned into Optuna calls.

A range must keep the parameter's limits (``min``, ``max``, ``choices``); the range a
strategy declares (``low``, ``high``) only suggests where to search, and a range may go past it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import optuna

from ..config import ParamSpace
from ..errors import ScenarioError, did_you_mean
from ..strategies import BaseStrategy

__all__ = ["grid_values", "space_size", "suggest", "validate_space"]


def validate_space(
    strategy: type[BaseStrategy],
    space: Mapping[str, ParamSpace],
    params: Mapping[str, Any] | None = None,
) -> None:
    """Every searched name must be a parameter of the strategy, of a compatible kind.

    ``params`` are the scenario's strategy parameters: a strategy may declare parameters
    from them (a blend, its children's).
    """
    known = {p.name: p for p in strategy.parameters_for(params)}
    for name, spec in space.items():
        if name not in known:
            raise ScenarioError(
                f"optimize.params.{name}: strategy {strategy.name!r} has no parameter {name!r}"
                + did_you_mean(name, known)
                + f"; its parameters are: {', '.join(known) or 'none'}"
            )
        parameter = known[name]
        if parameter.kind == "categorical" or parameter.kind == "bool":
            if spec.type != "categorical":
                raise ScenarioError(
                    f"optimize.params.{name}: {name!r} is a {parameter.kind} parameter; "
                    f"search it with type: categorical and choices"
                )
        elif parameter.kind == "int" and spec.type == "float":
            raise ScenarioError(
                f"optimize.params.{name}: {name!r} is an int parameter; use type: int"
            )
        for key, value in _values_to_check(spec):
            try:
                parameter.validate(value, strategy.name)
            except ScenarioError as error:
                raise ScenarioError(f"optimize.params.{name}.{key}: {error}") from None


def _values_to_check(spec: ParamSpace) -> list[tuple[str, Any]]:
    """The values that bound a searched range, each with its key in the optimize section."""
    if spec.type == "categorical":
        return [("choices", choice) for choice in spec.choices or []]
    low, high = spec.low, spec.high
    assert low is not None and high is not None
    if spec.type == "int":
        return [("low", int(low)), ("high", int(high))]
    return [("low", float(low)), ("high", float(high))]


def suggest(trial: optuna.Trial, space: Mapping[str, ParamSpace]) -> dict[str, Any]:
    """Ask the trial for one value per searched parameter."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec.choices or []))
        elif spec.type == "int":
            assert spec.low is not None and spec.high is not None
            params[name] = trial.suggest_int(
                name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
            )
        else:
            assert spec.low is not None and spec.high is not None
            params[name] = trial.suggest_float(
                name, spec.low, spec.high, step=spec.step, log=spec.log
            )
    return params


def grid_values(spec: ParamSpace) -> list[Any] | None:
    """Every value of a finite range, or None when it is continuous."""
    if spec.type == "categorical":
        return list(spec.choices or [])
    assert spec.low is not None and spec.high is not None
    if spec.type == "int":
        step = int(spec.step or 1)
        if spec.log:
            return None
        return list(range(int(spec.low), int(spec.high) + 1, step))
    if spec.step is None:
        return None
    n = round((spec.high - spec.low) / spec.step)
    return [spec.low + i * spec.step for i in range(n + 1)]


def space_size(space: Mapping[str, ParamSpace]) -> float:
    """Number of distinct parameter sets; infinite when any range is continuous."""
    size = 1.0
    for spec in space.values():
        values = grid_values(spec)
        if values is None:
            return math.inf
        size *= len(values)
    return size
