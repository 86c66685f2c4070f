"""Performance statistics as pure functions of a daily simple-returns series.

Conventions shared by every function:

- ``returns`` is a ``pd.Series`` or a 1-D float array of daily simple returns; ``NaN``
  marks a missing day and is dropped (for benchmark-relative metrics, days where either
  series is missing are dropped; two Series are first aligned on their dates).
- ``periods_per_year`` defaults to 252 trading days; ``risk_free_rate`` is an annual rate
  turned into a daily one as ``risk_free_rate / periods_per_year``, the same simple
  de-annualisation the engine uses for its cash rate.
- Where a value is undefined the result is ``NaN``, never an exception: an empty series;
  fewer than two days for dispersion-based metrics (three for skew, four for kurtosis);
  a constant series for ratios divided by a dispersion; no benchmark for Beta, Alpha,
  Tracking Error and Information Ratio; no turnover series for Turnover; no dates (a
  plain array) for Best and Worst Month.
- Drawdowns and the value at risk are negative numbers (-0.35 is a 35% loss).

The definitions follow empyrical where it has one (so the tests compare with it); the
others (drawdown duration and average, hit rate, months, skew, kurtosis, turnover) are
defined in their docstrings.

One concept per module: statistics of returns alone (``_returns``), statistics relative
to a benchmark (``_relative``), the table of metrics by display name (``_registry``), and
how much of an optimisation's best result is luck (``overfitting``: Sharpe-ratio inference
in ``_sharpe_inference``, CSCV in ``_cscv``, SPA through ``arch``). Trade statistics will be
a further module.
"""

from __future__ import annotations

from ..constants import TRADING_DAYS_PER_YEAR
from ._registry import HIGHER_IS_BETTER, METRIC_NAMES, compute_metrics, metric
from ._relative import alpha, beta, information_ratio, tracking_error
from ._returns import (
    annual_turnover,
    annual_volatility,
    average_drawdown,
    best_day,
    best_month,
    cagr,
    calmar_ratio,
    conditional_value_at_risk,
    drawdown_series,
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
    worst_month,
)
from .overfitting import (
    BacktestOverfittingResult,
    DeflatedSharpeResult,
    SPAResult,
    deflated_sharpe_ratio,
    effective_number_of_trials,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    spa_test,
)

__all__ = [
    "HIGHER_IS_BETTER",
    "METRIC_NAMES",
    "TRADING_DAYS_PER_YEAR",
    "BacktestOverfittingResult",
    "DeflatedSharpeResult",
    "SPAResult",
    "alpha",
    "annual_turnover",
    "annual_volatility",
    "average_drawdown",
    "best_day",
    "best_month",
    "beta",
    "cagr",
    "calmar_ratio",
    "compute_metrics",
    "conditional_value_at_risk",
    "deflated_sharpe_ratio",
    "drawdown_series",
    "effective_number_of_trials",
    "expected_max_sharpe",
    "hit_rate",
    "information_ratio",
    "kurtosis",
    "max_drawdown",
    "max_drawdown_duration",
    "metric",
    "minimum_backtest_length",
    "minimum_track_record_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratio",
    "skew",
    "sortino_ratio",
    "spa_test",
    "total_return",
    "tracking_error",
    "value_at_risk",
    "worst_day",
    "worst_month",
]
