"""The checks of a simulation's settings, each refusal naming its fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from ..errors import ScenarioError, did_you_mean

__all__ = [
    "BAND_TYPES",
    "EXECUTIONS",
    "REBALANCE_WHEN",
    "STOP_UNITS",
    "check_cost_models",
    "check_rebalance",
    "check_settings",
    "check_stops",
]


class Settings(Protocol):
    """What the checks read of ``checks.Settings`` (which calls them when made)."""

    @property
    def per_share_min(self) -> float: ...
    @property
    def per_share_max(self) -> float | None: ...
    @property
    def half_spread_bps(self) -> float | Mapping[str, float]: ...
    @property
    def volume_window(self) -> int: ...
    @property
    def stop_unit(self) -> str: ...
    @property
    def atr_window(self) -> int: ...


EXECUTIONS = ("close", "next_open")
REBALANCE_WHEN = ("schedule", "target_change")
BAND_TYPES = ("absolute", "relative")
STOP_UNITS = ("fraction", "atr")


def check_settings(
    *,
    cost_bps: float,
    commission: float,
    initial_capital: float,
    execution: str,
    cash_rate: float,
    max_gross_leverage: float | None,
) -> None:
    if execution not in EXECUTIONS:
        raise ScenarioError(
            f"execution must be one of {', '.join(EXECUTIONS)}, got {execution!r}"
            + did_you_mean(str(execution), EXECUTIONS)
        )
    for name, value in (("cost_bps", cost_bps), ("commission", commission)):
        if not (np.isfinite(value) and value >= 0):
            raise ScenarioError(f"{name} must be a finite number >= 0, got {value!r}")
    if not (np.isfinite(initial_capital) and initial_capital > 0):
        raise ScenarioError(f"initial_capital must be a positive number, got {initial_capital!r}")
    if not np.isfinite(cash_rate):
        raise ScenarioError(f"cash_rate must be a finite annual rate, got {cash_rate!r}")
    if max_gross_leverage is not None and not (
        np.isfinite(max_gross_leverage) and max_gross_leverage > 0
    ):
        raise ScenarioError(
            f"max_gross_leverage must be a positive number or None, got {max_gross_leverage!r}"
        )


def check_rebalance(when: str, band: float | None, band_type: str, min_trade: float) -> None:
    for name, value, allowed in (
        ("rebalance_when", when, REBALANCE_WHEN),
        ("band_type", band_type, BAND_TYPES),
    ):
        if value not in allowed:
            raise ScenarioError(
                f"{name} must be one of {', '.join(allowed)}, got {value!r}"
                + did_you_mean(str(value), allowed)
            )
    if band is not None and not (np.isfinite(band) and band >= 0):
        raise ScenarioError(f"band must be a finite number >= 0 or None, got {band!r}")
    if not (np.isfinite(min_trade) and 0 <= min_trade <= 1):
        raise ScenarioError(
            f"min_trade must be a fraction of the portfolio's value in [0, 1], got {min_trade!r}"
        )


def check_cost_models(settings: Settings) -> None:
    """Rates and bounds of the cost models, each named with its fix."""
    for name in ("per_share", "per_share_min", "impact", "borrow_rate", "financing_rate"):
        value = getattr(settings, name)
        if not (np.isfinite(value) and value >= 0):
            raise ScenarioError(
                f"{name} must be a finite number >= 0, got {value!r}; use 0 to turn it off"
            )
    for name in ("per_share_max", "per_share_max_fraction"):
        value = getattr(settings, name)
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ScenarioError(
                f"{name} must be a positive number or None (no maximum), got {value!r}"
            )
    low, high = settings.per_share_min, settings.per_share_max
    if high is not None and low > high:
        raise ScenarioError(
            f"per_share_min ({low!r}) is above per_share_max ({high!r}); lower the minimum "
            "or raise the maximum"
        )
    spread = settings.half_spread_bps
    for ticker, bps in spread.items() if isinstance(spread, Mapping) else [("", spread)]:
        if not (isinstance(bps, int | float) and np.isfinite(bps) and bps >= 0):
            where = f"half_spread_bps[{ticker!r}]" if ticker else "half_spread_bps"
            raise ScenarioError(f"{where} must be a finite number of bps >= 0, got {bps!r}")
    window = settings.volume_window
    if not (isinstance(window, int) and window >= 2):
        raise ScenarioError(
            f"volume_window must be a whole number of days >= 2 (a volatility needs two "
            f"returns), got {window!r}"
        )


def check_stops(settings: Settings) -> None:
    if settings.stop_unit not in STOP_UNITS:
        raise ScenarioError(
            f"stop_unit must be one of {', '.join(STOP_UNITS)}, got {settings.stop_unit!r}"
            + did_you_mean(str(settings.stop_unit), STOP_UNITS)
        )
    for name in ("stop_loss", "take_profit", "trailing_stop"):
        value = getattr(settings, name)
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ScenarioError(f"{name} must be a positive distance or None (off), got {value!r}")
    if settings.stop_unit == "fraction":
        for name in ("stop_loss", "trailing_stop"):
            value = getattr(settings, name)
            if value is not None and value >= 1:
                raise ScenarioError(
                    f"{name} is a fraction of the price below 1 (0.1 is 10 %), got {value!r}"
                )
    window = settings.atr_window
    if not (isinstance(window, int) and window >= 1):
        raise ScenarioError(f"atr_window must be a whole number of days >= 1, got {window!r}")
