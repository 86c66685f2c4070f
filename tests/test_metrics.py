"""Metrics against empyrical on the embedded data, and by hand where definitions differ."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from portfolio_backtester import metrics
from portfolio_backtester.errors import ScenarioError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # empyrical's own imports may warn about deprecations
    import empyrical

RF = 0.03  # annual; empyrical takes a daily rate
RF_DAILY = RF / 252
RTOL = 1e-10


@pytest.fixture(scope="module")
def stock(sp500: tuple[pd.DataFrame, pd.DataFrame]) -> pd.Series:
    """One stock's daily returns (AAPL, 1990-2022)."""
    prices, _ = sp500
    return prices["AAPL"].pct_change().iloc[1:]


@pytest.fixture(scope="module")
def portfolio(sp500: tuple[pd.DataFrame, pd.DataFrame]) -> pd.Series:
    """Daily-rebalanced equal-weight portfolio of the 20 stocks."""
    prices, _ = sp500
    return prices.pct_change().iloc[1:].mean(axis=1)


@pytest.fixture(scope="module")
def benchmark(sp500: tuple[pd.DataFrame, pd.DataFrame]) -> pd.Series:
    _, index = sp500
    return index.iloc[:, 0].pct_change().iloc[1:]


def quietly(function: Callable[..., float], *args: object, **kwargs: object) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(function(*args, **kwargs))


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


def test_beta_and_alpha_match_empyrical(portfolio: pd.Series, benchmark: pd.Series) -> None:
    assert metrics.beta(portfolio, benchmark) == pytest.approx(
        quietly(empyrical.beta, portfolio, benchmark), rel=RTOL
    )
    assert metrics.alpha(portfolio, benchmark, risk_free_rate=RF) == pytest.approx(
        quietly(empyrical.alpha, portfolio, benchmark, risk_free=RF_DAILY), rel=RTOL
    )


def test_information_ratio_is_empyrical_excess_sharpe_annualised(
    portfolio: pd.Series, benchmark: pd.Series
) -> None:
    # By design: empyrical's excess_sharpe is per day; ours is annualised like Sharpe.
    expected = quietly(empyrical.excess_sharpe, portfolio, benchmark) * math.sqrt(252)
    assert metrics.information_ratio(portfolio, benchmark) == pytest.approx(expected, rel=RTOL)


# --- definitions empyrical does not have: by hand or by another library ----------------


def test_tracking_error_by_hand(portfolio: pd.Series, benchmark: pd.Series) -> None:
    active = (portfolio - benchmark).to_numpy()
    expected = math.sqrt(((active - active.mean()) ** 2).sum() / (len(active) - 1) * 252)
    assert metrics.tracking_error(portfolio, benchmark) == pytest.approx(expected, rel=RTOL)


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


# --- undefined values are NaN, never an exception ----------------------------------------


def test_empty_series_gives_nan_everywhere() -> None:
    empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([]))
    values = metrics.compute_metrics(empty, empty, turnover=empty)
    assert all(math.isnan(v) for v in values.values()), values


def test_constant_series_gives_nan_ratios() -> None:
    flat = pd.Series(0.001, index=pd.bdate_range("2020-01-01", periods=50))
    values = metrics.compute_metrics(flat, flat)
    for name in ("Sharpe", "Sortino", "Calmar", "Skew", "Kurtosis", "Beta", "Alpha"):
        assert math.isnan(values[name]), name
    assert math.isnan(values["Information Ratio"])
    assert values["Annual Volatility"] == pytest.approx(0.0, abs=1e-15)
    assert values["Max Drawdown"] == 0.0


def test_without_benchmark_or_turnover_those_metrics_are_nan(stock: pd.Series) -> None:
    values = metrics.compute_metrics(stock)
    for name in ("Beta", "Alpha", "Tracking Error", "Information Ratio", "Turnover"):
        assert math.isnan(values[name]), name
    assert not math.isnan(values["Sharpe"])


def test_plain_arrays_work_but_have_no_months(stock: pd.Series) -> None:
    array = stock.to_numpy()
    assert metrics.metric("Sharpe", array) == metrics.metric("Sharpe", stock)
    assert metrics.metric("Max Drawdown", array) == metrics.metric("Max Drawdown", stock)
    assert math.isnan(metrics.metric("Best Month", array))


def test_missing_days_are_dropped(stock: pd.Series, benchmark: pd.Series) -> None:
    holed = stock.copy()
    holed.iloc[[5, 500, 5000]] = np.nan
    kept = holed.dropna()
    assert metrics.sharpe_ratio(holed) == metrics.sharpe_ratio(kept)
    assert metrics.best_month(holed) == metrics.best_month(kept)
    # Benchmark-relative metrics align on dates and drop days missing from either.
    assert metrics.beta(holed, benchmark.iloc[:-10]) == pytest.approx(
        metrics.beta(kept.iloc[:-10], benchmark.drop(holed.index[[5, 500, 5000]]).iloc[:-10]),
        rel=1e-12,
    )


# --- by display name ---------------------------------------------------------------------


def test_metric_by_name_equals_compute_metrics(portfolio: pd.Series, benchmark: pd.Series) -> None:
    turnover = pd.Series(0.01, index=portfolio.index)
    everything = metrics.compute_metrics(
        portfolio, benchmark, turnover=turnover, risk_free_rate=RF
    )
    assert tuple(everything) == metrics.METRIC_NAMES == tuple(metrics.HIGHER_IS_BETTER)
    for name in metrics.METRIC_NAMES:
        one = metrics.metric(name, portfolio, benchmark, turnover=turnover, risk_free_rate=RF)
        assert type(one) is float, name
        assert one == everything[name] or (math.isnan(one) and math.isnan(everything[name]))


def test_unknown_metric_name_suggests_the_near_miss(stock: pd.Series) -> None:
    with pytest.raises(ScenarioError, match="did you mean 'Sharpe'"):
        metrics.metric("sharpe", stock)
