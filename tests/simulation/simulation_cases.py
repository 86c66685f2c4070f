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
    """One simulate() call: closes, opens, targets, keyword settings and maybe volume."""

    closes: pd.DataFrame
    opens: pd.DataFrame
    targets: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    volume: pd.DataFrame | None = None
    high: pd.DataFrame | None = None
    low: pd.DataFrame | None = None

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {} if self.volume is None else {"volume": self.volume}
        if self.high is not None:
            extra.update(high=self.high, low=self.low)
        return {"open_prices": self.opens, **self.settings, **extra}

    def with_settings(self, **changes: Any) -> Case:
        return Case(
            self.closes,
            self.opens,
            self.targets,
            {**self.settings, **changes},
            self.volume,
            self.high,
            self.low,
        )


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


@st.composite
def cost_models(draw: st.DrawFn, tickers: list[str]) -> dict[str, Any]:
    """The cost models without impact, each on or off: per share, spread, borrow, financing."""
    models: dict[str, Any] = {}
    if draw(st.booleans()):
        models["per_share"] = draw(st.sampled_from([0.0, 0.005, 0.05, 1.0]))
        models["per_share_min"] = draw(st.sampled_from([0.0, 1.0, 25.0]))
        models["per_share_max"] = draw(st.sampled_from([None, 50.0, 1_000.0]))
        models["per_share_max_fraction"] = draw(st.sampled_from([None, 0.01, 0.0005]))
    spread = draw(st.sampled_from(["off", "constant", "per_asset"]))
    if spread == "constant":
        models["half_spread_bps"] = draw(st.sampled_from([1.0, 5.0, 50.0]))
    elif spread == "per_asset":
        named = draw(st.lists(st.sampled_from(tickers), unique=True))
        models["half_spread_bps"] = {t: draw(st.sampled_from([0.0, 2.0, 30.0])) for t in named}
    models["borrow_rate"] = draw(st.sampled_from([0.0, 0.0, 0.03, 0.5]))
    models["financing_rate"] = draw(st.sampled_from([0.0, 0.0, 0.05, 1.0]))
    return models


IMPACT_FIRST_DAY = 3
"""Impact cases trade from this day on: every window holds at least two returns."""


@st.composite
def cost_model_cases(
    draw: st.DrawFn, max_days: int = 25, max_assets: int = 4, rules: bool = True
) -> Case:
    """A simulate() call with cost models, sometimes with rebalancing rules and with the
    impact model (on prices without gaps, with a volume frame, trading from day 3)."""
    case = draw(cases(max_days, max_assets))
    settings = {**case.settings, **draw(cost_models([str(c) for c in case.closes.columns]))}
    if rules and draw(st.booleans()):
        settings.update(draw(rebalance_rules()))
    n_days = len(case.closes)
    if n_days <= IMPACT_FIRST_DAY + 1 or not draw(st.booleans(), label="impact"):
        return Case(case.closes, case.opens, case.targets, settings)
    closes = case.closes.ffill().bfill().fillna(50.0)
    opens = case.opens.fillna(closes)
    targets = case.targets.loc[case.targets.index >= closes.index[IMPACT_FIRST_DAY]]
    if targets.empty:
        targets = case.targets.iloc[-1:].set_axis(closes.index[-1:])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="volume seed"))
    volume = pd.DataFrame(
        rng.lognormal(np.log(1e5), 0.5, closes.shape), index=closes.index, columns=closes.columns
    )
    for asset in volume.columns:
        if rng.random() < 0.3:  # a missing day: the average is over the days known
            volume.loc[volume.index[rng.integers(0, n_days)], asset] = np.nan
    settings["impact"] = draw(st.sampled_from([0.1, 1.0]))
    settings["volume_window"] = draw(st.sampled_from([3, 5, 10]))
    return Case(closes, opens, targets, settings, volume)


def ranges(
    closes: pd.DataFrame, opens: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Highs and lows around each day's open and close (NaN where the close is)."""
    rng = np.random.default_rng(seed)
    top = np.fmax(closes.to_numpy(), opens.to_numpy())
    bottom = np.fmin(closes.to_numpy(), opens.to_numpy())
    high = top * np.exp(np.abs(rng.normal(0.0, 0.02, top.shape)))
    low = bottom * np.exp(-np.abs(rng.normal(0.0, 0.02, top.shape)))
    missing = closes.isna().to_numpy()
    high[missing] = low[missing] = np.nan
    return (
        pd.DataFrame(high, index=closes.index, columns=closes.columns),
        pd.DataFrame(low, index=closes.index, columns=closes.columns),
    )


@st.composite
def stop_rules(draw: st.DrawFn) -> dict[str, Any]:
    """At least one stop, in fractions of the price or multiples of the ATR."""
    atr = draw(st.booleans(), label="atr")
    sizes = [0.5, 1.0, 2.0, 4.0] if atr else [0.005, 0.02, 0.05, 0.2]
    rules: dict[str, Any] = {}
    for name in ("stop_loss", "take_profit", "trailing_stop"):
        if draw(st.booleans(), label=name):
            rules[name] = draw(st.sampled_from(sizes))
    if not rules:
        rules["stop_loss"] = sizes[1]
    if atr:
        rules["stop_unit"] = "atr"
        rules["atr_window"] = draw(st.sampled_from([1, 3, 14]))
    return rules


@st.composite
def stop_cases(draw: st.DrawFn, max_days: int = 25, max_assets: int = 4) -> Case:
    """A simulate() call with stops, on closes or on highs and lows (always with ATR),
    sometimes with rebalancing rules and cost models."""
    case = draw(cost_model_cases(max_days, max_assets))
    rules = draw(stop_rules())
    high = low = None
    if rules.get("stop_unit") == "atr" or draw(st.booleans(), label="high and low"):
        high, low = ranges(case.closes, case.opens, draw(st.integers(0, 2**32 - 1)))
    settings = {**case.settings, **rules}
    return Case(case.closes, case.opens, case.targets, settings, case.volume, high, low)
