"""Statistics of a daily simple-returns series on its own, each a pure function."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError

__all__ = [
    "FloatArray",
    "Returns",
    "annual_turnover",
    "annual_volatility",
    "average_drawdown",
    "best_day",
    "best_month",
    "cagr",
    "calmar_ratio",
    "conditional_value_at_risk",
    "drawdown_series",
    "hit_rate",
    "kurtosis",
    "max_drawdown",
    "max_drawdown_duration",
    "sharpe_ratio",
    "skew",
    "sortino_ratio",
    "total_return",
    "value_at_risk",
    "worst_day",
    "worst_month",
]

FloatArray = npt.NDArray[np.float64]
Returns = pd.Series | FloatArray

_CONSTANT_TOLERANCE = 1e-14
"""A deviation below this fraction of the mean is rounding noise: the series is constant."""


def total_return(returns: Returns) -> float:
    """Compounded return over the whole series: ``prod(1 + r) - 1``."""
    r = _clean(returns)
    return float(np.prod(1.0 + r) - 1.0) if r.size else math.nan


def cagr(returns: Returns, *, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
    """Compound annual growth rate, years being ``len(returns) / periods_per_year``.

    NaN when the compounded value ends below zero (a levered portfolio wiped out).
    """
    return _cagr(_clean(returns), periods_per_year)


def annual_volatility(returns: Returns, *, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
    """Sample standard deviation (``ddof=1``) times ``sqrt(periods_per_year)``."""
    r = _clean(returns)
    return float(r.std(ddof=1) * math.sqrt(periods_per_year)) if r.size > 1 else math.nan


def sharpe_ratio(
    returns: Returns,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float:
    """Mean daily excess return over its sample standard deviation, annualised by
    ``sqrt(periods_per_year)``; NaN for a constant series."""
    excess = _clean(returns) - risk_free_rate / periods_per_year
    return _mean_over_std(excess) * math.sqrt(periods_per_year)


def sortino_ratio(
    returns: Returns,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> float:
    """Annualised mean excess return over the annualised downside deviation.

    The downside deviation is ``sqrt(mean(min(excess, 0)**2))`` over all days, not the
    standard deviation of the negative days only. NaN when no day is below the
    risk-free rate.
    """
    excess = _clean(returns) - risk_free_rate / periods_per_year
    if excess.size < 2:
        return math.nan
    downside = math.sqrt(float(np.mean(np.square(np.minimum(excess, 0.0)))))
    if downside == 0.0:
        return math.nan
    return float(np.mean(excess)) * math.sqrt(periods_per_year) / downside


def calmar_ratio(returns: Returns, *, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
    """CAGR over the absolute maximum drawdown; NaN without a drawdown."""
    r = _clean(returns)
    worst = _max_drawdown(r)
    if not worst < 0.0:
        return math.nan
    return _cagr(r, periods_per_year) / -worst


def max_drawdown(returns: Returns) -> float:
    """Largest fall from a running peak of compounded value, as a negative fraction.

    The starting value counts as a peak, so a first-day loss is a drawdown.
    """
    return _max_drawdown(_clean(returns))


def drawdown_series(returns: pd.Series) -> pd.Series:
    """Fall from the running peak of compounded value on each day, as a negative fraction.

    The definition of :func:`max_drawdown`, day by day (the starting value counts as a
    peak; a NaN day earns nothing and keeps the previous day's drawdown), so the minimum
    of the result is ``max_drawdown(returns)``. Same index and name as ``returns``.
    """
    values = returns.to_numpy(dtype=np.float64)
    earned = np.where(np.isnan(values), 0.0, values)
    return pd.Series(_drawdowns(earned), index=returns.index, name=returns.name)


def max_drawdown_duration(returns: Returns) -> float:
    """Longest run of consecutive days closing below the previous peak, in trading days.

    That is the span from a peak to its recovery, counting neither the peak day nor the
    recovery day; a drawdown not recovered by the end counts to the last day. 0 when the
    value never falls below a peak.
    """
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    starts, ends = _underwater_runs(_drawdowns(r))
    return float((ends - starts).max()) if starts.size else 0.0


def average_drawdown(returns: Returns) -> float:
    """Mean depth of the drawdown episodes (each run of days below a peak counts once,
    at its deepest point); 0 when there is none."""
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    drawdowns = _drawdowns(r)
    starts, _ = _underwater_runs(drawdowns)
    if starts.size == 0:
        return 0.0
    # reduceat over [start_k, start_k+1) also covers the days at the peak after a
    # recovery, whose drawdown is 0 and so never the minimum of an episode.
    return float(np.minimum.reduceat(drawdowns, starts).mean())


def hit_rate(returns: Returns) -> float:
    """Share of days with a positive return among the days whose return is not 0.

    Days with exactly 0 (no position, a holiday in the data) are left out, so a
    strategy that is mostly in cash is not penalised for its idle days.
    """
    r = _clean(returns)
    active = np.count_nonzero(r)
    return float(np.count_nonzero(r > 0.0) / active) if active else math.nan


def best_day(returns: Returns) -> float:
    """Highest daily return."""
    r = _clean(returns)
    return float(r.max()) if r.size else math.nan


def worst_day(returns: Returns) -> float:
    """Lowest daily return."""
    r = _clean(returns)
    return float(r.min()) if r.size else math.nan


def best_month(returns: Returns) -> float:
    """Highest compounded calendar-month return (partial first and last months included)."""
    months = _monthly_returns(returns)
    return float(months.max()) if months.size else math.nan


def worst_month(returns: Returns) -> float:
    """Lowest compounded calendar-month return (partial first and last months included)."""
    months = _monthly_returns(returns)
    return float(months.min()) if months.size else math.nan


def skew(returns: Returns) -> float:
    """Sample skewness, bias-corrected (as ``pandas.Series.skew``); NaN if constant."""
    r = _clean(returns)
    n = r.size
    moments = _central_moments(r, 3) if n >= 3 else None
    if moments is None:
        return math.nan
    m2, m3 = moments
    return math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)


def kurtosis(returns: Returns) -> float:
    """Sample excess kurtosis, bias-corrected (as ``pandas.Series.kurt``); NaN if constant."""
    r = _clean(returns)
    n = r.size
    moments = _central_moments(r, 4) if n >= 4 else None
    if moments is None:
        return math.nan
    m2, _, m4 = moments
    g2 = m4 / (m2 * m2) - 3.0
    return (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)


def value_at_risk(returns: Returns, *, level: float = 0.95) -> float:
    """Historical value at risk: the ``1 - level`` quantile of daily returns (linear
    interpolation), a negative number for a loss."""
    r = _clean(returns)
    return float(np.percentile(r, 100.0 * (1.0 - level))) if r.size else math.nan


def conditional_value_at_risk(returns: Returns, *, level: float = 0.95) -> float:
    """Mean of the worst ``1 + floor((n - 1) * (1 - level))`` daily returns (the tail
    beyond the value at risk, including the day at the cutoff)."""
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    cutoff = int((r.size - 1) * (1.0 - level))
    return float(np.mean(np.partition(r, cutoff)[: cutoff + 1]))


def annual_turnover(turnover: Returns, *, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float:
    """Mean daily turnover times ``periods_per_year``.

    Turnover counts buys plus sells over portfolio value, so replacing the whole
    portfolio once a year gives 2.0.
    """
    t = _clean(turnover)
    return float(t.mean() * periods_per_year) if t.size else math.nan


# --- helpers ---------------------------------------------------------------------------


def _clean(returns: Returns) -> FloatArray:
    """The values as a float64 array without NaN (a view when there is none)."""
    if isinstance(returns, pd.Series):
        values = returns.to_numpy(dtype=np.float64)  # several times faster than asarray
    else:
        values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise DataError(f"returns must be one-dimensional, got shape {values.shape}")
    missing = np.isnan(values)
    return values[~missing] if missing.any() else values


def _cagr(r: FloatArray, periods_per_year: int) -> float:
    if r.size == 0:
        return math.nan
    ending = float(np.prod(1.0 + r))
    if ending < 0.0:
        return math.nan
    return float(ending ** (periods_per_year / r.size) - 1.0)


def _mean_over_std(values: FloatArray) -> float:
    n = values.size
    if n < 2:
        return math.nan
    mean = float(values.mean())
    centred = values - mean
    variance = float(np.dot(centred, centred)) / (n - 1)
    # A constant series leaves a rounding residue (about 1e-16 of the mean) instead of
    # a zero deviation, which would make the ratio huge rather than undefined.
    if variance <= (_CONSTANT_TOLERANCE * mean) ** 2:
        return math.nan
    return mean / math.sqrt(variance)


def _drawdowns(r: FloatArray) -> FloatArray:
    """Value over its running peak, minus 1; the start (value 1) is the first peak."""
    wealth = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(wealth)
    np.maximum(peak, 1.0, out=peak)
    return wealth / peak - 1.0


def _max_drawdown(r: FloatArray) -> float:
    return float(_drawdowns(r).min()) if r.size else math.nan


def _underwater_runs(drawdowns: FloatArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start (inclusive) and end (exclusive) positions of each run of days below a peak."""
    edges = np.diff(np.concatenate([[0], (drawdowns < 0.0).astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _central_moments(r: FloatArray, highest: int) -> list[float] | None:
    """Population central moments 2..highest; None for a constant series."""
    mean = float(r.mean())
    centred = r - mean
    squared = centred * centred  # products, several times faster than ``centred**k``
    moments = [float(squared.mean())]
    if highest >= 3:
        moments.append(float(np.dot(squared, centred)) / r.size)
    if highest >= 4:
        moments.append(float(np.dot(squared, squared)) / r.size)
    if moments[0] <= (_CONSTANT_TOLERANCE * mean) ** 2 or moments[0] * moments[0] == 0.0:
        return None  # constant, or deviations so small that their powers underflow
    return moments


def _monthly_returns(returns: Returns) -> FloatArray:
    """Compounded calendar-month returns; empty without a DatetimeIndex."""
    if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
        return np.zeros(0)
    series = returns if returns.index.is_monotonic_increasing else returns.sort_index()
    values = series.to_numpy(dtype=np.float64)
    # Calendar months of the local dates, without the cost of .year and .month.
    index = pd.DatetimeIndex(series.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    days = index.to_numpy().astype("datetime64[D]")
    kept = ~np.isnan(values) & ~np.isnat(days)  # an undated day belongs to no month
    if not kept.all():
        values, days = values[kept], days[kept]
    if values.size == 0:
        return np.zeros(0)
    return np.multiply.reduceat(1.0 + values, _month_starts(days)) - 1.0


def _month_starts(days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.intp]:
    """Positions of each calendar month's first date in sorted ``days``.

    The first day of every month in the range, looked up in the dates: a few hundred
    months instead of a calendar conversion of every date (several times faster).
    """
    months = np.arange(days[0].astype("datetime64[M]"), days[-1].astype("datetime64[M]") + 1)
    starts = np.searchsorted(days, months.astype("datetime64[D]"), side="left")
    # A month without dates would repeat the next month's start.
    return np.unique(starts)
