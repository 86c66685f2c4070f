"""Hypothesis strategies for the engine tests: small markets, targets and settings.

Hypothesis chooses the structure (sizes, listing days, gaps, rebalance dates, settings,
which weights are exactly 0 or repeated); a seeded numpy generator fills in the prices
and weights, so that examples stay realistic (no portfolio wiped out by a 1e300 move)
while shrinking still finds the smallest failing shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st


@dataclass(frozen=True)
class Case:
    """One simulate() call: closes, opens, targets and keyword settings."""

    closes: pd.DataFrame
    opens: pd.DataFrame
    targets: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        return {"open_prices": self.opens, **self.settings}


@st.composite
def markets(
    draw: st.DrawFn, max_days: int = 25, max_assets: int = 4
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Closes and opens with NaN before listing, and missing closes or opens on some days."""
    n_days = draw(st.integers(2, max_days))
    n_assets = draw(st.integers(1, max_assets))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    moves = rng.normal(0.0, 0.02, (n_days, n_assets))
    closes = 50.0 * np.exp(np.cumsum(moves, axis=0))
    opens = closes * np.exp(rng.normal(0.0, 0.01, (n_days, n_assets)))
    for asset in range(n_assets):
        listed = draw(st.sampled_from([0, 0, rng.integers(0, n_days)]))
        closes[:listed, asset] = np.nan
        opens[:listed, asset] = np.nan
        for day in draw(st.lists(st.integers(0, n_days - 1), max_size=2)):
            closes[day, asset] = np.nan
        for day in draw(st.lists(st.integers(0, n_days - 1), max_size=2)):
            opens[day, asset] = np.nan
    index = pd.bdate_range("2021-01-04", periods=n_days, name="date")
    columns = pd.Index([f"T{i}" for i in range(n_assets)], name="ticker")
    return (
        pd.DataFrame(closes, index=index, columns=columns),
        pd.DataFrame(opens, index=index, columns=columns),
    )


@st.composite
def target_weights(draw: st.DrawFn, closes: pd.DataFrame) -> pd.DataFrame:
    """Targets on random rebalance dates (sometimes every day), long and short, gross up
    to the number of assets, some exactly 0 and some repeated from the row before."""
    n_days, n_assets = closes.shape
    if draw(st.booleans()):
        days = draw(st.lists(st.integers(0, n_days - 1), min_size=1, unique=True))
    else:
        days = list(range(draw(st.integers(0, n_days - 1)), n_days))
    days.sort()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    long_only = draw(st.booleans())
    low = 0.0 if long_only else -1.0
    weights = rng.uniform(low, 1.0, (len(days), n_assets))
    weights[rng.random(weights.shape) < draw(st.sampled_from([0.0, 0.3]))] = 0.0
    if draw(st.booleans()):
        weights /= np.maximum(np.abs(weights).sum(axis=1, keepdims=True), 1.0)
    for row in range(1, len(days)):
        if rng.random() < 0.2:
            weights[row] = weights[row - 1]
    return pd.DataFrame(weights, index=closes.index[days], columns=closes.columns)


@st.composite
def settings(draw: st.DrawFn) -> dict[str, Any]:
    """Costs, commission, execution, cash rate, leverage cap and the short rule."""
    initial_capital = draw(st.sampled_from([10_000.0, 1_000_000.0]))
    return {
        "cost_bps": draw(st.sampled_from([0.0, 1.0, 10.0, 55.5, 200.0])),
        "commission": draw(st.sampled_from([0.0, 0.0, 1.0, 2.5])),
        "initial_capital": initial_capital,
        "execution": draw(st.sampled_from(["close", "next_open"])),
        "cash_rate": draw(st.sampled_from([0.0, 0.0, 0.04, -0.01])),
        "max_gross_leverage": draw(st.sampled_from([None, None, 0.5, 1.0, 2.0])),
        "allow_short": draw(st.booleans()),
    }


@st.composite
def cases(draw: st.DrawFn, max_days: int = 25, max_assets: int = 4) -> Case:
    """A complete, valid simulate() call."""
    closes, opens = draw(markets(max_days, max_assets))
    return Case(closes, opens, draw(target_weights(closes)), draw(settings()))


@st.composite
def rebalance_rules(draw: st.DrawFn) -> dict[str, Any]:
    """Rebalancing rules, each on or off: target changes only, a band, a minimum trade."""
    rules: dict[str, Any] = {}
    if draw(st.booleans()):
        rules["rebalance_when"] = "target_change"
    band = draw(st.sampled_from([None, 0.0, 0.01, 0.05, 0.3]))
    if band is not None:
        rules["band"] = band
        rules["band_type"] = draw(st.sampled_from(["absolute", "relative"]))
    min_trade = draw(st.sampled_from([0.0, 0.0, 0.005, 0.05]))
    if min_trade:
        rules["min_trade"] = min_trade
    return rules


@st.composite
def ruled_cases(draw: st.DrawFn, max_days: int = 25, max_assets: int = 4) -> Case:
    """A complete, valid simulate() call with rebalancing rules."""
    case = draw(cases(max_days, max_assets))
    return Case(
        case.closes, case.opens, case.targets, {**case.settings, **draw(rebalance_rules())}
    )
