"""dummy_signal_strategy: the random signal has the promised holding periods and repeats."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy
from portfolio_backtester.strategies.dummy_signal import random_long_signal

DataBuilder = Callable[[pd.DataFrame], OptimizationData]


def constant_prices(n_rows: int, n_assets: int) -> pd.DataFrame:
    index = pd.bdate_range("2000-01-03", periods=n_rows, name="date")
    return pd.DataFrame(1.0, index=index, columns=[f"A{i}" for i in range(n_assets)])


def slow_signal(
    shape: tuple[int, int], open_long_prob: float, close_long_prob: float, seed: int
) -> npt.NDArray[np.bool_]:
    """The two-state chain stepped day by day, from the same draws."""
    draws = np.random.default_rng(seed).random(shape)
    long = np.zeros(shape, dtype=bool)
    state = np.zeros(shape[1], dtype=bool)
    for day in range(shape[0]):
        for asset in range(shape[1]):
            if state[asset]:
                state[asset] = not draws[day, asset] < close_long_prob
            else:
                state[asset] = draws[day, asset] < open_long_prob
        long[day] = state
    return long


@pytest.mark.parametrize(
    ("open_long_prob", "close_long_prob"), [(0.05, 0.05), (0.2, 0.03), (0.01, 0.4), (0.5, 0.5)]
)
def test_signal_matches_a_day_by_day_loop(open_long_prob: float, close_long_prob: float) -> None:
    shape = (400, 7)
    np.testing.assert_array_equal(
        random_long_signal(shape, open_long_prob, close_long_prob, seed=3),
        slow_signal(shape, open_long_prob, close_long_prob, seed=3),
    )


def run_lengths(held: npt.NDArray[np.bool_], value: bool) -> npt.NDArray[np.int_]:
    """Lengths of the runs of ``value`` per column, leaving out runs cut by either end."""
    lengths = []
    for column in held.T:
        changes = np.flatnonzero(column[1:] != column[:-1]) + 1
        bounds = np.concatenate([[0], changes, [len(column)]])
        for start, stop in itertools.pairwise(bounds[1:-1]):
            if column[start] == value:
                lengths.append(stop - start)
    return np.asarray(lengths)


def test_holding_periods_follow_the_probabilities(make_data: DataBuilder) -> None:
    open_long_prob, close_long_prob = 0.1, 0.04
    data = make_data(constant_prices(6000, 40))
    weights = get_strategy("dummy_signal_strategy")().generate_weights(
        data, {"open_long_prob": open_long_prob, "close_long_prob": close_long_prob, "seed": 7}
    )
    held = weights.to_numpy() > 0
    long_runs, flat_runs = run_lengths(held, True), run_lengths(held, False)
    # Geometric run lengths: mean 1/p. Thousands of runs put the mean within a few percent
    # (the standard error is about 1%).
    assert len(long_runs) > 3000 and len(flat_runs) > 3000
    assert long_runs.mean() == pytest.approx(1 / close_long_prob, rel=0.05)
    assert flat_runs.mean() == pytest.approx(1 / open_long_prob, rel=0.05)
    stationary = open_long_prob / (open_long_prob + close_long_prob)
    assert held.mean() == pytest.approx(stationary, rel=0.05)


def test_weights_are_equal_across_long_assets(make_data: DataBuilder) -> None:
    data = make_data(constant_prices(300, 6))
    weights = get_strategy("dummy_signal_strategy")().generate_weights(data, {}).to_numpy()
    assert len(weights) == 300
    for row in weights:
        held = row[row > 0]
        np.testing.assert_allclose(held, 1 / len(held) if len(held) else held)


def test_same_parameters_repeat_and_other_seeds_differ(make_data: DataBuilder) -> None:
    strategy = get_strategy("dummy_signal_strategy")()
    data = make_data(constant_prices(500, 10))
    first = strategy.generate_weights(data, {"seed": 11})
    pd.testing.assert_frame_equal(strategy.generate_weights(data, {"seed": 11}), first)
    assert not first.equals(strategy.generate_weights(data, {"seed": 12}))


def test_a_longer_calendar_keeps_the_earlier_signal(make_data: DataBuilder) -> None:
    strategy = get_strategy("dummy_signal_strategy")()
    prices = constant_prices(500, 10)
    full = strategy.generate_weights(make_data(prices), {})
    part = strategy.generate_weights(make_data(prices.iloc[:200]), {})
    pd.testing.assert_frame_equal(part, full.iloc[:200])
