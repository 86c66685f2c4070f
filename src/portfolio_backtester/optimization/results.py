"""Values that cross module and process boundaries during an optimisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "OptimizationData",
    "OptimizationDataContext",
    "WalkForwardWindow",
]


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


@dataclass(frozen=True, slots=True)
class OptimizationData:
    """All market data a backtest or a trial needs, built once per run.

    ``daily``, ``monthly`` and ``returns`` are ``(n_dates, n_assets)`` float frames;
    ``benchmark`` is a one-column frame of benchmark prices on the daily calendar
    (empty when the scenario has none); ``open`` holds open prices when the data had them.
    """

    daily: pd.DataFrame
    monthly: pd.DataFrame
    returns: pd.DataFrame
    benchmark: pd.DataFrame
    windows: tuple[WalkForwardWindow, ...] = ()
    open: pd.DataFrame | None = None

    def frames(self) -> dict[str, pd.DataFrame]:
        """The numeric frames by name, in a fixed order, for saving and fingerprinting."""
        frames = {
            "daily": self.daily,
            "monthly": self.monthly,
            "returns": self.returns,
            "benchmark": self.benchmark,
        }
        if self.open is not None:
            frames["open"] = self.open
        return frames


@dataclass(frozen=True, slots=True)
class OptimizationDataContext:
    """What a worker is given: where the data files are, never the data itself.

    Labels (dates, tickers) live in the metadata file so that this object pickles to a
    few kilobytes whatever the size of the data.
    """

    directory: str
    metadata_path: str
    array_paths: dict[str, str]
    windows: tuple[WalkForwardWindow, ...]
    fingerprint: str
    format_version: int = 1
    file_stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowResult:
    """Walk-forward outcome of one window: what was chosen in-sample, how it did after."""

    window: WalkForwardWindow
    study_name: str
    params: dict[str, Any]
    in_sample: tuple[float, ...]
    out_of_sample: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """What an optimisation found, and what happened on the way."""

    study_names: tuple[str, ...]
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    best_params: dict[str, Any]
    best_values: tuple[float, ...]
    trial_states: dict[str, int]
    n_jobs: int
    elapsed_s: float
    pareto_front: tuple[dict[str, Any], ...] = ()
    windows: tuple[WindowResult, ...] = ()
    events: tuple[str, ...] = ()
    out_of_sample_returns: pd.Series | None = None
