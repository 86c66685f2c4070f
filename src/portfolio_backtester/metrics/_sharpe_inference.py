"""Inference on a selected Sharpe ratio: PSR, the expected maximum, DSR and track-record lengths.

Every Sharpe ratio here is per period (not annualised) unless its name ends in ``_annual``,
and every kurtosis is RAW (3 for a normal distribution), as in Bailey and López de Prado's
formulas: ``(kurtosis - 1) / 4`` with a raw kurtosis is ``1/2 + excess / 4``. Passing an
excess kurtosis (pandas' ``.kurt()``, this package's ``kurtosis``) understates the Sharpe
ratio's standard error; it is caught when it is below ``1 + skew**2``, the smallest raw
kurtosis any distribution has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError
from ._returns import FloatArray, Returns, _central_moments, _clean, _mean_over_std

__all__ = [
    "EULER_GAMMA",
    "DeflatedSharpeResult",
    "deflated_sharpe_ratio",
    "effective_number_of_trials",
    "expected_max_sharpe",
    "minimum_backtest_length",
    "minimum_track_record_length",
    "probabilistic_sharpe_ratio",
]

EULER_GAMMA = 0.5772156649015329
"""The Euler-Mascheroni constant of the expected-maximum approximation."""

_STANDARD_NORMAL = NormalDist()
_CHUNK_ELEMENTS = 1 << 21
"""Columns are standardised this many elements at a time (16 MB of float64)."""
_CONSTANT_RELATIVE = 1e-10
"""A spread below this fraction of the mean is rounding noise: the trial is constant."""


@dataclass(frozen=True, slots=True)
class DeflatedSharpeResult:
    """The selected trial's Sharpe ratio deflated for the trials it was chosen from.

    ``sharpe``, ``variance_of_sharpes`` and ``expected_max_sharpe`` are per period;
    ``kurtosis`` is raw (3 for a normal distribution).
    """

    sharpe: float
    sharpe_annual: float
    skew: float
    kurtosis: float
    n_obs: int
    n_trials: int
    n_effective_trials: float
    variance_of_sharpes: float
    expected_max_sharpe: float
    psr: float
    """Probability that the true Sharpe ratio is above 0."""
    dsr: float
    """Probability that it is above ``expected_max_sharpe``: above luck's best."""


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark_sharpe: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """Probability that the true Sharpe ratio exceeds ``benchmark_sharpe`` (Bailey and López
    de Prado 2012, "The Sharpe ratio efficient frontier", J. of Risk 15(2)).

    ``Φ((SR - SR*) √(T - 1) / √(1 - skew SR + (kurt - 1) / 4 SR²))`` with per-period Sharpe
    ratios, ``T = n_obs`` and ``kurt = kurtosis`` RAW (normal = 3). The correction for skew
    and fat tails is why this is not a t-test: negative skew and fat tails widen the
    Sharpe ratio's error, so the same ratio is less convincing.
    """
    _check_moments(skew, kurtosis)
    if n_obs < 2:
        raise DataError(f"n_obs must be at least 2 for a Sharpe ratio's error, got {n_obs}")
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_obs - 1) / _sharpe_spread(sharpe, skew, kurtosis)
    return _normal_cdf(z)


def expected_max_sharpe(n_trials: float, variance_of_sharpes: float) -> float:
    """Expected maximum of ``n_trials`` per-period Sharpe ratios whose true value is 0
    (Bailey and López de Prado 2014, "The Deflated Sharpe Ratio", the False Strategy
    benchmark ``SR*``).

    ``√V ((1 - g) Φ⁻¹(1 - 1/N) + g Φ⁻¹(1 - 1/(N e)))``, g the Euler-Mascheroni constant.
    The approximation comes from extreme-value theory and falls below 0 for N under about
    1.28 (it is -∞ at N = 1), where the true expected maximum of zero-mean draws is at least
    0; it is therefore clamped at 0, which keeps it continuous and non-decreasing in N, and
    makes one trial (no selection) a benchmark of 0. ``n_trials`` may be fractional (an
    effective number of trials).
    """
    if not n_trials >= 1.0:
        raise DataError(f"n_trials must be at least 1, got {n_trials}")
    if n_trials == 1.0:
        return 0.0
    if not (variance_of_sharpes >= 0.0 and math.isfinite(variance_of_sharpes)):
        raise DataError(
            f"variance_of_sharpes must be finite and >= 0, got {variance_of_sharpes}"
            " (it needs at least two trials with a Sharpe ratio)"
        )
    return math.sqrt(variance_of_sharpes) * _expected_max_standard_normal(n_trials)


