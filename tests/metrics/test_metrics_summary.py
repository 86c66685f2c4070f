"""The metrics computed together give exactly what each metric gives alone."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from portfolio_backtester import metrics
from portfolio_backtester.metrics._registry import SUMMARISED
from portfolio_backtester.metrics._returns import _monthly_returns
from portfolio_backtester.metrics._summary import summary_metrics

DAILY = st.floats(min_value=-0.99, max_value=1.5, allow_nan=False, width=64)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@given(
    values=st.lists(st.one_of(DAILY, st.just(0.0), st.just(math.nan)), max_size=60),
    risk_free_rate=st.sampled_from([0.0, 0.02, -0.01]),
)
def test_every_summary_metric_equals_the_metric_alone(
    values: list[float], risk_free_rate: float
) -> None:
    returns = pd.Series(values, index=pd.bdate_range("2021-12-20", periods=len(values)))
    together = metrics.compute_metrics(returns, risk_free_rate=risk_free_rate)
    for name in SUMMARISED:
        alone = metrics.metric(name, returns, risk_free_rate=risk_free_rate)
        assert _same(alone, together[name]), (name, alone, together[name])


def test_the_summary_computes_exactly_the_returns_metrics() -> None:
    assert set(summary_metrics(np.array([0.01, -0.02, 0.005]), 0.0)) == SUMMARISED
    assert summary_metrics(np.zeros(0), 0.0) == {}
    assert SUMMARISED <= set(metrics.METRIC_NAMES)
    assert not SUMMARISED & {"Turnover", "Best Month", "Worst Month", "Beta", "Alpha"}
    assert len(SUMMARISED) == 16


def test_constant_and_short_series_agree_with_the_single_metrics() -> None:
    for values in ([0.001] * 30, [0.01], [0.01, -0.02], [0.01, -0.02, 0.03], [-1.0, 0.5]):
        returns = pd.Series(values, index=pd.bdate_range("2020-01-01", periods=len(values)))
        together = metrics.compute_metrics(returns)
        for name in SUMMARISED:
            assert _same(metrics.metric(name, returns), together[name]), (values, name)


def test_deviations_too_small_to_raise_to_a_power_leave_skew_and_kurtosis_undefined() -> None:
    tiny = pd.Series([8.6e-96, 0.0, 0.0, 0.0], index=pd.bdate_range("2020-01-01", periods=4))
    together = metrics.compute_metrics(tiny)
    for name in ("Skew", "Kurtosis"):
        assert math.isnan(metrics.metric(name, tiny)) and math.isnan(together[name])


@given(
    gaps=st.lists(st.integers(min_value=1, max_value=70), min_size=1, max_size=40),
    start=st.dates(min_value=date(1960, 1, 1), max_value=date(2200, 1, 1)),
)
def test_months_are_the_calendar_months_of_the_dates(gaps: list[int], start: object) -> None:
    """Dates far apart (months without a date), before 1970 and across year ends."""
    index = pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(np.cumsum(gaps), "D"))
    returns = pd.Series(np.linspace(-0.02, 0.03, len(index)), index=index)
    by_pandas = (1.0 + returns).groupby(index.to_period("M")).prod() - 1.0
    np.testing.assert_allclose(_monthly_returns(returns), by_pandas.to_numpy(), rtol=1e-12)


def test_a_day_without_a_date_belongs_to_no_month() -> None:
    index = pd.DatetimeIndex(["2020-01-30", "2020-01-31", pd.NaT, "2020-02-03"])
    returns = pd.Series([0.01, 0.02, 0.5, -0.01], index=index)
    np.testing.assert_allclose(_monthly_returns(returns), [1.01 * 1.02 - 1.0, -0.01])
