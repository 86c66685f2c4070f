"""Sample covariance matrices of trailing windows of daily returns, one per rebalance row."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._base import Parameter
from ._weights import FloatArray, IntArray


def covariance_lookback_parameter() -> Parameter:
    """The window of daily returns a covariance estimate uses (half a year by default:
    20 assets need more than 20 returns for a covariance that is not singular)."""
    return Parameter(
        name="lookback_days",
        kind="int",
        default=126,
        low=21,
        high=504,
        step=1,
        min=2,
        doc="trading days of daily returns in the covariance estimate",
    )


def trailing_covariances(
    returns: FloatArray, prices: FloatArray, rows: IntArray, length: int
) -> Iterator[tuple[int, IntArray, FloatArray]]:
    """For each rebalance row (by its position ``i`` in ``rows``): the assets with a price
    on that day, ``length`` finite returns up to and including it and a positive variance,
    and their sample covariance (ddof=1). Rows where no asset qualifies are skipped.

    The window ends at the rebalance row, so an estimate uses no later data.
    """
    for i, row in enumerate(rows):
        start = row - length + 1
        if start < 0:
            continue
        window = returns[start : row + 1]
        usable = np.isfinite(window).all(axis=0) & np.isfinite(prices[row])
        assets = np.flatnonzero(usable)
        if len(assets) == 0:
            continue
        covariance = np.atleast_2d(np.cov(window[:, assets], rowvar=False, ddof=1))
        positive = np.diag(covariance) > 0
        if not positive.all():  # a flat price has no risk to weigh against the others
            assets, covariance = assets[positive], covariance[np.ix_(positive, positive)]
        if len(assets):
            yield i, assets, covariance
