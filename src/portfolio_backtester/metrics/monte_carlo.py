"""Monte Carlo of a run's daily returns: how different the same strategy could have looked.

One backtest is one path through history. Resampling its daily returns in blocks of random
length (the stationary bootstrap of Politis and Romano, 1994, through
``arch.bootstrap.StationaryBootstrap``) keeps their volatility clustering and short-range
dependence and gives a distribution of CAGR, Sharpe and maximum drawdown a single number
hides. The mean block length is Politis and White's (2004) automatic choice unless given.
It says nothing about regimes the history never had.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError
from ._returns import FloatArray, cagr, max_drawdown, sharpe_ratio

__all__ = ["PERCENTILES", "MonteCarloResult", "monte_carlo"]

PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)
"""The percentiles reported for each statistic and drawn in the fan chart."""

_MIN_DAYS = 60
"""Fewer days than about three months of returns make the bootstrap meaningless."""


@dataclass(frozen=True)
class MonteCarloResult:
    """The bootstrap distribution of a run's headline statistics and its equity paths."""

    paths: int
    block_days: float
    """Mean block length in trading days."""
    seed: int
    percentiles: dict[str, dict[str, float]]
    """Statistic ("CAGR", "Sharpe", "Max Drawdown") → {"p5": …, …, "p95": …}."""
    observed: dict[str, float]
    """The same statistics of the run itself."""
    probability_of_loss: float
    """Share of paths whose total return is below zero."""
    fan: pd.DataFrame
    """Equity (growth of 1) percentiles per day: columns "p5" … "p95", the run's index."""

    def to_dict(self) -> dict[str, object]:
        """What metrics.json records."""
        return {
            "paths": self.paths,
            "block_days": self.block_days,
            "seed": self.seed,
            "method": "stationary bootstrap of daily returns (arch.bootstrap)",
            "percentiles": self.percentiles,
            "observed": self.observed,
            "probability_of_loss": self.probability_of_loss,
        }


def monte_carlo(
    returns: pd.Series,
    paths: int,
    *,
    block_days: float | None = None,
    seed: int = 0,
    risk_free_rate: float = 0.0,
) -> MonteCarloResult:
    """Resample ``returns`` ``paths`` times and summarise each resampled history."""
    from arch.bootstrap import StationaryBootstrap, optimal_block_length  # 1-2 s to import

    values = returns.dropna().to_numpy(dtype=np.float64)
    if paths < 10:
        raise DataError(f"--monte-carlo needs at least 10 paths to give percentiles, got {paths}")
    if values.size < _MIN_DAYS:
        raise DataError(
            f"a Monte Carlo of {values.size} daily returns says nothing; it needs at least "
            f"{_MIN_DAYS} days: lengthen the backtest"
        )
    if block_days is None:
        block_days = float(optimal_block_length(values)["stationary"].iloc[0])
    block_days = max(1.0, block_days)
    # The mean block length need not be whole: arch draws lengths with p = 1 / block_size.
    bootstrap = StationaryBootstrap(block_days, values, seed=seed)  # type: ignore[arg-type]
    samples: FloatArray = np.empty((paths, values.size))
    for row, (data, _) in enumerate(bootstrap.bootstrap(paths)):
        samples[row] = data[0]
    growth: FloatArray = np.cumprod(1.0 + samples, axis=1, dtype=np.float64)
    statistics = {
        "CAGR": _cagr(growth[:, -1], values.size),
        "Sharpe": _sharpe(samples, risk_free_rate),
        "Max Drawdown": _max_drawdown(growth),
    }
    observed = {
        "CAGR": cagr(values),
        "Sharpe": sharpe_ratio(values, risk_free_rate=risk_free_rate),
        "Max Drawdown": max_drawdown(values),
    }
    percentiles = {
        name: {f"p{q}": float(np.nanpercentile(stat, q)) for q in PERCENTILES}
        for name, stat in statistics.items()
    }
    index = returns.dropna().index
    fan = pd.DataFrame(
        np.percentile(growth, PERCENTILES, axis=0).T,
        index=index,
        columns=[f"p{q}" for q in PERCENTILES],
    )
    return MonteCarloResult(
        paths=paths,
        block_days=block_days,
        seed=seed,
        percentiles=percentiles,
        observed=observed,
        probability_of_loss=float(np.mean(growth[:, -1] < 1.0)),
        fan=fan,
    )


def _cagr(final: FloatArray, days: int) -> FloatArray:
    years = days / TRADING_DAYS_PER_YEAR
    with np.errstate(invalid="ignore"):
        return np.where(final > 0, np.power(np.maximum(final, 0.0), 1.0 / years) - 1.0, np.nan)


def _sharpe(samples: FloatArray, risk_free_rate: float) -> FloatArray:
    excess = samples - risk_free_rate / TRADING_DAYS_PER_YEAR
    std = excess.std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = excess.mean(axis=1) / std * math.sqrt(TRADING_DAYS_PER_YEAR)
    return np.where(std > 0, sharpe, np.nan)


def _max_drawdown(growth: FloatArray) -> FloatArray:
    """The starting value counts as a peak, as in :func:`max_drawdown`."""
    peaks = np.maximum(np.maximum.accumulate(growth, axis=1), 1.0)
    result: FloatArray = np.min(growth / peaks - 1.0, axis=1)
    return np.minimum(result, 0.0)
