"""Stops: stop-loss, take-profit and trailing stop per position.

Hand-built cases with the values worked out, the no-look-ahead property under every kind
of stop, and refusals. The engine is checked against the reference simulator, which
applies the same rules one day at a time, in ``test_simulate_reference.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simulation_cases import Case, stop_cases

from portfolio_backtester.errors import DataError, ScenarioError
from portfolio_backtester.simulation import simulate
from portfolio_backtester.simulation._stops import average_true_range

DAYS = pd.bdate_range("2022-01-03", periods=6, name="date")


def _one_asset(closes: list[float], weights: list[float] | None = None) -> Any:
    prices = pd.DataFrame({"A": closes, "B": [100.0] * len(closes)}, index=DAYS[: len(closes)])
    rows = weights if weights is not None else [1.0] * len(closes)
    targets = pd.DataFrame({"A": rows, "B": [0.0] * len(rows)}, index=prices.index[: len(rows)])
    return prices, targets


def test_a_stop_loss_sells_at_the_close_of_the_day_it_is_hit() -> None:
    prices, targets = _one_asset([100.0, 95.0, 89.0, 92.0, 99.0, 101.0], [1.0])
    result = simulate(prices, targets, stop_loss=0.1)
    # 89 is 11 % below the entry at 100: out at that close, in cash (89 % of capital) after.
    np.testing.assert_allclose(result.weights["A"], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(result.returns.iloc[:3], [0.0, -0.05, 89 / 95 - 1])
    np.testing.assert_allclose(result.returns.iloc[3:], 0.0)
    assert result.trades.tolist() == [1, 0, 1, 0, 0, 0]
    assert result.stop_exits is not None
    assert result.stop_exits.to_dict("records") == [
        {"date": DAYS[2], "asset": "A", "rule": "stop_loss"}
    ]


def test_with_next_open_the_exit_trades_at_the_next_open() -> None:
    prices, targets = _one_asset([100.0, 95.0, 85.0, 92.0, 99.0, 101.0], [1.0])
    opens = prices * 1.01
    result = simulate(prices, targets, stop_loss=0.1, execution="next_open", open_prices=opens)
    # Bought at day 1's open (95.95); day 2's close 85 is 11.4 % below: sold at day 3's
    # open, 92 * 1.01 = 92.92, which earns day 3's open over day 2's close.
    assert result.stop_exits is not None
    assert result.stop_exits["date"].tolist() == [DAYS[3]]
    np.testing.assert_allclose(result.weights["A"], [0.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(result.returns.iloc[3], 92.92 / 85.0 - 1)


def test_an_asset_stays_out_until_its_target_changes() -> None:
    prices, targets = _one_asset([100.0, 89.0, 95.0, 97.0, 99.0, 101.0])
    targets["A"] = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]  # daily rebalances, one change on day 3
    result = simulate(prices, targets, stop_loss=0.1)
    np.testing.assert_allclose(result.weights["A"], [1.0, 0.0, 0.0, 0.5, 0.5, 0.5])
    assert result.trades.tolist() == [1, 1, 0, 1, 1, 1]
    # The new position's entry is day 3's close: no stop of 10 % below 97 is hit after.
    assert result.stop_exits is not None
    assert len(result.stop_exits) == 1


def test_a_take_profit_and_a_trailing_stop() -> None:
    prices, targets = _one_asset([100.0, 104.0, 112.0, 120.0, 108.0, 101.0], [1.0])
    take = simulate(prices, targets, take_profit=0.1)
    assert take.stop_exits is not None
    assert take.stop_exits.to_dict("records") == [
        {"date": DAYS[2], "asset": "A", "rule": "take_profit"}
    ]
    # The best close is 120 on day 3: 108 is exactly 10 % below it and hits the stop.
    trail = simulate(prices, targets, trailing_stop=0.1)
    assert trail.stop_exits is not None
    assert trail.stop_exits["date"].tolist() == [DAYS[4]]
    assert trail.stop_exits["rule"].tolist() == ["trailing_stop"]
    np.testing.assert_allclose((1 + trail.returns).prod(), 1.08)


def test_a_short_position_stops_on_a_rise() -> None:
    prices, targets = _one_asset([100.0, 104.0, 106.0, 90.0, 80.0, 95.0], [-1.0])
    loss = simulate(prices, targets, stop_loss=0.05)
    assert loss.stop_exits is not None
    assert loss.stop_exits["date"].tolist() == [DAYS[2]]  # 106 >= 105
    profit = simulate(prices, targets, take_profit=0.15)
    assert profit.stop_exits is not None
    assert profit.stop_exits["date"].tolist() == [DAYS[4]]  # 80 <= 85
    trail = simulate(prices, targets, trailing_stop=0.15)  # lowest 80: out at 95 >= 92
    assert trail.stop_exits is not None
    assert trail.stop_exits["date"].tolist() == [DAYS[5]]


def test_highs_and_lows_trigger_and_the_fill_is_the_execution_price() -> None:
    prices, targets = _one_asset([100.0, 99.0, 98.0, 97.0, 99.0, 101.0], [1.0])
    low = prices - 1.0
    low.loc[DAYS[2], "A"] = 89.0  # an intraday dip through the 10 % stop
    high = prices + 1.0
    closes_only = simulate(prices, targets, stop_loss=0.1)
    assert closes_only.stop_exits is not None and closes_only.stop_exits.empty
    ranged = simulate(prices, targets, stop_loss=0.1, high=high, low=low)
    assert ranged.stop_exits is not None
    assert ranged.stop_exits["date"].tolist() == [DAYS[2]]
    # Sold at that day's close, 98, not at the stop's level.
    np.testing.assert_allclose((1 + ranged.returns).prod(), 0.98)


def test_atr_stops_measure_distance_in_average_true_ranges() -> None:
    prices, targets = _one_asset([100.0, 101.0, 99.0, 97.0, 94.0, 93.0])
    targets = targets.iloc[[2]]  # bought at day 2's close, 99
    high, low = prices + 1.0, prices - 1.0
    # True ranges of A: 2 on day 0, then max(high, previous close) - min(low, previous close).
    atr = average_true_range(high.to_numpy().T, low.to_numpy().T, prices.to_numpy().T, 3)
    # Day 1: 102 - 100; day 2: the previous close 101 - the low 98.
    np.testing.assert_allclose(atr[0, :3], [2.0, 2.0, (2.0 + 2.0 + 3.0) / 3])
    kwargs: dict[str, Any] = {"stop_unit": "atr", "atr_window": 3, "high": high, "low": low}
    # Entry 99 with an ATR of 7/3: 1.5 ATR is 3.5 below, 95.5; day 3's low is 96, day 4's 93.
    result = simulate(prices, targets, stop_loss=1.5, **kwargs)
    assert result.stop_exits is not None
    assert result.stop_exits["date"].tolist() == [DAYS[4]]
    wider = simulate(prices, targets, stop_loss=3.5, **kwargs)  # 90.83: never reached
    assert wider.stop_exits is not None and wider.stop_exits.empty


def test_stops_off_change_nothing() -> None:
    prices, targets = _one_asset([100.0, 89.0, 95.0, 97.0, 99.0, 101.0])
    plain = simulate(prices, targets, cost_bps=10.0)
    assert plain.stop_exits is None
    never = simulate(prices, targets, cost_bps=10.0, stop_loss=0.99 - 1e-9)
    pd.testing.assert_series_equal(never.returns, plain.returns, rtol=0, atol=1e-15)
    pd.testing.assert_frame_equal(never.weights, plain.weights, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stop_loss": 0.0}, "stop_loss must be a positive distance"),
        ({"stop_loss": 1.5}, "fraction of the price below 1"),
        ({"trailing_stop": -0.1}, "trailing_stop must be a positive"),
        ({"stop_loss": 0.1, "stop_unit": "percent"}, "stop_unit must be one of fraction, atr"),
        ({"stop_loss": 2.0, "stop_unit": "atr"}, "need high and low prices"),
        ({"stop_loss": 2.0, "stop_unit": "atr", "atr_window": 0}, "atr_window"),
    ],
)
def test_bad_stop_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    prices, targets = _one_asset([100.0, 101.0, 99.0])
    with pytest.raises(ScenarioError, match=message):
        simulate(prices, targets, **kwargs)


def test_a_low_above_the_high_is_refused() -> None:
    prices, targets = _one_asset([100.0, 101.0, 99.0])
    with pytest.raises(DataError, match="low is above high for 'A'"):
        simulate(prices, targets, stop_loss=0.1, high=prices - 1, low=prices + 1)


@settings(max_examples=150, deadline=None)
@given(stop_cases(), st.data())
def test_prices_after_a_day_never_change_results_or_stops_up_to_that_day(
    case: Case, data: st.DataObject
) -> None:
    """A stop decided with data up to t never reads t+1: closes, opens, highs and lows
    after t moved leave every output and every exit up to t unchanged."""
    n_days = len(case.closes)
    day = data.draw(st.integers(0, n_days - 1), label="day")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    shock = np.exp(rng.normal(0.0, 0.2, case.closes.shape))
    shock[: day + 1] = 1.0
    high = None if case.high is None else case.high * shock
    low = None if case.low is None else case.low * shock
    altered = Case(
        case.closes * shock,
        case.opens * shock,
        case.targets,
        case.settings,
        None if case.volume is None else case.volume * shock,
        high,
        low,
    )
    before = simulate(case.closes, case.targets, **case.kwargs())
    after = simulate(altered.closes, altered.targets, **altered.kwargs())

    up_to = before.returns.index <= case.closes.index[day]
    close = {"rtol": 1e-13, "atol": 1e-15}
    np.testing.assert_allclose(after.returns[up_to], before.returns[up_to], **close)
    np.testing.assert_allclose(after.weights[up_to], before.weights[up_to], **close)
    np.testing.assert_array_equal(after.trades[up_to], before.trades[up_to])
    assert before.stop_exits is not None and after.stop_exits is not None
    cut = case.closes.index[day]
    pd.testing.assert_frame_equal(
        after.stop_exits[after.stop_exits["date"] <= cut].reset_index(drop=True),
        before.stop_exits[before.stop_exits["date"] <= cut].reset_index(drop=True),
    )


def test_a_stop_on_a_rebalance_that_takes_the_asset_back_sets_new_levels() -> None:
    """Day 2's close (89) hits the 10 % stop and day 2 is a rebalance to a new target for
    A: the stop's exit and the re-entry net out into one order, and the new position's
    stop is 10 % below 89, which 89.5 does not reach."""
    index = DAYS[:5]
    prices = pd.DataFrame({"A": [100.0, 95.0, 89.0, 89.5, 95.0], "B": [100.0] * 5}, index=index)
    targets = pd.DataFrame({"A": [1.0, 0.5], "B": [0.0, 0.0]}, index=index[[0, 2]])
    result = simulate(prices, targets, stop_loss=0.1)
    assert result.stop_exits is not None
    assert result.stop_exits["date"].tolist() == [index[2]]
    assert (result.weights["A"].iloc[2:] > 0).all()
    np.testing.assert_allclose(result.weights["A"].iloc[2], 0.5)


def test_a_missing_price_or_a_leverage_cap_does_not_bring_a_stopped_asset_back() -> None:
    """Only the strategy's own target decides the return: a day the asset cannot trade
    (its cleaned weight is 0) or a cap that rescales every weight is no change of mind."""
    prices = pd.DataFrame({"A": [100.0, 89.0, 90.0, np.nan, 91.0, 92.0], "B": [100.0] * 6})
    prices.index = DAYS
    targets = pd.DataFrame({"A": [0.5] * 6, "B": [0.5] * 6}, index=DAYS)
    gap = simulate(prices, targets, stop_loss=0.1)
    np.testing.assert_allclose(gap.weights["A"], [0.5, 0.0, 0.0, 0.0, 0.0, 0.0])
    capped_prices = prices.fillna(90.5)
    capped_targets = pd.DataFrame({"A": [1.0] * 6, "B": [1.0] * 3 + [0.5] * 3}, index=DAYS)
    capped = simulate(capped_prices, capped_targets, stop_loss=0.1, max_gross_leverage=1.0)
    np.testing.assert_allclose(capped.weights["A"], [0.5, 0.0, 0.0, 0.0, 0.0, 0.0])
    # The cap scales what was asked (1 and 0.5 to 2/3 and 1/3); A's share stays in cash.
    np.testing.assert_allclose(capped.weights["B"].iloc[3:], 1 / 3)


def test_a_ruined_portfolio_sets_no_stop_after_its_ruin() -> None:
    """After the value reaches zero nothing is held: a position the targets would open
    later, where no ATR could be measured, is not refused."""
    index = DAYS[:4]
    prices = pd.DataFrame({"A": [100.0, 40.0, 40.0, 40.0], "B": [100.0] * 4}, index=index)
    high, low = prices + 1.0, prices - 1.0
    high["B"] = low["B"] = np.nan
    targets = pd.DataFrame({"A": [2.0, 0.0], "B": [0.0, 1.0]}, index=index[[0, 2]])
    kwargs: dict[str, Any] = {"stop_unit": "atr", "atr_window": 3, "high": high, "low": low}
    result = simulate(prices, targets, stop_loss=2.0, **kwargs)
    assert result.ruined_on == index[1]
    np.testing.assert_allclose(result.returns, [0.0, -1.0, 0.0, 0.0])
    # Without the ruin the same position is refused, with the day and the fix.
    with pytest.raises(DataError, match="ATR stop of the position in 'B' opened on 2022-01-05"):
        simulate(prices.assign(A=100.0), targets, stop_loss=2.0, **kwargs)
