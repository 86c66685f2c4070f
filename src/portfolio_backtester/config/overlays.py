"""The scenario's ``overlays``: sizing rules applied, in order, to any strategy's targets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._model import _Model

__all__ = ["OverlayConfig"]


class OverlayConfig(_Model):
    """One overlay: its kind and parameters (checked with the data, in ``overlays``)."""

    kind: Literal["vol_target", "max_weight", "risk_off"]
    params: dict[str, Any] = Field(default_factory=dict)
