"""Metrics by display name: one table, every name computed, NaN where undefined."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from empyrical_reference import RF

from portfolio_backtester import metrics
from portfolio_backtester.errors import ScenarioError


def test_every_metric_name_has_a_direction_and_is_computed(
    portfolio: pd.Series, benchmark: pd.Series
) -> None:
    assert len(set(metrics.METRIC_NAMES)) == len(metrics.METRIC_NAMES)
    assert tuple(metrics.HIGHER_IS_BETTER) == metrics.METRIC_NAMES
    assert all(type(value) is bool for value in metrics.HIGHER_IS_BETTER.values())
    turnover = pd.Series(0.01, index=portfolio.index)
    everything = metrics.compute_metrics(
        portfolio, benchmark, turnover=turnover, risk_free_rate=RF
    )
    assert tuple(everything) == metrics.METRIC_NAMES
    # Given every input, on real data, no metric is undefined.
    undefined = [name for name, value in everything.items() if math.isnan(value)]
    assert undefined == []


def test_metric_names_keep_their_order() -> None:
    # Tables, CSV columns and scenario files depend on these names and this order.
    assert metrics.METRIC_NAMES == (
        "Total Return",
        "CAGR",
        "Annual Volatility",
        "Sharpe",
        "Sortino",
        "Calmar",
        "Max Drawdown",
        "Max Drawdown Duration",
        "Average Drawdown",
        "Turnover",
        "Hit Rate",
        "Best Day",
        "Worst Day",
        "Best Month",
        "Worst Month",
        "Skew",
        "Kurtosis",
        "VaR 95%",
        "CVaR 95%",
        "Beta",
        "Alpha",
        "Tracking Error",
        "Information Ratio",
        "Up Capture",
        "Down Capture",
    )


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


def test_compute_metrics_prepares_its_inputs_as_each_metric_would_alone(
    portfolio: pd.Series, benchmark: pd.Series
) -> None:
    """Missing days and a benchmark on other dates: the prepared (cleaned, aligned, monthly)
    inputs give exactly what each metric computes on the raw series."""
    holey = portfolio.copy()
    holey.iloc[[3, 50, 51, 400]] = float("nan")
    other_dates = benchmark.iloc[10:-5].copy()
    other_dates.iloc[[7, 100]] = float("nan")
    everything = metrics.compute_metrics(holey, other_dates, risk_free_rate=RF)
    for name in metrics.METRIC_NAMES:
        one = metrics.metric(name, holey, other_dates, risk_free_rate=RF)
        assert one == everything[name] or (math.isnan(one) and math.isnan(everything[name])), name
    assert not math.isnan(everything["Beta"]) and not math.isnan(everything["Worst Month"])


def test_unknown_metric_name_suggests_the_near_miss(stock: pd.Series) -> None:
    with pytest.raises(ScenarioError, match="did you mean 'Sharpe'"):
        metrics.metric("sharpe", stock)
