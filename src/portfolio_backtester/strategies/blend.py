"""A blend: the target weights of several strategies mixed in fixed or tuned proportions.

A scenario names each child under an alias of its own and gives the mix::

    strategy:
      name: blend
      params:
        children:
          momentum: {name: simple_momentum, params: {top_n: 5}}
          lowvol: low_volatility              # a name alone: the child's defaults
        weights: {momentum: 0.6, lowvol: 0.4}  # relative shares; equal when left out

Resolved, the parameters are flat, so that an optimisation searches them like any other:
``momentum.top_n`` (a child's parameter under its alias), ``weight.momentum`` (its share)
and ``momentum.strategy`` (the child's strategy, fixed by ``children``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError, did_you_mean
from ._base import BaseStrategy, Parameter, StrategyParams
from ._weights import FloatArray, IntArray, weights_frame
from .low_volatility import LowVolatilityStrategy
from .simple_momentum import SimpleMomentumStrategy

__all__ = ["BlendStrategy"]

NAME = "blend"
STRATEGY = "strategy"  # ``<alias>.strategy``: which strategy a child is
WEIGHT = "weight"  # ``weight.<alias>``: a child's share
SETTINGS = ("children", "weights")
DEFAULT_CHILDREN: dict[str, tuple[str, type[BaseStrategy]]] = {
    "momentum": ("simple_momentum", SimpleMomentumStrategy),
    "low_volatility": ("low_volatility", LowVolatilityStrategy),
}


@dataclass(frozen=True, slots=True)
class Child:
    """One child of a blend: its alias, strategy, resolved parameters and relative weight."""

    alias: str
    strategy: type[BaseStrategy]
    params: StrategyParams
    weight: float


class BlendStrategy(BaseStrategy):
    """Each child's targets held as its own sleeve, the sleeves mixed in fixed shares.

    Shares are the weights divided by their sum (a child at weight 0 is left out; all at 0
    is cash). Rows are the union of the children's rebalance dates. Between its own dates a
    child's sleeve drifts with prices, as the child's own backtest holds it, so another
    child's date does not rebalance it; on every row the sleeves are set back to their
    shares. A row dated t uses the children's rows and prices up to t only.
    """

    name: ClassVar[str] = NAME
    description: ClassVar[str] = (
        "Several strategies' target weights mixed in fixed or tuned shares, each child's "
        "sleeve drifting between its own rebalance dates."
    )

    @classmethod
    def parameters_for(cls, params: Mapping[str, Any] | None) -> tuple[Parameter, ...]:
        return _declare(_flatten(params or {}))

    @classmethod
    def resolve_params(cls, params: Mapping[str, Any] | None) -> StrategyParams:
        if isinstance(params, StrategyParams) and params.strategy is cls:
            return params
        return super().resolve_params(_flatten(params or {}))

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        children = [c for c in children_of(self.resolve_params(params)) if c.weight > 0]
        total = sum(c.weight for c in children)
        frames = [_child_weights(c, data) for c in children]
        index = pd.DatetimeIndex(data.daily.index)
        own_rows = [np.asarray(index.get_indexer(f.index), dtype=np.intp) for f in frames]
        rows = np.unique(np.concatenate([np.zeros(0, dtype=np.intp), *own_rows]))
        prices = data.daily.ffill().to_numpy(dtype=np.float64)  # a gap holds its last price
        blended = np.zeros((len(rows), data.daily.shape[1]))
        for child, frame, own in zip(children, frames, own_rows, strict=True):
            sleeve = held_weights(frame.to_numpy(dtype=np.float64), own, rows, prices)
            blended += (child.weight / total) * sleeve
        priced = np.isfinite(data.daily.to_numpy(dtype=np.float64)[rows])
        return weights_frame(np.where(priced, blended, 0.0), index[rows], data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        """The shortest child's: the blend invests once any child does (the others' shares
        are cash until theirs can)."""
        children = [c for c in children_of(self.resolve_params(params)) if c.weight > 0]
        return min((c.strategy().lookback_days(c.params) for c in children), default=0)

    @classmethod
    def shorts(cls, params: Mapping[str, Any]) -> bool:
        children = children_of(cls.resolve_params(params))
        return any(c.weight > 0 and c.strategy.shorts(c.params) for c in children)


def children_of(params: StrategyParams) -> list[Child]:
    """The children a blend's resolved parameters describe, in the order they were given."""
    children = []
    for alias, (_, strategy) in _child_strategies(params).items():
        own = strategy.resolve_params(_own(params, alias))
        children.append(Child(alias, strategy, own, params[f"{WEIGHT}.{alias}"]))
    return children


