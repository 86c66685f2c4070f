"""Every metric by display name, in one table, and the functions that compute them by name."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ScenarioError, did_you_mean
from ._relative import (
    _paired,
    alpha,
    beta,
    down_capture,
    information_ratio,
    tracking_error,
    up_capture,
)
from ._returns import (
    FloatArray,
    Returns,
    _clean,
    _monthly_returns,
    annual_turnover,
    annual_volatility,
    average_drawdown,
    best_day,
    cagr,
    calmar_ratio,
    conditional_value_at_risk,
    hit_rate,
    kurtosis,
    max_drawdown,
    max_drawdown_duration,
    sharpe_ratio,
    skew,
    sortino_ratio,
    total_return,
    value_at_risk,
    worst_day,
)
from ._summary import summary_metrics

__all__ = ["HIGHER_IS_BETTER", "METRIC_NAMES", "MetricSpec", "compute_metrics", "metric"]

Compute = Callable[[Returns, Returns | None, Returns | None, float], float]
"""``(returns, benchmark_returns, turnover, risk_free_rate) -> value``; NaN when an
input the metric needs is None."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric's display name, whether an optimiser should maximise it, and how to compute it."""

    name: str
    higher_is_better: bool
    compute: Compute
    reads: str = "returns"
    """"returns", "benchmark" (paired with the returns), "months" (calendar-month
    returns) or "turnover": what :func:`compute_metrics` prepares once and hands to every
    metric."""


def _of_returns(function: Callable[[Returns], float]) -> Compute:
    def compute(
        returns: Returns, _benchmark: Returns | None, _turnover: Returns | None, _rf: float
    ) -> float:
        return function(returns)

    return compute


def _of_months(extreme: Callable[[FloatArray], Any]) -> Compute:
    """A statistic of the compounded calendar-month returns (:func:`best_month`'s months)."""

    def compute(
        months: Returns, _benchmark: Returns | None, _turnover: Returns | None, _rf: float
    ) -> float:
        values = np.asarray(months, dtype=np.float64)
        return float(extreme(values)) if values.size else math.nan

    return compute


def _needs_benchmark(function: Callable[[Returns, Returns], float]) -> Compute:
    def compute(
        returns: Returns, benchmark: Returns | None, _turnover: Returns | None, _rf: float
    ) -> float:
        return math.nan if benchmark is None else function(returns, benchmark)

    return compute


_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("Total Return", True, _of_returns(total_return)),
    MetricSpec("CAGR", True, _of_returns(cagr)),
    MetricSpec("Annual Volatility", False, _of_returns(annual_volatility)),
    MetricSpec("Sharpe", True, lambda r, _b, _t, rf: sharpe_ratio(r, risk_free_rate=rf)),
    MetricSpec("Sortino", True, lambda r, _b, _t, rf: sortino_ratio(r, risk_free_rate=rf)),
    MetricSpec("Calmar", True, _of_returns(calmar_ratio)),
    # Drawdowns and the value at risk are negative: closer to 0 is better.
    MetricSpec("Max Drawdown", True, _of_returns(max_drawdown)),
    MetricSpec("Max Drawdown Duration", False, _of_returns(max_drawdown_duration)),
    MetricSpec("Average Drawdown", True, _of_returns(average_drawdown)),
    MetricSpec(
        "Turnover",
        False,
        lambda _r, _b, t, _rf: math.nan if t is None else annual_turnover(t),
        reads="turnover",
    ),
    MetricSpec("Hit Rate", True, _of_returns(hit_rate)),
    MetricSpec("Best Day", True, _of_returns(best_day)),
    MetricSpec("Worst Day", True, _of_returns(worst_day)),
    MetricSpec("Best Month", True, _of_months(np.max), reads="months"),
    MetricSpec("Worst Month", True, _of_months(np.min), reads="months"),
    MetricSpec("Skew", True, _of_returns(skew)),
    MetricSpec("Kurtosis", False, _of_returns(kurtosis)),  # fat tails
    MetricSpec("VaR 95%", True, _of_returns(value_at_risk)),  # negative, as Max Drawdown
    MetricSpec("CVaR 95%", True, _of_returns(conditional_value_at_risk)),
    # Less market exposure, when an optimiser is asked to choose.
    MetricSpec("Beta", False, _needs_benchmark(beta), reads="benchmark"),
    MetricSpec(
        "Alpha",
        True,
        lambda r, b, _t, rf: math.nan if b is None else alpha(r, b, risk_free_rate=rf),
        reads="benchmark",
    ),
    MetricSpec("Tracking Error", False, _needs_benchmark(tracking_error), reads="benchmark"),
    MetricSpec("Information Ratio", True, _needs_benchmark(information_ratio), reads="benchmark"),
    MetricSpec("Up Capture", True, _needs_benchmark(up_capture), reads="benchmark"),
    MetricSpec("Down Capture", False, _needs_benchmark(down_capture), reads="benchmark"),
)

_BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in _METRICS}

SUMMARISED: frozenset[str] = frozenset(spec.name for spec in _METRICS if spec.reads == "returns")
"""The metrics of the returns alone, which :func:`._summary.summary_metrics` computes together."""

METRIC_NAMES: tuple[str, ...] = tuple(spec.name for spec in _METRICS)
"""Display names in the order :func:`compute_metrics` returns them."""

HIGHER_IS_BETTER: dict[str, bool] = {spec.name: spec.higher_is_better for spec in _METRICS}
"""Whether an optimiser should maximise each metric, by display name."""


def compute_metrics(
    returns: Returns,
    benchmark_returns: Returns | None = None,
    *,
    turnover: Returns | None = None,
    risk_free_rate: float = 0.0,
) -> dict[str, float]:
    """Every metric of :data:`METRIC_NAMES`, in that order, by display name.

    The inputs are cleaned once (NaN days dropped, the benchmark aligned on the returns'
    dates, the calendar months compounded) and each metric gets the form it reads; the
    statistics of the returns alone are computed together (:mod:`._summary`). The values
    are those each metric computes alone, without redoing that work per metric.
    """
    values = _clean(returns)
    paired = None if benchmark_returns is None else _paired(returns, benchmark_returns)
    months = _monthly_returns(returns)
    summary = summary_metrics(values, risk_free_rate)
    result: dict[str, float] = {}
    for spec in _METRICS:
        if spec.name in SUMMARISED:
            result[spec.name] = summary.get(spec.name, math.nan)  # none of an empty series
        elif spec.reads == "months":
            result[spec.name] = spec.compute(months, None, turnover, risk_free_rate)
        elif spec.reads == "benchmark" and paired is not None:
            result[spec.name] = spec.compute(*paired, turnover, risk_free_rate)
        else:
            result[spec.name] = spec.compute(values, benchmark_returns, turnover, risk_free_rate)
    return result


def metric(
    name: str,
    returns: Returns,
    benchmark_returns: Returns | None = None,
    *,
    turnover: Returns | None = None,
    risk_free_rate: float = 0.0,
) -> float:
    """One metric by display name, computing nothing else (an optimiser scores each
    trial with it). An unknown name raises :class:`ScenarioError`."""
    spec = _BY_NAME.get(name)
    if spec is None:
        raise ScenarioError(
            f"unknown metric {name!r}"
            + did_you_mean(name, METRIC_NAMES)
            + f"; known metrics: {', '.join(METRIC_NAMES)}"
        )
    if spec.reads == "months":
        return spec.compute(_monthly_returns(returns), None, turnover, risk_free_rate)
    return spec.compute(returns, benchmark_returns, turnover, risk_free_rate)
