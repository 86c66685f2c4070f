"""The statistics of a returns series computed together, sharing what they have in common.

Each metric of :mod:`._returns` on its own cleans the series and recomputes what it needs:
four of them compound the series and take its drawdowns, two its central moments. A
backtest asks for all of them at once (:func:`.compute_metrics`), so this computes the
shared pieces once. The arithmetic is the same, operation by operation, so the values are
exactly those of the single functions (a test compares them on random series).
"""

from __future__ import annotations

import math

import numpy as np

from ..constants import TRADING_DAYS_PER_YEAR
from ._returns import (
    FloatArray,
    _central_moments,
    _mean_over_std,
    _underwater_runs,
    conditional_value_at_risk,
    value_at_risk,
)

__all__ = ["summary_metrics"]


def summary_metrics(r: FloatArray, risk_free_rate: float) -> dict[str, float]:
    """The metrics that read the returns alone (``_registry.SUMMARISED``) of ``r``
    (cleaned: float64, 1-D, no NaN), by display name; none for an empty ``r``, whose
    metrics are all NaN."""
    n = r.size
    if n == 0:
        return {}
    periods = TRADING_DAYS_PER_YEAR
    growth = 1.0 + r
    ending = float(np.prod(growth))
    cagr = math.nan if ending < 0.0 else float(ending ** (periods / n) - 1.0)
    wealth = np.cumprod(growth)  # as _drawdowns, from the same growth
    peak = np.maximum.accumulate(wealth)
    np.maximum(peak, 1.0, out=peak)
    drawdowns = wealth / peak - 1.0
    worst = float(drawdowns.min())
    starts, ends = _underwater_runs(drawdowns)
    excess = r - risk_free_rate / periods
    active = np.count_nonzero(r)
    sortino = math.nan
    if n >= 2:
        downside = math.sqrt(float(np.mean(np.square(np.minimum(excess, 0.0)))))
        if downside != 0.0:
            sortino = float(np.mean(excess)) * math.sqrt(periods) / downside
    skew = kurtosis = math.nan
    moments = _central_moments(r, 4) if n >= 3 else None
    if moments is not None:
        m2, m3, m4 = moments
        skew = math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)
        if n >= 4:
            g2 = m4 / (m2 * m2) - 3.0
            kurtosis = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    return {
        "Total Return": ending - 1.0,
        "CAGR": cagr,
        "Annual Volatility": float(r.std(ddof=1) * math.sqrt(periods)) if n > 1 else math.nan,
        "Sharpe": _mean_over_std(excess) * math.sqrt(periods),
        "Sortino": sortino,
        "Calmar": cagr / -worst if worst < 0.0 else math.nan,
        "Max Drawdown": worst,
        "Max Drawdown Duration": float((ends - starts).max()) if starts.size else 0.0,
        "Average Drawdown": (
            float(np.minimum.reduceat(drawdowns, starts).mean()) if starts.size else 0.0
        ),
        "Hit Rate": float(np.count_nonzero(r > 0.0) / active) if active else math.nan,
        "Best Day": float(r.max()),
        "Worst Day": float(r.min()),
        "Skew": skew,
        "Kurtosis": kurtosis,
        "VaR 95%": value_at_risk(r),
        "CVaR 95%": conditional_value_at_risk(r),
    }