def deflated_sharpe_ratio(
    returns_of_best: Returns,
    sharpes_of_all_trials: Returns,
    n_effective_trials: float | None = None,
    *,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> DeflatedSharpeResult:
    """The best trial's PSR against the Sharpe ratio luck alone would have given the best of
    the trials (Bailey and López de Prado 2014).

    ``returns_of_best`` is the selected trial's ``(n_obs,)`` returns (NaN days dropped, as
    every metric does); ``sharpes_of_all_trials`` is ``(n_trials,)`` ANNUALISED Sharpe
    ratios (as ``sharpe_ratio`` and the optimiser report them, the best included), turned
    per period by ``/ √periods_per_year``; NaN (a trial without a Sharpe ratio) is left out.
    Their sample variance (``ddof=1``) is the V of ``expected_max_sharpe``.

    ``n_effective_trials`` defaults to the number of trials, which treats them as
    independent; correlated trials (neighbouring parameters) are fewer independent draws:
    pass ``effective_number_of_trials(returns_matrix)``. The skew and RAW kurtosis are the
    plain sample moments ``m3 / m2^1.5`` and ``m4 / m2²``, as in the paper; unlike the
    bias-corrected ``skew``/``kurtosis`` of this package they always satisfy
    ``kurtosis >= 1 + skew²``.
    """
    r = _clean(returns_of_best)
    moments = _central_moments(r, 4) if r.size >= 2 else None
    if moments is None:
        raise DataError(
            f"returns_of_best must have at least 2 non-constant returns, got {r.size} values"
        )
    m2, m3, m4 = moments
    sharpe = _mean_over_std(r)
    per_period = _clean(sharpes_of_all_trials) / math.sqrt(periods_per_year)
    n_trials = int(per_period.size)
    if n_trials == 0:
        raise DataError("sharpes_of_all_trials is empty: pass every trial's Sharpe ratio")
    variance = float(np.var(per_period, ddof=1)) if n_trials > 1 else math.nan
    n_eff = float(n_trials) if n_effective_trials is None else float(n_effective_trials)
    if not 1.0 <= n_eff <= n_trials:
        raise DataError(f"n_effective_trials must be in [1, n_trials={n_trials}], got {n_eff}")
    benchmark = expected_max_sharpe(n_eff, variance)
    skew, kurtosis = m3 / m2**1.5, m4 / (m2 * m2)
    return DeflatedSharpeResult(
        sharpe=sharpe,
        sharpe_annual=sharpe * math.sqrt(periods_per_year),
        skew=skew,
        kurtosis=kurtosis,
        n_obs=int(r.size),
        n_trials=n_trials,
        n_effective_trials=n_eff,
        variance_of_sharpes=variance,
        expected_max_sharpe=benchmark,
        psr=probabilistic_sharpe_ratio(sharpe, 0.0, r.size, skew, kurtosis),
        dsr=probabilistic_sharpe_ratio(sharpe, benchmark, r.size, skew, kurtosis),
    )


def effective_number_of_trials(returns_matrix: pd.DataFrame | FloatArray) -> float:
    """Independent trials equivalent to ``(n_obs, n_trials)`` correlated ones:
    ``rho + (1 - rho) N`` with rho the average pairwise correlation of the trials' returns.

    Why this estimator: it is exact at both ends (N identical trials count once, N
    uncorrelated ones N times), needs no tuning and one pass over the data, O(T N) time and
    no N x N matrix: with unit-norm centred columns z, the correlations sum to ``|Σ z|²``, so
    ``rho = (|Σ z|² - N) / (N (N - 1))``. López de Prado's alternative, counting clusters of
    the correlation matrix (optimal number of clusters), resolves families of similar trials
    better but needs the N x N matrix and a k-means search. A negative rho is taken as 0
    (anti-correlated trials are not more than independent). NaN is a day without a return
    (0); a constant trial has no correlation and is left out, as it has no Sharpe ratio.
    """
    values = _as_matrix(returns_matrix)
    n_obs, n_cols = values.shape
    total = np.zeros(n_obs)
    n_trials = 0
    step = max(1, _CHUNK_ELEMENTS // max(n_obs, 1))
    for start in range(0, n_cols, step):
        block = np.nan_to_num(values[:, start : start + step], nan=0.0)
        means = block.mean(axis=0)
        block -= means
        norms = np.sqrt(np.einsum("ij,ij->j", block, block))
        # A constant column leaves a rounding residue (about 1e-16 of its mean), not 0.
        varying = norms > _CONSTANT_RELATIVE * np.abs(means) * math.sqrt(n_obs)
        varying &= norms > 0.0
        total += block[:, varying] @ (1.0 / norms[varying])
        n_trials += int(varying.sum())
    if n_trials < 2:
        return float(max(n_trials, 1))
    mean_correlation = (float(total @ total) - n_trials) / (n_trials * (n_trials - 1))
    mean_correlation = min(max(mean_correlation, 0.0), 1.0)
    return mean_correlation + (1.0 - mean_correlation) * n_trials


def minimum_backtest_length(n_trials: float, target_sharpe_annual: float) -> float:
    """Years of data below which ``n_trials`` zero-skill trials are expected to show a best
    annualised Sharpe ratio of ``target_sharpe_annual`` (Bailey, Borwein, López de Prado and
    Zhu 2014, "Pseudo-mathematics and financial charlatanism", MinBTL).

    ``((1 - g) Φ⁻¹(1 - 1/N) + g Φ⁻¹(1 - 1/(N e)))² / SR²``: the annualised Sharpe ratios of
    y years of data have a variance of about 1/y, so the best of N reaches SR after that
    many years. 45 trials with SR 1 need about 5 years; one trial needs none (0).
    """
    if not target_sharpe_annual > 0.0:
        raise DataError(f"target_sharpe_annual must be > 0, got {target_sharpe_annual}")
    if not n_trials >= 1.0:
        raise DataError(f"n_trials must be at least 1, got {n_trials}")
    if n_trials == 1.0:
        return 0.0
    return (_expected_max_standard_normal(n_trials) / target_sharpe_annual) ** 2


def minimum_track_record_length(
    sharpe: float,
    benchmark_sharpe: float,
    skew: float,
    kurtosis: float,
    alpha: float = 0.05,
) -> float:
    """Observations needed for ``sharpe`` to be above ``benchmark_sharpe`` with confidence
    ``1 - alpha`` (Bailey and López de Prado 2012, MinTRL).

    ``1 + (1 - skew SR + (kurt - 1) / 4 SR²) (Φ⁻¹(1 - alpha) / (SR - SR*))²`` with per-period
    Sharpe ratios and ``kurt = kurtosis`` RAW (normal = 3); ``inf`` when ``sharpe`` is not
    above the benchmark (no track record is long enough).
    """
    _check_moments(skew, kurtosis)
    if not 0.0 < alpha < 1.0:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    if sharpe <= benchmark_sharpe:
        return math.inf
    z = _STANDARD_NORMAL.inv_cdf(1.0 - alpha)
    spread = _sharpe_spread(sharpe, skew, kurtosis)
    return 1.0 + (spread * z / (sharpe - benchmark_sharpe)) ** 2


# --- helpers ---------------------------------------------------------------------------


def _expected_max_standard_normal(n_trials: float) -> float:
    """The expected-maximum approximation for unit variance, clamped at 0 (see above)."""
    tail = (1.0 - EULER_GAMMA) * _STANDARD_NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    deeper = EULER_GAMMA * _STANDARD_NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return max(0.0, tail + deeper)


def _sharpe_spread(sharpe: float, skew: float, kurtosis: float) -> float:
    """√(1 - skew SR + (kurt - 1)/4 SR²): the Sharpe ratio's error times √(T - 1).

    Positive whenever ``kurtosis >= 1 + skew²`` (the quadratic's discriminant is then <= 0).
    """
    return math.sqrt(max(1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe, 0.0))


def _check_moments(skew: float, kurtosis: float) -> None:
    if not (math.isfinite(skew) and math.isfinite(kurtosis)):
        raise DataError(f"skew and kurtosis must be finite, got {skew} and {kurtosis}")
    if kurtosis < 1.0 + skew * skew - 1e-9:
        raise DataError(
            f"kurtosis={kurtosis} is below 1 + skew² = {1.0 + skew * skew} (skew={skew}),"
            " which no distribution has: pass the RAW kurtosis (3 for a normal"
            " distribution), not the excess kurtosis (add 3 to pandas' .kurt())"
        )


def _normal_cdf(z: float) -> float:
    # erfc keeps the lower tail's precision where 1 + erf would round to 0.
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _as_matrix(returns_matrix: pd.DataFrame | FloatArray) -> FloatArray:
    """The ``(n_obs, n_trials)`` values as float64 (a view when possible), checked."""
    if isinstance(returns_matrix, pd.DataFrame):
        values = returns_matrix.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(returns_matrix, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(
            f"returns_matrix must be two-dimensional (n_obs, n_trials), got shape {values.shape}"
        )
    if np.isinf(values).any():
        raise DataError("returns_matrix has infinite returns: clean them before testing")
    return values
