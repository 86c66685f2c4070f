"""Statistics of returns alone against empyrical on the embedded data, and by hand where
definitions differ."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from empyrical_reference import RF, RF_DAILY, RTOL, empyrical, quietly

from portfolio_backtester import metrics

# --- same definition as empyrical ------------------------------------------------------

SINGLE_SERIES_CASES: list[tuple[str, Callable[[pd.Series], float], Callable[[pd.Series], float]]]
SINGLE_SERIES_CASES = [
    ("total", metrics.total_return, empyrical.cum_returns_final),
    ("cagr", metrics.cagr, empyrical.cagr),
    ("volatility", metrics.annual_volatility, empyrical.annual_volatility),
    (
        "sharpe",
        lambda r: metrics.sharpe_ratio(r, risk_free_rate=RF),
        lambda r: empyrical.sharpe_ratio(r, risk_free=RF_DAILY),
    ),
    (
        "sortino",
        lambda r: metrics.sortino_ratio(r, risk_free_rate=RF),
        lambda r: empyrical.sortino_ratio(r, required_return=RF_DAILY),
    ),
    ("calmar", metrics.calmar_ratio, empyrical.calmar_ratio),
    ("max_drawdown", metrics.max_drawdown, empyrical.max_drawdown),
    ("var", metrics.value_at_risk, empyrical.value_at_risk),
    ("cvar", metrics.conditional_value_at_risk, empyrical.conditional_value_at_risk),
    ("best_month", metrics.best_month, lambda r: empyrical.aggregate_returns(r, "monthly").max()),
    (
        "worst_month",
        metrics.worst_month,
        lambda r: empyrical.aggregate_returns(r, "monthly").min(),
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [case[1:] for case in SINGLE_SERIES_CASES],
    ids=[case[0] for case in SINGLE_SERIES_CASES],
)
@pytest.mark.parametrize("series", ["stock", "portfolio"])
def test_matches_empyrical(
    ours: Callable[[pd.Series], float],
    theirs: Callable[[pd.Series], float],
    series: str,
    request: pytest.FixtureRequest,
) -> None:
    returns = request.getfixturevalue(series)
    assert ours(returns) == pytest.approx(quietly(theirs, returns), rel=RTOL, abs=0.0)


# --- definitions empyrical does not have: by hand or by another library ----------------


@pytest.mark.parametrize("series", ["stock", "portfolio"])
def test_skew_and_kurtosis_are_the_bias_corrected_sample_moments(
    series: str, request: pytest.FixtureRequest
) -> None:
    # empyrical only re-exports scipy's biased moments; ours match pandas' defaults.
    returns = request.getfixturevalue(series)
    assert metrics.skew(returns) == pytest.approx(scipy.stats.skew(returns, bias=False), rel=RTOL)
    assert metrics.skew(returns) == pytest.approx(returns.skew(), rel=RTOL)
    assert metrics.kurtosis(returns) == pytest.approx(
        scipy.stats.kurtosis(returns, bias=False), rel=RTOL
    )
    assert metrics.kurtosis(returns) == pytest.approx(returns.kurt(), rel=RTOL)


def test_best_worst_day_and_hit_rate(stock: pd.Series) -> None:
    assert metrics.best_day(stock) == stock.max()
    assert metrics.worst_day(stock) == stock.min()
    active = stock[stock != 0.0]
    assert metrics.hit_rate(stock) == (active > 0).sum() / len(active)
    assert metrics.hit_rate(pd.Series([0.01, 0.0, -0.02, 0.0, 0.03])) == pytest.approx(2 / 3)


def test_drawdown_duration_and_average_by_hand() -> None:
    # Values: 1.1, 0.99, 1.089, 1.2, 1.08, 1.08 (peak 1.1 at day 0, regained day 3;
    # peak 1.2 at day 3, not regained).
    returns = pd.Series([0.1, -0.1, 0.1, 0.2 / 1.089, -0.1, 0.0])
    assert metrics.max_drawdown_duration(returns) == 2.0  # days 4 and 5
    # Episodes: days 1-2 (worst 0.99 / 1.1 - 1 = -0.1), days 4-5 (1.08 / 1.2 - 1 = -0.1).
    assert metrics.average_drawdown(returns) == pytest.approx(-0.1, abs=1e-15)
    assert metrics.max_drawdown(returns) == pytest.approx(-0.1, abs=1e-15)
    # A loss on day one is a drawdown from the starting value.
    assert metrics.max_drawdown_duration(pd.Series([-0.01, 0.005, 0.006])) == 2.0
    assert metrics.max_drawdown_duration(pd.Series([0.01, 0.02])) == 0.0
    assert metrics.average_drawdown(pd.Series([0.01, 0.02])) == 0.0


def test_drawdown_duration_and_average_match_a_loop(stock: pd.Series) -> None:
    peak, value, run, longest, depth, depths = 1.0, 1.0, 0, 0, 0.0, []
    for r in stock:
        value *= 1.0 + r
        if value < peak:
            run += 1
            depth = min(depth, value / peak - 1.0)
        else:
            if run:
                depths.append(depth)
            peak, run, depth = value, 0, 0.0
        longest = max(longest, run)
    if run:
        depths.append(depth)
    assert metrics.max_drawdown_duration(stock) == longest
    assert metrics.average_drawdown(stock) == pytest.approx(np.mean(depths), rel=1e-12)


def test_annual_turnover_is_mean_daily_turnover_times_252() -> None:
    turnover = pd.Series([1.0, 0.0, 0.0, 0.5])
    assert metrics.annual_turnover(turnover) == pytest.approx(1.5 / 4 * 252)


# --- drawdown series ---------------------------------------------------------------------


def test_drawdown_series_counts_a_first_day_loss_from_the_starting_value() -> None:
    # Values: 0.9, 0.945, 1.134, 0.567; peaks: 1 (the start), 1, 1.134, 1.134.
    returns = pd.Series([-0.1, 0.05, 0.2, -0.5], index=pd.bdate_range("2020-01-01", periods=4))
    drawdowns = metrics.drawdown_series(returns)
    assert drawdowns.index.equals(returns.index)
    assert drawdowns.iloc[0] == pytest.approx(-0.1, abs=1e-15)
    assert drawdowns.to_list() == pytest.approx([-0.1, -0.055, 0.0, -0.5], abs=1e-15)
    assert drawdowns.min() == metrics.max_drawdown(returns)


def test_drawdown_series_keeps_the_previous_drawdown_on_a_missing_day(stock: pd.Series) -> None:
    holed = stock.copy()
    holed.iloc[[0, 5, 500, 5000]] = np.nan
    drawdowns = metrics.drawdown_series(holed)
    assert drawdowns.index.equals(holed.index)
    assert not drawdowns.isna().any()
    assert drawdowns.iloc[0] == 0.0
    assert drawdowns.iloc[[5, 500, 5000]].to_list() == drawdowns.iloc[[4, 499, 4999]].to_list()
    assert drawdowns.min() == metrics.max_drawdown(holed)
    assert metrics.drawdown_series(stock).min() == metrics.max_drawdown(stock)
    assert metrics.drawdown_series(pd.Series([], dtype=float)).empty


# --- undefined values are NaN, never an exception ----------------------------------------


def test_missing_days_are_dropped(stock: pd.Series) -> None:
    holed = stock.copy()
    holed.iloc[[5, 500, 5000]] = np.nan
    kept = holed.dropna()
    assert metrics.sharpe_ratio(holed) == metrics.sharpe_ratio(kept)
    assert metrics.best_month(holed) == metrics.best_month(kept)
