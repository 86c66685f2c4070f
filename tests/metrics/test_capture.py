"""Up and down capture against empyrical's, and on cases whose answer is known."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.metrics import compute_metrics
from portfolio_backtester.metrics._relative import down_capture, up_capture


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_capture_matches_empyrical(seed: int) -> None:
    rng = np.random.default_rng(seed)
    benchmark = pd.Series(rng.normal(0.0, 0.01, 1500))
    returns = 0.6 * benchmark + pd.Series(rng.normal(0.0002, 0.008, 1500))
    assert up_capture(returns, benchmark) == pytest.approx(
        empyrical.up_capture(returns, benchmark), rel=1e-12
    )
    assert down_capture(returns, benchmark) == pytest.approx(
        empyrical.down_capture(returns, benchmark), rel=1e-12
    )


def test_a_leveraged_copy_captures_more_than_one_and_a_copy_exactly_one() -> None:
    benchmark = pd.Series([0.01, -0.02, 0.015, -0.005, 0.02, -0.01])
    assert up_capture(benchmark, benchmark) == pytest.approx(1.0)
    assert down_capture(benchmark, benchmark) == pytest.approx(1.0)
    assert up_capture(2 * benchmark, benchmark) > 1.0
    assert down_capture(2 * benchmark, benchmark) > 1.0
    assert down_capture(-benchmark, benchmark) < 0.0  # gains when the market falls


def test_no_down_days_gives_nan_and_the_metrics_carry_both() -> None:
    benchmark = pd.Series([0.01, 0.02, 0.0, 0.01])
    assert math.isnan(down_capture(benchmark, benchmark))
    index = pd.bdate_range("2020-01-01", periods=300)
    rng = np.random.default_rng(0)
    b = pd.Series(rng.normal(0.0, 0.01, 300), index=index)
    metrics = compute_metrics(b * 0.5, b)
    assert metrics["Up Capture"] == pytest.approx(up_capture(b * 0.5, b))
    assert metrics["Down Capture"] < 1.0
    assert math.isnan(compute_metrics(b, None)["Up Capture"])
