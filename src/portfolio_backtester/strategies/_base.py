"""The strategy contract: named parameters with defaults and ranges, and target weights."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError, did_you_mean

__all__ = [
    "REBALANCE_FREQUENCIES",
    "BaseStrategy",
    "Parameter",
    "StrategyParams",
    "rebalance_dates",
]

ParameterKind = Literal["int", "float", "categorical", "bool"]

REBALANCE_FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")


@dataclass(frozen=True, slots=True)
class Parameter:
    """A strategy parameter: its default, and the range an optimisation may search."""

    name: str
    kind: ParameterKind
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    log: bool = False
    step: float | None = None

    def validate(self, value: Any, strategy: str) -> Any:
        """Coerce one user value or raise a ScenarioError that says what was expected."""
        where = f"strategy {strategy!r} parameter {self.name!r}"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ScenarioError(f"{where}: expected true or false, got {value!r}")
            return value
        if self.kind == "categorical":
            assert self.choices is not None
            if value not in self.choices:
                raise ScenarioError(
                    f"{where}: expected one of {list(self.choices)}, got {value!r}"
                    + did_you_mean(str(value), [str(c) for c in self.choices])
                )
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ScenarioError(f"{where}: expected a finite number, got {value}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ScenarioError(f"{where}: expected a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if self.low is not None and value < self.low:
            raise ScenarioError(f"{where}: must be at least {self.low}, got {value}")
        if self.high is not None and value > self.high:
            raise ScenarioError(f"{where}: must be at most {self.high}, got {value}")
        return value


class BaseStrategy(ABC):
    """A portfolio rule: data up to a date in, target weights at that date out.

    Subclasses set ``name``, ``description`` and ``parameters`` and implement
    :meth:`generate_weights`. A row dated t may use only data dated t or earlier;
    the engine applies it at t's close (or the next open), so it earns from t+1 on.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]]

    @abstractmethod
    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        """Target weights: rows are rebalance dates (a subset of ``data.daily.index``),
        columns are ``data.daily.columns``; an asset without a price that day gets 0."""

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        """Trading days of history needed before the first usable weight."""
        return 0

    @classmethod
    def shorts(cls, params: Mapping[str, Any]) -> bool:
        """Whether these parameters make the strategy take short positions (so that a
        long-only portfolio can refuse them up front instead of clipping them)."""
        return False

    @classmethod
    def resolve_params(cls, params: Mapping[str, Any] | None) -> StrategyParams:
        """Defaults overlaid with validated user values; unknown names are refused.

        Parameters already resolved for this strategy are returned as they are, so a
        strategy may call this on what it is given at no cost: validation runs once, where
        the values enter (the scenario, a trial's suggestion, a caller's mapping).
        """
        if isinstance(params, StrategyParams) and params.strategy is cls:
            return params
        known = {p.name: p for p in cls.parameters}
        resolved = {p.name: p.default for p in cls.parameters}
        for key, value in (params or {}).items():
            if key not in known:
                raise ScenarioError(
                    f"strategy {cls.name!r} has no parameter {key!r}"
                    + did_you_mean(key, known)
                    + f"; its parameters are: {', '.join(known) or 'none'}"
                )
            resolved[key] = known[key].validate(value, cls.name)
        return StrategyParams(cls, resolved)


class StrategyParams(Mapping[str, Any]):
    """Every parameter of one strategy, validated and typed; made by ``resolve_params``."""

    __slots__ = ("_values", "strategy")

    def __init__(self, strategy: type[BaseStrategy], values: Mapping[str, Any]) -> None:
        self.strategy = strategy
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"StrategyParams({self.strategy.name!r}, {self._values!r})"


def rebalance_dates(index: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    """The last trading day of each period, so a decision uses the period's full data."""
    if frequency == "daily":
        return index
    codes = {"weekly": "W", "monthly": "M", "quarterly": "Q", "yearly": "Y"}
    if frequency not in codes:
        raise ScenarioError(
            f"unknown rebalance frequency {frequency!r}; expected one of "
            f"{', '.join(REBALANCE_FREQUENCIES)}" + did_you_mean(frequency, REBALANCE_FREQUENCIES)
        )
    if len(index) == 0:
        return index
    naive = index.tz_localize(None) if index.tz is not None else index
    periods = naive.to_period(codes[frequency])
    return index[np.append(np.asarray(periods[1:] != periods[:-1]), True)]
