"""A random two-state signal per asset: the null model and the template for new strategies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ._base import BaseStrategy, Parameter
from ._weights import BoolArray, daily_prices, equal_weights, rebalance_rows, weights_frame


class DummySignalStrategy(BaseStrategy):
    """Each asset is flat or long; every day a flat asset goes long with ``open_long_prob``
    and a long one exits with ``close_long_prob``. Equal weight across long assets with a
    price, set every trading day.

    The signal depends only on the parameters and the shape of the data (never on prices),
    so any edge a backtest shows with it is noise: a yardstick for real strategies.
    """

    name: ClassVar[str] = "dummy_signal_strategy"
    description: ClassVar[str] = (
        "Random long/flat signal per asset with given daily entry and exit probabilities."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="open_long_prob",
            kind="float",
            default=0.05,
            low=0.001,
            high=0.5,
            log=True,
            min=0.0,
            max=1.0,
            doc="daily probability that a flat asset goes long (mean flat spell 1/p days)",
        ),
        Parameter(
            name="close_long_prob",
            kind="float",
            default=0.05,
            low=0.001,
            high=0.5,
            log=True,
            min=0.0,
            max=1.0,
            doc="daily probability that a long asset exits (mean holding 1/p days)",
        ),
        Parameter(
            name="seed",
            kind="int",
            default=42,
            low=0,
            high=10_000,
            step=1,
            min=0,
            doc="seed of the random signal; the same seed and calendar give the same signal",
        ),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        dates, _ = rebalance_rows(data, "daily")
        prices = daily_prices(data)
        long = random_long_signal(
            prices.shape, p["open_long_prob"], p["close_long_prob"], p["seed"]
        )
        return weights_frame(equal_weights(long & np.isfinite(prices)), dates, data)


def random_long_signal(
    shape: tuple[int, ...], open_long_prob: float, close_long_prob: float, seed: int
) -> BoolArray:
    """True where an asset is long: a two-state Markov chain per column, flat before row 0.

    One uniform draw per day and asset decides the step. Below both probabilities the state
    flips whatever it is; between them only the state with the larger probability changes,
    so the step sets the state; above both nothing happens. Between set steps the state is
    the last set value flipped by the parity of the flips since, which two running
    accumulations give without a loop over days. Draws fill row by row, so a longer
    calendar with the same seed and number of assets keeps the earlier signal.
    """
    n_rows = shape[0]
    draws = np.random.default_rng(seed).random(shape)
    low, high = sorted((open_long_prob, close_long_prob))
    flips = draws < low
    sets = (draws >= low) & (draws < high)
    set_value = open_long_prob > close_long_prob
    parity = np.logical_xor.accumulate(flips, axis=0)
    # The state XOR the flip parity changes only on set steps; carry it forward from the last
    # one, encoded as 2 * row + bit so that a running maximum finds the last set step.
    # Before any set step it is 0 (flat, no flips), which the fill value 0 also encodes.
    numbers = np.arange(n_rows, dtype=np.int32)[:, None]
    encoded = np.where(sets, 2 * numbers + (parity ^ set_value), np.int32(0))
    np.maximum.accumulate(encoded, axis=0, out=encoded)
    long: BoolArray = ((encoded & 1) == 1) ^ parity
    return long
