"""The probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado and Zhu (2015), "The probability of backtest overfitting":
the ``(n_obs, n_trials)`` returns are cut into S contiguous blocks of rows; each of the
C(S, S/2) ways of taking half the blocks is an in-sample set whose complement is out of
sample. The trial best in sample is ranked among all trials out of sample; PBO is the share
of splits where it lands at or below the median.

Named metrics are computed from each block's sufficient statistics (count, sum and sum of
squares per trial, once), so a split's metric for every trial is a 0/1 mask of blocks
times the block statistics: a matrix product, not a pass over the data. The splits are
processed in chunks so that no array is ``(n_splits, n_trials)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError, did_you_mean
from ._returns import FloatArray
from ._sharpe_inference import _as_matrix

__all__ = [
    "CSCV_METRICS",
    "BacktestOverfittingResult",
    "Metric",
    "probability_of_backtest_overfitting",
]

Metric = Callable[[FloatArray], FloatArray]
"""``(n_days, n_trials)`` returns of a half, rows in time order ``-> (n_trials,)``, higher is
better; NaN where undefined."""

CSCV_METRICS = ("sharpe_ratio", "mean_return")
"""Metrics computed from block statistics: ``sharpe_ratio`` (annualised, as
``sharpe_ratio``) and ``mean_return`` (mean daily return)."""

_CHUNK_ELEMENTS = 1 << 20
"""Splits are processed so that a ``(splits, n_trials)`` array holds about this many
float64 values (8 MB)."""
_CONSTANT_RELATIVE = 1e-10
"""A half whose variance is below this fraction of its mean square is constant: what is
left is rounding (sums of n terms carry about n * 1e-16), not dispersion."""


@dataclass(frozen=True, slots=True)
class BacktestOverfittingResult:
    """CSCV over ``n_splits = C(n_blocks, n_blocks / 2)`` splits.

    Split ``i``'s in-sample blocks are the ``i``-th of
    ``itertools.combinations(range(n_blocks), n_blocks // 2)``. Arrays are ``(n_splits,)``
    and read-only; performance is in the metric's units.
    """

    pbo: float
    """Share of splits whose logit is <= 0: the in-sample best is at or below the median
    out of sample."""
    logits: FloatArray
    """``ln(ω / (1 - ω))``, ω the selected trial's out-of-sample rank / (n_trials + 1)."""
    selected_trials: npt.NDArray[np.intp]
    """Column of the trial best in sample (the first of equals)."""
    is_performance: FloatArray
    oos_performance: FloatArray
    degradation_slope: float
    """OLS slope of out-of-sample on in-sample performance across splits (NaN splits
    left out); below 0 when a better in-sample result predicts a worse one out of sample."""
    degradation_intercept: float
    probability_of_loss: float
    """Share of splits (with a defined value) where the selected trial's out-of-sample
    performance is below 0."""
    n_blocks: int
    n_trials: int


def probability_of_backtest_overfitting(
    returns_matrix: pd.DataFrame | FloatArray,
    n_blocks: int = 16,
    metric: str | Metric = "sharpe_ratio",
    *,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> BacktestOverfittingResult:
    """PBO of picking the best of ``(n_obs, n_trials)`` trials by ``metric``.

    ``n_blocks`` (S, even) contiguous blocks of rows, the first ``n_obs % S`` one row
    longer (no row is dropped). The relative rank is the paper's: the selected trial's rank
    among all N out of sample (1 worst, N best; equal values share their mean rank, and a
    NaN metric ranks below every defined one), ``ω = rank / (N + 1)``. In sample, a NaN
    metric is never selected unless every trial's is NaN.

    NaN in ``returns_matrix`` is a day without a return: 0 (a trial before its first
    position holds cash). ``metric`` is one of ``CSCV_METRICS`` or a ``Metric`` callable;
    a callable is evaluated on every half, C(S, S/2) passes over half the data, so it suits
    small matrices (16 blocks: 12,870 calls). With S = 16 and 2,000 trials over 8,313 days
    the named metrics take about 0.6 s and 55 MB beyond the input (benchmarks/overfitting.py).
    """
    values = _as_matrix(returns_matrix)
    n_obs, n_trials = values.shape
    _check(n_obs, n_trials, n_blocks, metric)
    bounds = np.concatenate([[0], np.cumsum(_block_lengths(n_obs, n_blocks))])
    halves: Callable[[npt.NDArray[np.intp]], tuple[FloatArray, FloatArray]]
    if callable(metric):
        halves = _by_callable(np.nan_to_num(values, nan=0.0), bounds, metric)
    else:
        halves = _by_block_statistics(values, bounds, metric, periods_per_year)

    n_splits = math.comb(n_blocks, n_blocks // 2)
    logits = np.empty(n_splits)
    selected = np.empty(n_splits, dtype=np.intp)
    is_perf = np.empty(n_splits)
    oos_perf = np.empty(n_splits)
    chunk = max(1, _CHUNK_ELEMENTS // n_trials)
    # The i-th combination's complement is the (n_splits - 1 - i)-th: the first half of
    # the combinations (those holding block 0) and their complements are every split.
    for first, combos in _first_half_chunks(n_blocks, chunk):
        perf_a, perf_b = halves(combos)
        forward = np.arange(first, first + len(combos))
        backward = n_splits - 1 - forward
        for rows, inside, outside in ((forward, perf_a, perf_b), (backward, perf_b, perf_a)):
            logits[rows], selected[rows], is_perf[rows], oos_perf[rows] = _rank(inside, outside)

    slope, intercept = _degradation(is_perf, oos_perf)
    defined = ~np.isnan(oos_perf)
    loss = float(np.mean(oos_perf[defined] < 0.0)) if defined.any() else math.nan
    for array in (logits, selected, is_perf, oos_perf):
        array.setflags(write=False)
    return BacktestOverfittingResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        selected_trials=selected,
        is_performance=is_perf,
        oos_performance=oos_perf,
        degradation_slope=slope,
        degradation_intercept=intercept,
        probability_of_loss=loss,
        n_blocks=n_blocks,
        n_trials=n_trials,
    )


# --- helpers ---------------------------------------------------------------------------


def _check(n_obs: int, n_trials: int, n_blocks: int, metric: str | Metric) -> None:
    if n_blocks < 2 or n_blocks % 2:
        raise DataError(f"n_blocks must be an even number >= 2, got {n_blocks}")
    if n_obs < 2 * n_blocks:
        raise DataError(
            f"returns_matrix has {n_obs} rows for {n_blocks} blocks: each block needs at"
            f" least 2 days; use fewer blocks or more days"
        )
    if n_trials < 2:
        raise DataError(f"CSCV ranks trials against each other: got {n_trials} trial(s)")
    if not callable(metric) and metric not in CSCV_METRICS:
        raise DataError(
            f"unknown CSCV metric {metric!r}{did_you_mean(metric, CSCV_METRICS)};"
            f" choose one of {', '.join(CSCV_METRICS)} or pass a callable"
        )


def _block_lengths(n_obs: int, n_blocks: int) -> npt.NDArray[np.intp]:
    lengths = np.full(n_blocks, n_obs // n_blocks, dtype=np.intp)
    lengths[: n_obs % n_blocks] += 1
    return lengths


def _first_half_chunks(n_blocks: int, chunk: int) -> Iterator[tuple[int, npt.NDArray[np.intp]]]:
    """``(position, (k, S/2) block indices)`` of the combinations holding block 0, in order."""
    rest = itertools.combinations(range(1, n_blocks), n_blocks // 2 - 1)
    position = 0
    while batch := list(itertools.islice(rest, chunk)):
        combos = np.zeros((len(batch), n_blocks // 2), dtype=np.intp)
        combos[:, 1:] = batch
        yield position, combos
        position += len(batch)


def _by_block_statistics(
    values: FloatArray, bounds: npt.NDArray[np.intp], metric: str, periods_per_year: int
) -> Callable[[npt.NDArray[np.intp]], tuple[FloatArray, FloatArray]]:
    """Each half's metric for every trial from per-block count, sum and sum of squares."""
    n_obs, n_trials = values.shape
    n_blocks = bounds.size - 1
    counts = np.diff(bounds).astype(np.float64)
    sums = np.empty((n_blocks, n_trials))
    squares = np.empty((n_blocks, n_trials))
    # Centred on each trial's mean, so that a variance from sums of squares does not
    # cancel away (the mean is added back to each half's mean).
    offset = np.empty(n_trials)
    step = max(1, _CHUNK_ELEMENTS // n_obs)
    for start in range(0, n_trials, step):
        cols = slice(start, start + step)
        block = np.nan_to_num(values[:, cols], nan=0.0)
        offset[cols] = block.mean(axis=0)
        block -= offset[cols]
        sums[:, cols] = np.add.reduceat(block, bounds[:-1], axis=0)
        np.square(block, out=block)
        squares[:, cols] = np.add.reduceat(block, bounds[:-1], axis=0)
    scale = math.sqrt(periods_per_year)

    def of_mask(mask: FloatArray) -> FloatArray:
        # In place: a chunk's arrays stay in cache, and each pass allocates nothing.
        n = (mask @ counts)[:, None]
        mean = mask @ sums
        mean /= n
        if metric == "mean_return":
            mean += offset
            return mean
        square = mask @ squares
        spread = np.multiply(mean, mean)
        spread *= n
        np.subtract(square, spread, out=spread)  # (n - 1) * variance
        square *= _CONSTANT_RELATIVE * (n - 1.0) / n
        constant = spread <= square
        spread[constant] = 1.0
        np.sqrt(spread, out=spread)
        mean += offset
        mean /= spread
        mean *= np.sqrt(n - 1.0) * scale
        mean[constant] = np.nan
        return mean

    def halves(combos: npt.NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        mask = np.zeros((combos.shape[0], n_blocks))
        np.put_along_axis(mask, combos, 1.0, axis=1)
        # The complement from its own product, not (total - half): a constant half of a
        # volatile trial would otherwise keep the other half's rounding as its variance.
        return of_mask(mask), of_mask(1.0 - mask)

    return halves


def _by_callable(
    values: FloatArray, bounds: npt.NDArray[np.intp], metric: Metric
) -> Callable[[npt.NDArray[np.intp]], tuple[FloatArray, FloatArray]]:
    n_blocks = bounds.size - 1
    blocks = [np.arange(bounds[b], bounds[b + 1]) for b in range(n_blocks)]

    def evaluate(chosen: list[int]) -> FloatArray:
        rows = np.concatenate([blocks[b] for b in chosen])
        return np.asarray(metric(values[rows]), dtype=np.float64)

    def halves(combos: npt.NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        inside = [sorted(int(b) for b in c) for c in combos]
        outside = [sorted(set(range(n_blocks)) - set(c)) for c in inside]
        return (
            np.stack([evaluate(c) for c in inside]),
            np.stack([evaluate(c) for c in outside]),
        )

    return halves


def _rank(
    inside: FloatArray, outside: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.intp], FloatArray, FloatArray]:
    """Per split (row): logit of the in-sample best's out-of-sample rank, its column, and
    its in- and out-of-sample performance."""
    n_splits, n_trials = inside.shape
    rows = np.arange(n_splits)
    selected = np.where(np.isnan(inside), -np.inf, inside).argmax(axis=1)
    chosen = outside[rows, selected]
    below = np.count_nonzero(outside < chosen[:, None], axis=1)
    equal = np.count_nonzero(outside == chosen[:, None], axis=1)  # itself included
    missing = np.count_nonzero(np.isnan(outside), axis=1)
    rank = np.where(np.isnan(chosen), (missing + 1) / 2, below + missing + (equal + 1) / 2)
    omega = rank / (n_trials + 1)
    return np.log(omega / (1.0 - omega)), selected, inside[rows, selected], chosen


def _degradation(is_perf: FloatArray, oos_perf: FloatArray) -> tuple[float, float]:
    """OLS ``oos = intercept + slope * is`` over splits where both are defined."""
    both = ~(np.isnan(is_perf) | np.isnan(oos_perf))
    x, y = is_perf[both], oos_perf[both]
    if x.size < 2 or np.ptp(x) == 0.0:
        return math.nan, math.nan
    dx = x - x.mean()
    spread = float(dx @ dx)
    slope = float(dx @ (y - y.mean())) / spread
    return slope, float(y.mean()) - slope * float(x.mean())
