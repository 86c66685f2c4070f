"""Benchmark-relative statistics against empyrical on the embedded data, and by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from empyrical_reference import RF, RF_DAILY, RTOL, empyrical, quietly

from portfolio_backtester import metrics


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


def test_tracking_error_by_hand(portfolio: pd.Series, benchmark: pd.Series) -> None:
    active = (portfolio - benchmark).to_numpy()
    expected = math.sqrt(((active - active.mean()) ** 2).sum() / (len(active) - 1) * 252)
    assert metrics.tracking_error(portfolio, benchmark) == pytest.approx(expected, rel=RTOL)


def test_missing_days_are_dropped_from_both_series_after_aligning_dates(
    stock: pd.Series, benchmark: pd.Series
) -> None:
    holed = stock.copy()
    holed.iloc[[5, 500, 5000]] = np.nan
    kept = holed.dropna()
    assert metrics.beta(holed, benchmark.iloc[:-10]) == pytest.approx(
        metrics.beta(kept.iloc[:-10], benchmark.drop(holed.index[[5, 500, 5000]]).iloc[:-10]),
        rel=1e-12,
    )
