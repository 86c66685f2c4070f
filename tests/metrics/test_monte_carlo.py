"""The stationary-bootstrap Monte Carlo: its statistics, its spread, its determinism."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.errors import DataError
from portfolio_backtester.metrics import cagr, max_drawdown, sharpe_ratio
from portfolio_backtester.metrics import monte_carlo as mc


def _returns(days: int = 2520, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2000-01-03", periods=days)
    return pd.Series(rng.normal(0.0004, 0.01, days), index=index, name="portfolio")


def test_the_path_statistics_are_the_packages_metrics() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(0.0003, 0.02, size=(7, 500))
    samples[2, :50] = -0.03  # a drawdown from the very first day
    growth = np.cumprod(1.0 + samples, axis=1)
    got = (mc._cagr(growth[:, -1], 500), mc._sharpe(samples, 0.02), mc._max_drawdown(growth))
    for row in range(7):
        assert got[0][row] == pytest.approx(cagr(samples[row]), rel=1e-12)
        assert got[1][row] == pytest.approx(
            sharpe_ratio(samples[row], risk_free_rate=0.02), rel=1e-12
        )
        assert got[2][row] == pytest.approx(max_drawdown(samples[row]), rel=1e-12)


def test_the_sharpe_spread_matches_its_standard_error() -> None:
    """Ten years of i.i.d. returns: the 5-95 % band of the annual Sharpe is about
    2 * 1.645 * sqrt((1 + SR² / 2) / years) wide (Lo, 2002)."""
    returns = _returns()
    result = mc.monte_carlo(returns, 400, seed=7)
    sharpe = result.observed["Sharpe"]
    expected = 2 * 1.645 * math.sqrt((1 + sharpe**2 / 2) / 10)
    band = result.percentiles["Sharpe"]
    assert band["p95"] - band["p5"] == pytest.approx(expected, rel=0.2)
    assert band["p5"] < sharpe < band["p95"]
    assert band["p5"] < band["p25"] < band["p50"] < band["p75"] < band["p95"]
    assert result.observed["CAGR"] == pytest.approx(cagr(returns))


def test_a_seed_repeats_and_another_seed_differs() -> None:
    returns = _returns(600)
    first = mc.monte_carlo(returns, 50, seed=1, block_days=5)
    again = mc.monte_carlo(returns, 50, seed=1, block_days=5)
    other = mc.monte_carlo(returns, 50, seed=2, block_days=5)
    assert first.percentiles == again.percentiles
    assert first.percentiles != other.percentiles
    assert first.block_days == 5 and first.to_dict()["paths"] == 50


def test_the_fan_is_ordered_and_ends_at_the_paths_final_values() -> None:
    returns = _returns(800)
    result = mc.monte_carlo(returns, 201, seed=4)  # odd: the median is one path
    fan = result.fan
    assert list(fan.columns) == ["p5", "p25", "p50", "p75", "p95"]
    assert fan.index.equals(returns.index)
    assert (fan.diff(axis=1).iloc[:, 1:] >= 0).all().all()
    final_cagr = (fan["p50"].iloc[-1]) ** (252 / len(returns)) - 1
    assert final_cagr == pytest.approx(result.percentiles["CAGR"]["p50"], rel=1e-9)
    assert 0.0 <= result.probability_of_loss <= 1.0


def test_too_little_to_resample_is_refused() -> None:
    with pytest.raises(DataError, match="at least 60 days"):
        mc.monte_carlo(_returns(30), 100)
    with pytest.raises(DataError, match="at least 10 paths"):
        mc.monte_carlo(_returns(), 5)
