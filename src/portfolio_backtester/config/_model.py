"""The base of every scenario model: strict, frozen, finite."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["_Model"]


class _Model(BaseModel):
    # No NaN or infinity anywhere in a scenario: `.nan` as a rate or a capital is a typo
    # that would otherwise run and print numbers.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
