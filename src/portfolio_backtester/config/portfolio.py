"""The scenario's ``portfolio`` section: capital, execution, costs and rebalancing rules."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from ._model import _Model

__all__ = [
    "CostsConfig",
    "ImpactConfig",
    "PerShareConfig",
    "PortfolioConfig",
    "RebalanceConfig",
    "StopsConfig",
]


class PerShareConfig(_Model):
    """A commission per share with bounds per order (``simulation.engine``, cost models)."""

    rate: float = Field(ge=0)
    min: float = Field(0.0, ge=0)
    max: float | None = Field(None, gt=0)
    max_fraction: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> PerShareConfig:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max}); lower min or raise max")
        return self


class ImpactConfig(_Model):
    """Square-root market impact; needs daily volumes in the data."""

    coefficient: float = Field(ge=0)
    window: int = Field(20, ge=2)


class CostsConfig(_Model):
    """What trading and holding cost; every model but ``cost_bps`` is off by default."""

    cost_bps: float = Field(10.0, ge=0, le=10_000)
    commission: float = Field(0.0, ge=0)
    per_share: PerShareConfig | None = None
    half_spread_bps: float | dict[str, float] = 0.0
    impact: ImpactConfig | None = None
    borrow_rate: float = Field(0.0, ge=0)
    financing_rate: float = Field(0.0, ge=0)

    @field_validator("half_spread_bps", mode="before")
    @classmethod
    def _check_spread(cls, value: Any) -> Any:
        numbers = value.values() if isinstance(value, dict) else [value]
        for number in numbers:
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(
                    "must be a number of bps, or a mapping of tickers to numbers of bps"
                )
            if not (math.isfinite(number) and number >= 0):
                raise ValueError(f"must be finite and >= 0 (bps), got {number!r}")
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)  # models left off are left out: older fingerprints stay
        if isinstance(dumped, dict):
            for key, default in _NEW_COST_DEFAULTS.items():
                if key in dumped and dumped[key] == default:
                    del dumped[key]
        return dumped


_NEW_COST_DEFAULTS: dict[str, Any] = {
    "per_share": None,
    "half_spread_bps": 0.0,
    "impact": None,
    "borrow_rate": 0.0,
    "financing_rate": 0.0,
}


class RebalanceConfig(_Model):
    """Which assets a rebalance date trades (``simulation.engine``); defaults: every one."""

    when: Literal["schedule", "target_change"] = "schedule"
    band: float | None = Field(None, ge=0)
    band_type: Literal["absolute", "relative"] = "absolute"
    min_trade: float = Field(0.0, ge=0, le=1)


class StopsConfig(_Model):
    """Stops per position (``simulation._stops``); every stop is off by default."""

    stop_loss: float | None = Field(None, gt=0)
    take_profit: float | None = Field(None, gt=0)
    trailing_stop: float | None = Field(None, gt=0)
    unit: Literal["fraction", "atr"] = "fraction"
    """Distances as fractions of the price (0.1: 10 %) or multiples of the ATR."""
    atr_window: int = Field(14, ge=1)
    use_high_low: bool = True
    """Check on the day's high and low when the data have them (else on closes)."""

    @model_validator(mode="after")
    def _check(self) -> StopsConfig:
        if self.unit == "atr" and not self.use_high_low:
            raise ValueError(
                "unit: atr measures the average true range from highs and lows and checks "
                "on them too; remove use_high_low: false, or use unit: fraction"
            )
        if self.unit == "fraction":
            for name in ("stop_loss", "trailing_stop"):
                value = getattr(self, name)
                if value is not None and value >= 1:
                    raise ValueError(
                        f"{name} is a fraction of the price below 1 (0.1 is 10 %), got "
                        f"{value}; for multiples of the average true range set unit: atr"
                    )
        return self

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.stop_loss, self.take_profit, self.trailing_stop))


class PortfolioConfig(_Model):
    initial_capital: float = Field(1_000_000.0, gt=0)
    execution: Literal["close", "next_open"] = "close"
    max_gross_leverage: float | None = Field(None, gt=0)
    allow_short: bool = False
    cash_rate: float = 0.0
    risk_free_rate: float = 0.0
    rebalance: RebalanceConfig = RebalanceConfig()
    stops: StopsConfig = StopsConfig()

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)  # default rules left out: older studies' fingerprints stay
        if isinstance(dumped, dict):
            if self.rebalance == RebalanceConfig():
                dumped.pop("rebalance", None)
            if self.stops == StopsConfig():
                dumped.pop("stops", None)
        return dumped
