"""Sizing overlays: rules that rescale any strategy's target weights, applied in order.

A strategy decides *what* to hold; an overlay decides *how much*, the same way for every
strategy, so risk control need not be coded into each one. Each overlay reads only data up
to and including the rebalance date it resizes (a weight decided with data up to day t
earns from t+1), and returns targets on the same dates:

- ``vol_target``: scale the whole book so its ex-ante volatility (the targets' weights on
  the sample covariance of the trailing ``lookback_days`` daily returns) is ``target``
  a year, capped at ``max_leverage`` times the strategy's own gross.
- ``max_weight``: cap each asset's absolute weight at ``cap``; the excess is spread over
  the uncapped assets in proportion to their weights (``excess: spread``) or left in cash.
- ``risk_off``: when the signal's close is below its ``ma_days`` moving average (the
  benchmark, or a ticker of the data), hold cash or a defensive ticker instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .config import Scenario
from .constants import TRADING_DAYS_PER_YEAR
from .data import OptimizationData
from .errors import ScenarioError, did_you_mean

__all__ = [
    "OVERLAYS",
    "Overlay",
    "apply_overlays",
    "overlay_lookback_days",
    "scenario_overlays",
    "split_overlay_params",
    "validate_overlay_space",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Overlay:
    """One overlay of the scenario: its kind and its parameters, checked."""

    kind: str
    params: Mapping[str, Any]


def scenario_overlays(scenario: Scenario) -> tuple[Overlay, ...]:
    """The scenario's overlays, their parameters checked (defaults filled in)."""
    return tuple(Overlay(o.kind, checked_params(o.kind, o.params)) for o in scenario.overlays)


def split_overlay_params(
    overlays: Sequence[Overlay], params: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[Overlay, ...]]:
    """Trial parameters named ``kind.param`` (``vol_target.target``) set that overlay's
    parameter; the others are the strategy's. Returns both, the overlays' checked again."""
    kinds = {o.kind for o in overlays}
    mine: dict[str, dict[str, Any]] = {}
    rest: dict[str, Any] = {}
    for name, value in params.items():
        kind, dot, key = name.partition(".")
        if dot and kind in kinds:
            mine.setdefault(kind, {})[key] = value
        else:
            rest[name] = value
    if not mine:
        return rest, tuple(overlays)
    tuned = tuple(
        Overlay(o.kind, checked_params(o.kind, {**o.params, **mine.get(o.kind, {})}))
        for o in overlays
    )
    return rest, tuned


def validate_overlay_space(
    overlays: Sequence[Overlay], space: Mapping[str, Any]
) -> dict[str, Any]:
    """Check the searched overlay parameters (``kind.param`` names: every end of their
    ranges and every choice) and return the rest of ``space``, the strategy's."""
    kinds = {o.kind: o for o in overlays}
    rest: dict[str, Any] = {}
    for name, spec in space.items():
        kind, dot, key = name.partition(".")
        if not dot or kind not in kinds:
            rest[name] = spec
            continue
        values = [*(spec.choices or []), *(v for v in (spec.low, spec.high) if v is not None)]
        for value in values:
            try:
                checked_params(kind, {**kinds[kind].params, key: value})
            except ScenarioError as error:
                raise ScenarioError(f"optimize.params.{name}: {error}") from None
    return rest


OVERLAYS: dict[str, dict[str, Any]] = {
    "vol_target": {"target": 0.10, "lookback_days": 63, "max_leverage": 1.0},
    "max_weight": {"cap": 0.25, "excess": "spread"},
    "risk_off": {"signal": "benchmark", "ma_days": 200, "to": "cash"},
}
"""Every overlay and its parameters' defaults."""


def overlay_lookback_days(overlays: Sequence[Overlay]) -> int:
    """Trading days of history the overlays read before their first rebalance."""
    days = [
        int(o.params["lookback_days"]) if o.kind == "vol_target" else int(o.params["ma_days"])
        for o in overlays
        if o.kind in ("vol_target", "risk_off")
    ]
    return max(days, default=0)


def apply_overlays(
    targets: pd.DataFrame, data: OptimizationData, overlays: Sequence[Overlay]
) -> pd.DataFrame:
    """``targets`` resized by each overlay in turn; the frame's dates and columns are kept."""
    if not overlays or targets.empty:
        return targets
    rows = np.asarray(data.daily.index.get_indexer(targets.index), dtype=np.int64)
    weights = targets.to_numpy(dtype=np.float64, copy=True)
    for overlay in overlays:
        params = checked_params(overlay.kind, overlay.params)
        if overlay.kind == "vol_target":
            weights = _vol_target(weights, rows, data, **params)
        elif overlay.kind == "max_weight":
            weights = _max_weight(weights, **params)
        else:
            weights = _risk_off(weights, rows, data, **params)
    return pd.DataFrame(weights, index=targets.index, columns=targets.columns)


