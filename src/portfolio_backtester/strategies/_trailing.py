"""Statistics of trailing windows ending at chosen rows, from one pass over the data.

The rows are cut into segments at every window edge; ``np.add.reduceat`` sums each
segment, and a window's sum is a difference of running totals of the segment sums. This
reads the data once and allocates little whatever the window lengths, which matters
because the optimiser calls strategies thousands of times. A running total at row t uses
rows before t only, so a statistic at row t never depends on later data, not even in the
last bit. A window holding a NaN or an infinity is incomplete and its statistics are NaN,
as is a window that would start before row 0.

Differences of running totals carry an absolute error of about 1e-16 times the total
over all rows: for daily returns, standard deviations are exact to ~1e-10 relative, and
only a near-constant series (daily volatility below ~1e-6) reads as slightly noisy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ._weights import BoolArray, FloatArray, IntArray

ScalarT = TypeVar("ScalarT", bound=np.generic)


class TrailingWindows:
    """Sums of ``values`` (``(n_dates, n_assets)``) over windows of the given lengths that
    end at (and include) each of ``ends`` (ascending row numbers, as rebalance rows are).

    Statistics have shape ``(len(ends), n_assets)``.
    """

    def __init__(
        self,
        values: FloatArray,
        ends: IntArray,
        lengths: Sequence[int],
        *,
        squares: bool = False,
    ) -> None:
        n_rows = values.shape[0]
        self._ends = ends
        self._edges = _sorted_unique(
            np.concatenate([ends + 1, *(ends - length + 1 for length in lengths)]), n_rows
        )
        cuts = self._edges[self._edges < n_rows]
        segments = _segment_sums(values, cuts)
        bad = ~np.isfinite(segments)
        self._sums = _running_totals(segments, bad)
        # Complete data (common for prices) needs no bookkeeping of bad segments.
        self._last_bad = _last_bad_segment(bad) if bad.any() else None
        self._squares = None
        if squares:
            square_segments = _segment_sums(np.square(values), cuts)
            self._squares = _running_totals(square_segments, ~np.isfinite(square_segments))

    def mean(self, length: int) -> FloatArray:
        """Mean of each window of ``length`` rows, per asset."""
        first, lo, hi, incomplete = self._bounds(length)
        means = self._empty()
        np.subtract(_rows(self._sums, hi), _rows(self._sums, lo), out=means[first:])
        means /= length
        np.copyto(means[first:], np.nan, where=incomplete)
        return means

    def mean_std(self, length: int) -> tuple[FloatArray, FloatArray]:
        """Mean and sample standard deviation (ddof=1, so ``length`` >= 2) of each window."""
        if self._squares is None:
            raise TypeError("TrailingWindows was built without squares=True")
        first, lo, hi, incomplete = self._bounds(length)
        means, stds = self._empty(), self._empty()
        sums = _rows(self._sums, hi) - _rows(self._sums, lo)
        np.divide(sums, length, out=means[first:])
        variances = stds[first:]
        np.subtract(_rows(self._squares, hi), _rows(self._squares, lo), out=variances)
        sums *= means[first:]
        variances -= sums
        # Rounding can leave a tiny negative variance for a flat window: clip it to zero.
        np.maximum(variances, 0.0, out=variances)
        variances /= length - 1
        np.sqrt(variances, out=variances)
        np.copyto(means[first:], np.nan, where=incomplete)
        np.copyto(variances, np.nan, where=incomplete)
        return means, stds

    def _empty(self) -> FloatArray:
        return np.full((len(self._ends), self._sums.shape[1]), np.nan)

    def _bounds(self, length: int) -> tuple[int, IntArray, IntArray, BoolArray]:
        """The first window that starts at or after row 0, the edge positions of the windows
        from there on (start, one past the end), and which of them hold a bad value."""
        starts = self._ends - length + 1
        first = int(np.searchsorted(starts, 0))
        lo = np.searchsorted(self._edges, starts[first:])
        hi = np.searchsorted(self._edges, self._ends[first:] + 1)
        # Incomplete when the last bad segment before the window's end is inside it.
        if self._last_bad is None:
            return first, lo, hi, np.zeros((len(lo), self._sums.shape[1]), dtype=np.bool_)
        incomplete: BoolArray = _rows(self._last_bad, hi - 1) >= lo[:, None]
        return first, lo, hi, incomplete


def _sorted_unique(edges: IntArray, n_rows: int) -> IntArray:
    """The distinct edges in 0..n_rows, ascending (``np.unique`` is several times slower)."""
    edges = np.sort(edges[(edges >= 0) & (edges <= n_rows)])
    distinct: IntArray = edges[np.append(True, edges[1:] != edges[:-1])] if len(edges) else edges
    return distinct


def _rows(array: npt.NDArray[ScalarT], positions: IntArray) -> npt.NDArray[ScalarT]:
    """``array[positions]`` for ascending positions; a view, not a copy, when they are
    consecutive (daily rebalancing), since copies of a full frame are what cost time."""
    if len(positions) and positions[-1] - positions[0] == len(positions) - 1:
        return array[positions[0] : positions[-1] + 1]
    return array[positions]


def _segment_sums(values: FloatArray, cuts: IntArray) -> FloatArray:
    """Column sums of the rows from each cut to the next (the last runs to the end)."""
    if len(cuts) == values.shape[0]:
        return values  # every row is its own segment
    if len(cuts) == 0:
        return np.zeros((0, values.shape[1]))
    summed: FloatArray = np.add.reduceat(values, cuts, axis=0)
    return summed


def _running_totals(segments: FloatArray, bad: BoolArray) -> FloatArray:
    """Row j holds the sum of the segments before j (row 0 is zero), bad ones counted as 0:
    they make their windows incomplete, and zeroed they cannot spread to later windows."""
    totals = np.empty((segments.shape[0] + 1, segments.shape[1]))
    totals[0] = 0.0
    body = totals[1:]
    np.copyto(body, segments)
    np.copyto(body, 0.0, where=bad)
    np.cumsum(body, axis=0, out=body)
    return totals


def _last_bad_segment(bad: BoolArray) -> npt.NDArray[np.int32]:
    """Per asset, the position of the last bad segment so far, or -1."""
    numbers = np.arange(bad.shape[0], dtype=np.int32)[:, None]
    last: npt.NDArray[np.int32] = np.where(bad, numbers, np.int32(-1))
    np.maximum.accumulate(last, axis=0, out=last)
    return last
