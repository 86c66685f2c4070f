"""Statistics of a daily returns series relative to a benchmark's, each a pure function."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError
from ._returns import _CONSTANT_TOLERANCE, FloatArray, Returns, _mean_over_std

__all__ = ["alpha", "beta", "down_capture", "information_ratio", "tracking_error", "up_capture"]


def beta(returns: Returns, benchmark_returns: Returns) -> float:
    """Covariance with the benchmark over the benchmark's variance; NaN if the
    benchmark is constant."""
    r, b = _paired(returns, benchmark_returns)
    return _beta(r, b)


def alpha(
    returns: Returns,
    benchmark_returns: Returns,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float:
    """Annualised CAPM alpha: ``(1 + mean(r - rf - beta * (b - rf)))**periods - 1``."""
    r, b = _paired(returns, benchmark_returns)
    slope = _beta(r, b)
    if math.isnan(slope):
        return math.nan
    rf = risk_free_rate / periods_per_year
    daily = float(np.mean((r - rf) - slope * (b - rf)))
    return float((1.0 + daily) ** periods_per_year - 1.0)


def tracking_error(
    returns: Returns,
    benchmark_returns: Returns,
    *,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float:
    """Sample standard deviation of ``returns - benchmark`` times ``sqrt(periods)``."""
    r, b = _paired(returns, benchmark_returns)
    if r.size < 2:
        return math.nan
    return float((r - b).std(ddof=1) * math.sqrt(periods_per_year))


def information_ratio(
    returns: Returns,
    benchmark_returns: Returns,
    *,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float:
    """Mean active return over its standard deviation, annualised by ``sqrt(periods)``."""
    r, b = _paired(returns, benchmark_returns)
    return _mean_over_std(r - b) * math.sqrt(periods_per_year)


def up_capture(
    returns: Returns, benchmark_returns: Returns, *, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> float:
    """The strategy's annualised return on the benchmark's up days over the benchmark's:
    above 1, it gained more than the market when the market rose."""
    r, b = _paired(returns, benchmark_returns)
    return _capture(r, b, b > 0.0, periods_per_year)


def down_capture(
    returns: Returns, benchmark_returns: Returns, *, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> float:
    """The same on the benchmark's down days: below 1, it lost less than the market when
    the market fell (negative: it gained)."""
    r, b = _paired(returns, benchmark_returns)
    return _capture(r, b, b < 0.0, periods_per_year)


# --- helpers ---------------------------------------------------------------------------


def _capture(r: FloatArray, b: FloatArray, days: npt.NDArray[np.bool_], periods: int) -> float:
    """Ratio of compound annualised returns over the chosen days (as empyrical's
    ``up_capture``/``down_capture`` and Morningstar's capture ratios, on daily data)."""
    if not days.any():
        return math.nan
    n = int(days.sum())
    ours = float(np.exp(np.log1p(r[days]).sum() * periods / n) - 1.0)
    theirs = float(np.exp(np.log1p(b[days]).sum() * periods / n) - 1.0)
    return math.nan if theirs == 0.0 else ours / theirs


def _paired(returns: Returns, benchmark: Returns) -> tuple[FloatArray, FloatArray]:
    """Both series on common dates, without the days where either is missing."""
    if isinstance(returns, pd.Series) and isinstance(benchmark, pd.Series):
        if not returns.index.equals(benchmark.index):
            returns, benchmark = returns.align(benchmark, join="inner")
    r = np.asarray(returns, dtype=np.float64)
    b = np.asarray(benchmark, dtype=np.float64)
    if r.shape != b.shape or r.ndim != 1:
        raise DataError(
            f"returns and benchmark returns must be 1-D and of equal length, got shapes "
            f"{r.shape} and {b.shape}; pass Series to align them on their dates"
        )
    present = ~(np.isnan(r) | np.isnan(b))
    if not present.all():
        return r[present], b[present]
    return r, b


def _beta(r: FloatArray, b: FloatArray) -> float:
    if r.size < 2:
        return math.nan
    mean = float(b.mean())
    centred = b - mean
    spread = float(np.dot(centred, centred))
    if spread <= r.size * (_CONSTANT_TOLERANCE * mean) ** 2:
        return math.nan
    return float(np.dot(centred, r)) / spread
