"""A portfolio that loses everything stops there; a value that overflows is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_simulate_reference import assert_same_result

from portfolio_backtester.errors import DataError
from portfolio_backtester.simulation import simulate
from reference_simulator import reference_simulate

DAYS = pd.bdate_range("2020-01-01", periods=6)


def test_a_levered_book_that_loses_more_than_it_has_is_ruined_that_day() -> None:
    prices = pd.DataFrame({"A": [100.0, 100.0, 60.0, 90.0, 120.0, 150.0]}, index=DAYS)
    targets = pd.DataFrame({"A": [3.0]}, index=DAYS[:1])  # 3x: a 40 % fall loses 120 %
    result = simulate(prices, targets)
    assert result.ruined_on == DAYS[2]
    np.testing.assert_array_equal(result.returns.to_numpy(), [0.0, 0.0, -1.0, 0.0, 0.0, 0.0])
    assert (result.weights.loc[DAYS[2] :] == 0.0).all().all()
    assert_same_result(result, reference_simulate(prices, targets))


def test_a_book_that_survives_has_no_ruin_day() -> None:
    prices = pd.DataFrame({"A": [100.0, 100.0, 80.0, 90.0, 120.0, 150.0]}, index=DAYS)
    result = simulate(prices, pd.DataFrame({"A": [3.0]}, index=DAYS[:1]))
    assert result.ruined_on is None
    assert result.returns.iloc[2] == pytest.approx(-0.6)


def test_a_value_that_overflows_is_refused_with_its_day() -> None:
    prices = pd.DataFrame({"A": [1.0, 1e150, 1e305, 1e305, 1e305, 1e305]}, index=DAYS)
    with pytest.raises(DataError, match="not a finite number on 2020-01-03"):
        simulate(prices, pd.DataFrame({"A": [1.0]}, index=DAYS[:1]))
