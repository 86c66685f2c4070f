"""The strategy contract: named parameters with defaults and ranges, and target weights."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import KW_ONLY, dataclass
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
PARAMETER_KINDS: tuple[ParameterKind, ...] = ("int", "float", "categorical", "bool")

REBALANCE_FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")


@dataclass(frozen=True, slots=True)
class Parameter:
    """A strategy parameter: its default, where an optimisation searches it by default, and
    the limits every value must keep.

    ``Parameter("top_n", "int", default=5, low=1, high=20, min=1, doc="assets held")``:
    everything after ``name`` and ``kind`` reads best as keywords, and everything after
    ``doc`` must be one. ``low``/``high`` (or ``choices``) are the default search range,
    not a limit: a backtest may set any value, and an optimize section search any range,
    within ``min``/``max`` (inclusive; None is no limit). ``choices`` are always a limit.
    """

    name: str
    kind: ParameterKind
    default: Any
    doc: str = ""
    _: KW_ONLY
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    log: bool = False
    step: float | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        # Checked where a strategy is defined, so a slip shows at import, not mid-run.
        where = f"Parameter {self.name!r}"
        if self.kind not in PARAMETER_KINDS:
            raise ScenarioError(
                f"{where}: kind must be one of {', '.join(PARAMETER_KINDS)}, got {self.kind!r}"
                + did_you_mean(str(self.kind), PARAMETER_KINDS)
            )
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        if self.kind == "categorical" and not self.choices:
            raise ScenarioError(f"{where}: a categorical parameter needs choices=[...]")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ScenarioError(f"{where}: min {self.min} is above max {self.max}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ScenarioError(f"{where}: low {self.low} is above high {self.high}")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if value is not None and not self._within_limits(value):
                raise ScenarioError(
                    f"{where}: the search range's {bound} ({value}) is outside its limits "
                    f"{self._limits()}"
                )
        if self.log and not (self.low is not None and self.low > 0):
            raise ScenarioError(f"{where}: log=True needs a search range with low > 0")
        try:
            self.validate(self.default, "")
        except ScenarioError as error:
            reason = str(error).partition(": ")[2]
            raise ScenarioError(f"{where}: default {self.default!r}: {reason}") from None

    def validate(self, value: Any, strategy: str) -> Any:
        """Coerce one user value or raise a ScenarioError that says what was expected.

        The kind and the limits (``min``, ``max``, ``choices``) are checked; the search
        range (``low``, ``high``) is not.
        """
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
        if isinstance(value, np.integer | np.floating):
            value = value.item()  # a number from numpy, as a notebook may pass
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
        if self.min is not None and value < self.min:
            raise ScenarioError(f"{where}: must be at least {_number(self.min)}, got {value}")
        if self.max is not None and value > self.max:
            raise ScenarioError(f"{where}: must be at most {_number(self.max)}, got {value}")
        return value

    def _within_limits(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def _limits(self) -> str:
        low = "-inf" if self.min is None else _number(self.min)
        high = "inf" if self.max is None else _number(self.max)
        return f"[{low}, {high}]"


def _number(value: float) -> str:
    """1 for 1.0, so that an int parameter's limit reads as one."""
    return str(int(value)) if float(value).is_integer() else str(value)


class BaseStrategy(ABC):
    """A portfolio rule: data up to a date in, target weights at that date out.

    Subclasses implement :meth:`generate_weights` and set ``name``, ``description`` and
    ``parameters`` (by default the class's name, its docstring's first line and none).
    A row dated t may use only data dated t or earlier; the engine applies it at t's close
    (or the next open), so it earns from t+1 on.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not hasattr(cls, "name"):
            cls.name = cls.__name__
        if not hasattr(cls, "description"):
            cls.description = (cls.__doc__ or "").strip().partition("\n")[0]
        if not hasattr(cls, "parameters"):
            cls.parameters = ()

    @abstractmethod
    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        """Target weights, one row per rebalance date.

        ``data.daily``: closes, dates by assets, NaN before an asset's first price;
        ``data.returns``: their daily simple returns (NaN on the first day and without a
        price); ``data.monthly``: the closes of each month's last trading day (the last row
        is the data's last day); ``data.benchmark``: one column of benchmark closes (or
        none). Every frame is the whole history, read-only; ``params`` are this strategy's
        validated parameters (``self.resolve_params(params)`` costs nothing on them).

        Rows: ascending dates of ``data.daily.index``, such as ``rebalance_dates(index,
        "monthly")``; columns: ``data.daily.columns``. A weight is a fraction of portfolio
        value (1 - the row's sum is cash), held from that date until the next row; an asset
        without a price that day is not bought (the engine holds none of it).
        """

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        """Trading days of history needed before the first usable weight."""
        return 0

    @classmethod
    def shorts(cls, params: Mapping[str, Any]) -> bool:
        """Whether these parameters make the strategy take short positions (so that a
        long-only portfolio can refuse them up front instead of clipping them)."""
        return False

    @classmethod
    def parameters_for(cls, params: Mapping[str, Any] | None) -> tuple[Parameter, ...]:
        """The parameters these user values may set, and an optimisation may search.

        By default the class's ``parameters``. A strategy whose parameters depend on its
        values overrides this (a blend has each child's, under the child's name); its
        ``parameters`` are then those of its default values.
        """
        return cls.parameters

    @classmethod
    def resolve_params(cls, params: Mapping[str, Any] | None) -> StrategyParams:
        """Defaults overlaid with validated user values; unknown names are refused.

        Parameters already resolved for this strategy are returned as they are, so a
        strategy may call this on what it is given at no cost: validation runs once, where
        the values enter (the scenario, a trial's suggestion, a caller's mapping).
        """
        if isinstance(params, StrategyParams) and params.strategy is cls:
            return params
        declared = cls.parameters_for(params)
        known = {p.name: p for p in declared}
        resolved = {p.name: p.default for p in declared}
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
    """The last trading day of each period, so a decision uses the period's full data.

    The data's last row is a rebalance date only when its period ends with it: when the
    next weekday (the next day, if the data trade on weekends) is in the next period. Data
    cut mid-period would otherwise trade on a date of no schedule, for holdings that never
    earn. (A period whose last weekdays are holidays loses its final, earning-nothing date.)
    """
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
    last = naive[-1]
    weekends = bool((naive.day_of_week >= 5).any())
    following = last + (pd.Timedelta(days=1) if weekends else pd.offsets.BDay(1))
    period_ends = following.to_period(codes[frequency]) != periods[-1]
    return index[np.append(np.asarray(periods[1:] != periods[:-1]), period_ends)]