def held_weights(
    weights: FloatArray, own_rows: IntArray, rows: IntArray, prices: FloatArray
) -> FloatArray:
    """A sleeve's weights at ``rows``: its latest own row, drifted with prices since then.

    ``weights`` (one row per ``own_rows``, ascending) are fractions of the sleeve's value
    with 1 - their sum in cash; ``prices`` are daily closes, gaps filled forward. Before
    the first own row the sleeve is cash; a sleeve worth nothing or less holds nothing.
    """
    latest = np.searchsorted(own_rows, rows, side="right") - 1
    started = latest >= 0
    at = np.maximum(latest, 0)
    base = weights[at] if len(weights) else np.zeros((len(rows), prices.shape[1]))
    since = own_rows[at] if len(own_rows) else np.zeros(len(rows), dtype=np.intp)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = prices[rows] / prices[since]
    held = np.where(base != 0.0, base * growth, 0.0)  # no weight, no price needed
    value = 1.0 - base.sum(axis=1) + held.sum(axis=1)
    drifted = np.zeros(held.shape)
    np.divide(held, value[:, None], out=drifted, where=(value > 0)[:, None])
    own_date = (since == rows)[:, None]  # exactly the child's row on its own dates
    return np.where(started[:, None], np.where(own_date, base, drifted), 0.0)


def _child_weights(child: Child, data: OptimizationData) -> pd.DataFrame:
    frame = child.strategy().generate_weights(data, child.params)
    if not frame.columns.equals(data.daily.columns):
        raise ScenarioError(
            f"blend child {child.alias!r} ({child.strategy.name}) returned columns "
            f"{list(frame.columns)[:5]}..., expected the data's {list(data.daily.columns)[:5]}..."
        )
    if (data.daily.index.get_indexer(frame.index) < 0).any():
        raise ScenarioError(
            f"blend child {child.alias!r} ({child.strategy.name}) returned a date that is not "
            "a trading day of the data"
        )
    return frame


