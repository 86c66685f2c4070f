"""The market data every backtest and trial reads, built once per run, and its windows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["OPTIONAL_FRAMES", "OptimizationData", "WalkForwardWindow"]

OPTIONAL_FRAMES = ("open", "high", "low", "volume")
"""The frames only some data have, in the order :meth:`OptimizationData.frames` lists them."""


@dataclass(frozen=True, slots=True)
class WalkForwardWindow:
    """One train/test split; all bounds are inclusive trading dates."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def to_dict(self) -> dict[str, str]:
        return {
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
        }

    @classmethod
    def from_dict(cls, values: dict[str, str]) -> WalkForwardWindow:
        return cls(**{key: pd.Timestamp(value) for key, value in values.items()})


@dataclass(frozen=True, slots=True, weakref_slot=True)
class OptimizationData:
    """All market data a backtest or a trial needs, built once per run.

    ``daily``, ``monthly`` and ``returns`` are ``(n_dates, n_assets)`` float frames;
    ``benchmark`` is a one-column frame of benchmark prices on the daily calendar
    (empty when the scenario has none); ``open``, ``high``, ``low`` and ``volume`` hold the
    data's opens, highs, lows and volumes (shares a day) when it had them.
    Defined with the data (not with the optimiser) because strategies, the engine and the
    data readers all use it.
    """

    daily: pd.DataFrame
    monthly: pd.DataFrame
    returns: pd.DataFrame
    benchmark: pd.DataFrame
    windows: tuple[WalkForwardWindow, ...] = ()
    open: pd.DataFrame | None = None
    high: pd.DataFrame | None = None
    low: pd.DataFrame | None = None
    volume: pd.DataFrame | None = None

    def frames(self) -> dict[str, pd.DataFrame]:
        """The numeric frames by name, in a fixed order, for saving and fingerprinting."""
        frames = {
            "daily": self.daily,
            "monthly": self.monthly,
            "returns": self.returns,
            "benchmark": self.benchmark,
        }
        for name in OPTIONAL_FRAMES:
            frame = getattr(self, name)
            if frame is not None:
                frames[name] = frame
        return frames
