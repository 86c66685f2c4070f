"""How much of an optimisation's best result is luck: statistics over all of its trials.

Conventions shared by every function:

- A ``returns_matrix`` is ``(n_obs, n_trials)``: one column of daily returns per trial
  (parameter set), a DataFrame or a 2-D float array. NaN in it is a day without a return
  and counts as 0 (a trial before its first position holds cash); infinite values are
  refused. A single series (``returns_of_best``) drops its NaN days, as every metric does.
- Sharpe ratios are per period (not annualised) unless their name ends in ``_annual`` or
  the docstring says annualised; every kurtosis is RAW (3 for a normal distribution).
- Probabilities are in [0, 1]; a PSR or DSR above 0.95 is significant at 5%.

Sharpe-ratio inference (PSR, the expected maximum Sharpe ratio, DSR, MinBTL, MinTRL and
the effective number of trials) lives in ``_sharpe_inference``, CSCV's probability of
backtest overfitting in ``_cscv``; the bootstrap test of superior predictive ability is
here, on top of ``arch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError
from ._cscv import (
    CSCV_METRICS,
    BacktestOverfittingResult,
    Metric,
    probability_of_backtest_overfitting,
)
from ._returns import FloatArray, Returns
from ._sharpe_inference import (
    EULER_GAMMA,
    DeflatedSharpeResult,
    _as_matrix,
    deflated_sharpe_ratio,
    effective_number_of_trials,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
)

__all__ = [
    "CSCV_METRICS",
    "EULER_GAMMA",
    "BacktestOverfittingResult",
    "DeflatedSharpeResult",
    "Metric",
    "SPAResult",
    "deflated_sharpe_ratio",
    "effective_number_of_trials",
    "expected_max_sharpe",
    "minimum_backtest_length",
    "minimum_track_record_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "spa_test",
]


@dataclass(frozen=True, slots=True)
class SPAResult:
    """Bootstrap p-values of "no trial beats the benchmark" (small: some trial does).

    The three differ in which trials' mean excess returns are re-centred to 0 in the
    bootstrap (Hansen 2005): ``pvalue_consistent`` is Hansen's SPA p-value (trials far
    below the benchmark are left out of the null); ``pvalue_upper`` re-centres every trial,
    which is White's (2000) Reality Check; ``pvalue_lower`` re-centres only trials above
    the benchmark. ``best_trial`` is the column with the highest mean return over the
    benchmark.
    """

    pvalue_lower: float
    pvalue_consistent: float
    pvalue_upper: float
    best_trial: int
    block_size: int
    reps: int


def spa_test(
    returns_matrix: pd.DataFrame | FloatArray,
    benchmark_returns: Returns,
    *,
    reps: int = 1000,
    block_size: int | None = None,
    bootstrap: Literal["stationary", "circular", "moving block"] = "stationary",
    seed: int | np.random.Generator | None = None,
) -> SPAResult:
    """Hansen's test of superior predictive ability of ``(n_obs, n_trials)`` trials over a
    ``(n_obs,)`` benchmark, with White's Reality Check, by ``arch.bootstrap.SPA``.

    Losses are negative returns, so a trial beats the benchmark when its mean return is
    higher. ``block_size`` is the bootstrap's (mean, for the stationary bootstrap) block
    length in days, ``⌊√n_obs⌋`` by default (arch's choice: 91 days for 33 years of daily
    data), long enough to keep volatility clustering inside blocks. The same integer
    ``seed`` gives the same p-values; a Generator is advanced. The rows of both inputs
    are matched by position (two pandas inputs must share their index); NaN is 0.

    arch (8.0) compares the trials' raw mean differentials (its ``studentize`` setting
    feeds only the consistent p-value's choice of trials). Its variance estimate costs
    O(n_obs² n_trials) and each replication copies the data: 2,000 trials over 8,313 days
    with 1,000 replications take about 4 minutes and 700 MB beyond the input.
    """
    values = _as_matrix(returns_matrix)
    benchmark = _benchmark(returns_matrix, benchmark_returns, values.shape[0])
    n_obs, n_trials = values.shape
    if n_trials < 1 or n_obs < 2:
        raise DataError(f"spa_test needs at least 2 days and 1 trial, got shape {values.shape}")
    if reps < 1:
        raise DataError(f"reps must be at least 1, got {reps}")
    if block_size is not None and not 1 <= block_size <= n_obs:
        raise DataError(f"block_size must be in [1, n_obs={n_obs}], got {block_size}")
    # Imported here: arch brings statsmodels and its models (about 2 s and 150 MB), which
    # every process importing the metrics (the CLI, each optimisation worker) would pay.
    from arch.bootstrap import SPA

    losses = -np.nan_to_num(values, nan=0.0)
    mean_excess = -losses.mean(axis=0) - benchmark.mean()
    test = SPA(
        -benchmark, losses, block_size=block_size, reps=reps, bootstrap=bootstrap, seed=seed
    )
    del losses  # arch keeps its own differences; this copy need not outlive them
    test.compute()
    pvalues = test.pvalues
    return SPAResult(
        pvalue_lower=float(pvalues["lower"]),
        pvalue_consistent=float(pvalues["consistent"]),
        pvalue_upper=float(pvalues["upper"]),
        best_trial=int(np.argmax(mean_excess)),
        block_size=int(test.block_size),
        reps=reps,
    )


def _benchmark(
    returns_matrix: pd.DataFrame | FloatArray, benchmark_returns: Returns, n_obs: int
) -> FloatArray:
    if (
        isinstance(returns_matrix, pd.DataFrame)
        and isinstance(benchmark_returns, pd.Series)
        and not returns_matrix.index.equals(benchmark_returns.index)
    ):
        raise DataError(
            "returns_matrix and benchmark_returns have different indexes: align them first"
            " (for example benchmark_returns.reindex(returns_matrix.index))"
        )
    if isinstance(benchmark_returns, pd.Series):
        values = benchmark_returns.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(benchmark_returns, dtype=np.float64)
    if values.shape != (n_obs,):
        raise DataError(
            f"benchmark_returns must have shape ({n_obs},) like returns_matrix's rows,"
            f" got {values.shape}"
        )
    if np.isinf(values).any():
        raise DataError("benchmark_returns has infinite returns: clean them before testing")
    cleaned: FloatArray = np.nan_to_num(values, nan=0.0)
    return cleaned