def _flatten(params: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario's nested ``children`` and ``weights`` as flat parameter names; flat
    names given beside them (a trial's ``momentum.top_n``) win."""
    flat: dict[str, Any] = {}
    for key in params:
        if key not in SETTINGS and "." not in key:
            raise ScenarioError(
                f"strategy {NAME!r} has no parameter {key!r}"
                + did_you_mean(key, SETTINGS)
                + "; give children: {alias: {name: ..., params: {...}}}, weights: "
                "{alias: share}, or flat names such as momentum.top_n and weight.momentum"
            )
    if "children" in params:
        flat.update(_flatten_children(params["children"]))
    weights = params.get("weights", {})
    if not isinstance(weights, Mapping):
        raise ScenarioError(
            f"strategy {NAME!r}: weights must map child aliases to shares, got {weights!r}"
        )
    flat.update({f"{WEIGHT}.{alias}": share for alias, share in weights.items()})
    flat.update({k: v for k, v in params.items() if k not in SETTINGS})
    return flat


def _flatten_children(children: Any) -> dict[str, Any]:
    if not isinstance(children, Mapping) or not children:
        raise ScenarioError(
            f"strategy {NAME!r}: children must map aliases to strategies, such as "
            f"{{momentum: {{name: simple_momentum}}}}, got {children!r}"
        )
    flat: dict[str, Any] = {}
    for alias, spec in children.items():
        where = f"strategy {NAME!r} children.{alias}"
        _check_alias(alias)
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise ScenarioError(f"{where}: expected {{name: ..., params: {{...}}}}, got {spec!r}")
        unknown = [key for key in spec if key not in ("name", "params")]
        if unknown:
            raise ScenarioError(
                f"{where}: unknown key {unknown[0]!r}"
                + did_you_mean(str(unknown[0]), ("name", "params"))
                + "; allowed keys: name, params"
            )
        strategy = _lookup(spec["name"], alias)
        try:
            resolved = strategy.resolve_params(spec.get("params") or {})
        except ScenarioError as error:
            raise ScenarioError(f"{where}: {error}") from None
        flat[f"{alias}.{STRATEGY}"] = spec["name"]
        flat.update({f"{alias}.{key}": value for key, value in resolved.items()})
    return flat


def _declare(flat: Mapping[str, Any]) -> tuple[Parameter, ...]:
    """Every child's parameters under its alias, its strategy and its weight."""
    strategies = _child_strategies(flat)
    declared: list[Parameter] = []
    for alias, (name, strategy) in strategies.items():
        declared.append(
            Parameter(
                f"{alias}.{STRATEGY}",
                "categorical",
                default=name,
                choices=(name,),
                doc=f"the strategy of child {alias!r}, set in children.{alias}.name",
            )
        )
        for parameter in strategy.parameters_for(_own(flat, alias)):
            if parameter.name == STRATEGY:
                raise ScenarioError(
                    f"strategy {NAME!r} child {alias!r}: {strategy.name!r} has a parameter "
                    f"named {STRATEGY!r}, which a blend cannot tell from the child's strategy"
                )
            declared.append(dataclasses.replace(parameter, name=f"{alias}.{parameter.name}"))
        declared.append(
            Parameter(
                f"{WEIGHT}.{alias}",
                "float",
                default=1.0 / len(strategies),
                low=0.0,
                high=1.0,
                min=0.0,
                doc=f"weight of child {alias!r}; its share is this over the sum of the weights",
            )
        )
    return tuple(declared)


def _child_strategies(flat: Mapping[str, Any]) -> dict[str, tuple[str, type[BaseStrategy]]]:
    """Alias to (name, class) from the ``<alias>.strategy`` values; the defaults without."""
    names = {
        key.partition(".")[0]: value
        for key, value in flat.items()
        if key.partition(".")[2] == STRATEGY
    }
    if not names:
        return DEFAULT_CHILDREN
    return {alias: (name, _lookup(name, alias)) for alias, name in names.items()}


def _own(flat: Mapping[str, Any], alias: str) -> dict[str, Any]:
    """A child's values under its own names: ``momentum.top_n`` as ``top_n`` (without
    ``momentum.strategy``, which is the blend's)."""
    prefix = f"{alias}."
    own = {k.removeprefix(prefix): v for k, v in flat.items() if k.startswith(prefix)}
    own.pop(STRATEGY, None)
    return own


def _check_alias(alias: Any) -> None:
    if not isinstance(alias, str) or not alias or "." in alias or alias == WEIGHT:
        raise ScenarioError(
            f"strategy {NAME!r}: child alias {alias!r} must be a non-empty name without '.', "
            f"other than {WEIGHT!r}, such as momentum"
        )


def _lookup(name: Any, alias: str) -> type[BaseStrategy]:
    # Imported when called: the registry imports every strategy module at its top.
    from ._registry import get_strategy

    if not isinstance(name, str):
        raise ScenarioError(
            f"strategy {NAME!r} children.{alias}.name: expected a strategy name, got {name!r}"
        )
    return get_strategy(name)


# The default blend's parameters, for listings and the contract: set once the helpers exist.
BlendStrategy.parameters = BlendStrategy.parameters_for(None)