def checked_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The overlay's parameters with defaults filled in; a ScenarioError names a bad one."""
    if kind not in OVERLAYS:
        raise ScenarioError(
            f"unknown overlay {kind!r}; expected one of {', '.join(OVERLAYS)}"
            + did_you_mean(kind, OVERLAYS)
        )
    defaults = OVERLAYS[kind]
    unknown = [k for k in params if k not in defaults]
    if unknown:
        raise ScenarioError(
            f"overlay {kind!r} has no parameter {unknown[0]!r}; it takes "
            f"{', '.join(defaults)}" + did_you_mean(unknown[0], defaults)
        )
    merged = {**defaults, **params}
    positive = {"target", "lookback_days", "max_leverage", "cap", "ma_days"}
    for key in positive & merged.keys():
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"overlay {kind!r}: {key} must be a number, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise ScenarioError(f"overlay {kind!r}: {key} must be > 0, got {value!r}")
    for key in ("lookback_days", "ma_days"):
        if key in merged:
            if merged[key] != int(merged[key]) or merged[key] < 2:
                raise ScenarioError(
                    f"overlay {kind!r}: {key} must be a whole number of days >= 2, "
                    f"got {merged[key]!r}"
                )
            merged[key] = int(merged[key])
    if kind == "max_weight" and merged["excess"] not in ("spread", "cash"):
        raise ScenarioError(
            f"overlay 'max_weight': excess must be 'spread' or 'cash', got {merged['excess']!r}"
        )
    return merged


def _vol_target(
    weights: FloatArray,
    rows: npt.NDArray[np.int64],
    data: OptimizationData,
    *,
    target: float,
    lookback_days: int,
    max_leverage: float,
) -> FloatArray:
    returns = data.returns.to_numpy(dtype=np.float64)
    scaled = weights.copy()
    for k, row in enumerate(rows):
        w = weights[k]
        held = np.flatnonzero(w)
        if held.size == 0 or row < lookback_days:
            continue
        window = returns[row - lookback_days + 1 : row + 1, held]  # up to the rebalance day
        window = window[~np.isnan(window).any(axis=1)]
        if len(window) < 2:
            continue
        covariance = np.atleast_2d(np.cov(window, rowvar=False))
        variance = float(w[held] @ covariance @ w[held])
        if variance <= 0:
            continue
        vol = math.sqrt(variance * TRADING_DAYS_PER_YEAR)
        scaled[k] = w * min(target / vol, max_leverage)
    return scaled


def _max_weight(weights: FloatArray, *, cap: float, excess: str) -> FloatArray:
    capped = np.clip(weights, -cap, cap)
    if excess == "cash":
        return capped
    # Each side's excess goes to the same side (a short's to the other shorts), so net and
    # gross exposure stay what the strategy chose while any asset of that side has room.
    longs = _spread(np.maximum(weights, 0.0), cap)
    shorts = _spread(np.maximum(-weights, 0.0), cap)
    return longs - shorts


def _spread(sizes: FloatArray, cap: float) -> FloatArray:
    """Water-filling per row of non-negative ``sizes``: cut each at ``cap`` and hand what
    was cut to the assets below it, in proportion to their size, until none is left or
    every held asset is at the cap."""
    out = np.minimum(sizes, cap)
    for k in range(len(out)):
        total = float(sizes[k].sum())
        for _ in range(sizes.shape[1]):
            left = total - float(out[k].sum())
            free = (out[k] < cap - 1e-15) & (out[k] > 0)
            if left <= 1e-15 or not free.any():
                break
            share = out[k][free] / out[k][free].sum()
            out[k][free] = np.minimum(out[k][free] + share * left, cap)
    return out


def _risk_off(
    weights: FloatArray,
    rows: npt.NDArray[np.int64],
    data: OptimizationData,
    *,
    signal: str,
    ma_days: int,
    to: str,
) -> FloatArray:
    if signal == "benchmark":
        if data.benchmark.shape[1] == 0:
            raise ScenarioError(
                "overlay 'risk_off' reads the benchmark, but the scenario has none; set "
                "data.benchmark or give the overlay a signal ticker"
            )
        prices = data.benchmark.iloc[:, 0]
    elif signal in data.daily.columns:
        prices = data.daily[signal]
    else:
        raise ScenarioError(
            f"overlay 'risk_off': signal {signal!r} is neither 'benchmark' nor a ticker of "
            "the data" + did_you_mean(signal, [str(c) for c in data.daily.columns])
        )
    values = prices.to_numpy(dtype=np.float64)
    average = prices.rolling(ma_days, min_periods=ma_days).mean().to_numpy()
    off = values[rows] < average[rows]  # NaN (too early): not off
    if to != "cash" and to not in data.daily.columns:
        raise ScenarioError(
            f"overlay 'risk_off': to {to!r} is neither 'cash' nor a ticker of the data"
            + did_you_mean(to, [str(c) for c in data.daily.columns])
        )
    out = weights.copy()
    out[off] = 0.0
    if to != "cash":
        out[off, list(data.daily.columns).index(to)] = 1.0
    return out
