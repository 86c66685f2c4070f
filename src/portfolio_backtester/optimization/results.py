"""Values that cross module and process boundaries during an optimisation.

``OptimizationData`` and ``WalkForwardWindow`` live in :mod:`portfolio_backtester.data`
(strategies and readers use them too) and are re-exported here, where the plan names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..data.optimization_data import OptimizationData, WalkForwardWindow

__all__ = [
    "OptimizationData",
    "OptimizationDataContext",
    "OptimizationResult",
    "PeriodResult",
    "WalkForwardWindow",
    "WindowResult",
]


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


@dataclass(frozen=True, slots=True)
class PeriodResult:
    """The chosen parameters on data the optimiser never scored them on.

    ``returns`` are one continuous simulation over the period (walk-forward: across every
    test window, the parameters switching at each boundary while the holdings carry over);
    ``window`` gives, for a walk-forward, the window whose parameters traded each day.
    The benchmark and an equal-weight portfolio of the same universe, with the same costs,
    are simulated on the same days for comparison.
    """

    label: str
    returns: pd.Series
    turnover: pd.Series
    costs: pd.Series
    metrics: dict[str, float]
    benchmark_returns: pd.Series | None
    benchmark_metrics: dict[str, float] | None
    equal_weight_returns: pd.Series
    equal_weight_metrics: dict[str, float]
    window: pd.Series | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.returns.index[0])

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.returns.index[-1])


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
    out_of_sample: PeriodResult | None = None
    """Walk-forward only: the honest estimate. In cv mode every score is in-sample."""
    holdout: PeriodResult | None = None
    """The chosen parameters on the final holdout, when the scenario keeps one."""
    overfitting: dict[str, Any] = field(default_factory=dict)
    """How much of the best result is luck (see ``optimization.overfitting``)."""
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Every trial of every study (the run folder's ``trials.csv``)."""
    distributions: dict[str, str] = field(default_factory=dict)
    """Each searched parameter's Optuna distribution as JSON."""

    @property
    def out_of_sample_returns(self) -> pd.Series | None:
        """The walk-forward's continuous out-of-sample returns (None in cv mode)."""
        return None if self.out_of_sample is None else self.out_of_sample.returns
