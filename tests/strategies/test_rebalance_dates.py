"""Rebalance dates are dates of the schedule: the data's last row is one only when its
period ends with it, so data cut mid-period add no trade for holdings that never earn."""

from __future__ import annotations

import pandas as pd
import pytest

import portfolio_backtester as pb
from portfolio_backtester.strategies import rebalance_dates


@pytest.mark.parametrize(
    ("last_day", "frequency", "expected_last"),
    [
        ("2022-12-28", "monthly", "2022-11-30"),  # cut mid-month: December is not over
        ("2022-12-30", "monthly", "2022-12-30"),  # the month's last weekday
        ("2022-12-28", "weekly", "2022-12-23"),
        ("2022-12-30", "weekly", "2022-12-30"),
        ("2022-12-28", "yearly", "2021-12-31"),
        ("2022-12-28", "daily", "2022-12-28"),  # every day is a date of a daily schedule
    ],
)
def test_the_last_row_is_a_rebalance_date_only_on_the_schedule(
    last_day: str, frequency: str, expected_last: str
) -> None:
    index = pd.bdate_range("2021-01-04", last_day)
    assert rebalance_dates(index, frequency)[-1] == pd.Timestamp(expected_last)


def test_data_trading_every_day_end_their_period_on_its_last_calendar_day() -> None:
    index = pd.date_range("2022-11-01", "2022-12-30")  # Friday the 30th; the 31st is a day
    assert rebalance_dates(index, "monthly")[-1] == pd.Timestamp("2022-11-30")
    assert rebalance_dates(index.append(pd.DatetimeIndex(["2022-12-31"])), "monthly")[-1] == (
        pd.Timestamp("2022-12-31")
    )


def test_the_default_backtest_does_not_trade_on_the_last_day() -> None:
    """The built-in data end on Wednesday 2022-12-28: no month end, so no rebalance."""
    result = pb.run_backtest(None)
    assert result.returns.index[-1] == pd.Timestamp("2022-12-28")
    assert result.turnover.iloc[-1] == 0.0
    assert result.weights.index[-1] == pd.Timestamp("2022-11-30")
