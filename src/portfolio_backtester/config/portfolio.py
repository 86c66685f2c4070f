"""The scenario's ``portfolio`` section: capital, execution, costs and rebalancing rules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from ._model import _Model

__all__ = ["CostsConfig", "PortfolioConfig", "RebalanceConfig"]


class CostsConfig(_Model):
    cost_bps: float = Field(10.0, ge=0, le=10_000)
    commission: float = Field(0.0, ge=0)


class RebalanceConfig(_Model):
    """Which assets a rebalance date trades (``simulation.engine``); defaults: every one."""

    when: Literal["schedule", "target_change"] = "schedule"
    band: float | None = Field(None, ge=0)
    band_type: Literal["absolute", "relative"] = "absolute"
    min_trade: float = Field(0.0, ge=0, le=1)


class PortfolioConfig(_Model):
    initial_capital: float = Field(1_000_000.0, gt=0)
    execution: Literal["close", "next_open"] = "close"
    max_gross_leverage: float | None = Field(None, gt=0)
    allow_short: bool = False
    cash_rate: float = 0.0
    risk_free_rate: float = 0.0
    rebalance: RebalanceConfig = RebalanceConfig()

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)  # default rules left out: older studies' fingerprints stay
        if isinstance(dumped, dict) and self.rebalance == RebalanceConfig():
            dumped.pop("rebalance", None)
        return dumped
