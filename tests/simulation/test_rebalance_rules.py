"""Rebalancing rules: target changes only, drift bands and minimum trades.

Hand-built cases with values worked out below, the engine against the reference
simulator under hypothesis, and the exact sense in which a wider band trades less.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from simulation_cases import Case, cases, ruled_cases
from test_simulate_reference import assert_same_result

import portfolio_backtester as pb
from portfolio_backtester.metrics.trades import count_trades, trade_list
from portfolio_backtester.simulation import simulate

DAYS = pd.bdate_range("2022-01-03", periods=3, name="date")


def _drifting() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A rises 20 % on day 1, B stays flat; 40 % of value in each, 20 % cash, every day.

    On day 1 the value is 0.4 * 1.2 + 0.4 + 0.2 = 1.08 (per unit of capital), so A has
    drifted to 0.48 / 1.08 = 0.444 (0.048 / 1.08 = 0.0444 above target) and B to
    0.4 / 1.08 = 0.370 (0.032 / 1.08 = 0.0296 below).
    """
    closes = pd.DataFrame({"A": [100.0, 120.0, 120.0], "B": [100.0, 100.0, 100.0]}, index=DAYS)
    targets = pd.DataFrame({"A": [0.4] * 3, "B": [0.4] * 3}, index=DAYS)
    return closes, targets


def _trades_only_a_on_day_1(result: Any) -> None:
    """A is traded back to 0.4 on day 1 (selling 0.048), B keeps its shares and drifts."""
    np.testing.assert_array_equal(result.trades.to_numpy(), [2, 1, 0])
    np.testing.assert_allclose(result.turnover.to_numpy(), [0.8, 0.048 / 1.08, 0.0], atol=1e-15)
    np.testing.assert_allclose(result.weights["A"].to_numpy(), [0.4, 0.4, 0.4], atol=1e-15)
    np.testing.assert_allclose(result.weights["B"].to_numpy(), [0.4, 0.4 / 1.08, 0.4 / 1.08])
    np.testing.assert_allclose(result.returns.to_numpy(), [0.0, 0.08, 0.0], atol=1e-15)


def test_schedule_trades_every_asset_back_to_target() -> None:
    closes, targets = _drifting()
    result = simulate(closes, targets)
    np.testing.assert_array_equal(result.trades.to_numpy(), [2, 2, 0])
    np.testing.assert_allclose(result.turnover.to_numpy(), [0.8, 0.08 / 1.08, 0.0], atol=1e-15)
    np.testing.assert_allclose(result.weights.to_numpy(), np.full((3, 2), 0.4), atol=1e-15)


def test_an_absolute_band_trades_only_the_asset_outside_it() -> None:
    closes, targets = _drifting()
    _trades_only_a_on_day_1(simulate(closes, targets, band=0.035))
    untouched = simulate(closes, targets, band=0.1)  # both inside 0.1: nothing after entry
    np.testing.assert_array_equal(untouched.trades.to_numpy(), [2, 0, 0])
    np.testing.assert_allclose(untouched.weights["A"].to_numpy(), [0.4, 0.48 / 1.08, 0.48 / 1.08])


def test_a_relative_band_scales_with_the_target() -> None:
    closes, targets = _drifting()
    # 10 % of a 0.4 target is 0.04: A's 0.0444 is outside it, B's 0.0296 inside.
    _trades_only_a_on_day_1(simulate(closes, targets, band=0.1, band_type="relative"))


def test_a_relative_band_always_sells_a_holding_whose_target_is_zero() -> None:
    closes, _ = _drifting()
    targets = pd.DataFrame({"A": [0.4, 0.0], "B": [0.4, 0.4]}, index=DAYS[:2])
    result = simulate(closes, targets, band=0.5, band_type="relative")
    assert result.weights["A"].iloc[1] == 0.0
    np.testing.assert_array_equal(result.trades.to_numpy(), [2, 1, 0])


def test_a_minimum_trade_skips_the_smaller_trade() -> None:
    closes, targets = _drifting()
    _trades_only_a_on_day_1(simulate(closes, targets, min_trade=0.04))
    # min_trade is inclusive: a trade of exactly the minimum is made.
    exact = simulate(closes, targets, min_trade=0.048 / 1.08 - 1e-15)
    np.testing.assert_array_equal(exact.trades.to_numpy(), [2, 1, 0])


def test_cash_takes_the_difference_and_costs_are_on_what_is_traded() -> None:
    closes, targets = _drifting()
    result = simulate(closes, targets, band=0.035, cost_bps=10.0, commission=100.0)
    # Before day 1's trade: day 0 paid 10 bps of 0.8 and two commissions; A rose 20 %.
    value_1 = 1_000_000.0 - 800.0 - 200.0 + 0.4 * 1_000_000.0 * 0.2
    traded = abs(0.4 * value_1 - 0.4 * 1_000_000.0 * 1.2)  # A only
    assert result.turnover.iloc[1] == pytest.approx(traded / value_1, rel=1e-12)
    assert result.costs.iloc[1] == pytest.approx((1e-3 * traded + 100.0) / value_1, rel=1e-12)
    b_shares = 0.4 * 1_000_000.0 / 100.0  # never traded again
    value_2 = value_1 - 1e-3 * traded - 100.0
    assert result.weights["B"].iloc[2] == pytest.approx(b_shares * 100.0 / value_2, rel=1e-12)


def test_target_change_holds_until_the_target_moves() -> None:
    closes, targets = _drifting()
    targets.iloc[2] = [0.5, 0.3]
    result = simulate(closes, targets, rebalance_when="target_change")
    np.testing.assert_array_equal(result.trades.to_numpy(), [2, 0, 2])
    np.testing.assert_allclose(result.weights.iloc[1].to_numpy(), [0.48 / 1.08, 0.4 / 1.08])
    # Day 2 trades from the drifted holdings: A 0.48 -> 0.54, B 0.4 -> 0.324 (of 1.08).
    np.testing.assert_allclose(result.turnover.iloc[2], (0.06 + 0.076) / 1.08, rtol=1e-12)
    np.testing.assert_allclose(result.weights.iloc[2].to_numpy(), [0.5, 0.3], atol=1e-15)


def test_a_short_signal_held_until_it_changes_is_one_order_not_one_a_day() -> None:
    index = pd.bdate_range("2022-01-03", periods=6)
    closes = pd.DataFrame({"A": [10.0, 11.0, 9.0, 10.0, 12.0, 11.0]}, index=index)
    signal = pd.DataFrame({"A": [-1.0, -1.0, -1.0, 0.0, 0.0, 1.0]}, index=index)
    daily = simulate(closes, signal, cost_bps=20.0)
    held = simulate(closes, signal, cost_bps=20.0, rebalance_when="target_change")
    assert daily.trades.tolist() == [1, 1, 1, 1, 0, 1]  # re-levelled to -100 % each day
    assert held.trades.tolist() == [1, 0, 0, 1, 0, 1]
    # The same as giving only the rows where the signal changes.
    changes = simulate(closes, signal.iloc[[0, 3, 5]], cost_bps=20.0)
    pd.testing.assert_series_equal(held.returns, changes.returns, rtol=0, atol=1e-15)
    pd.testing.assert_frame_equal(held.weights, changes.weights, rtol=0, atol=1e-15)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_a_band_of_zero_is_the_schedule_rule(case: Case) -> None:
    """The loop over executions agrees with the vectorised kernel when no rule binds."""
    fast = simulate(case.closes, case.targets, **case.kwargs())
    looped = simulate(case.closes, case.targets, **case.kwargs(), band=0.0)
    assert_same_result(looped, fast)


def _first_difference(narrow: Any, wide: Any) -> int:
    """The first day the two trade a different number of assets; -1 if none."""
    differs = np.flatnonzero(narrow.trades.to_numpy() != wide.trades.to_numpy())
    return int(differs[0]) if len(differs) else -1


@settings(max_examples=200, deadline=None)
@given(
    cases(),
    st.sampled_from(["band", "relative", "min_trade"]),
    st.sampled_from([0.0, 0.005, 0.02, 0.1]),
    st.sampled_from([0.001, 0.01, 0.05, 0.5]),
)
def test_a_wider_band_trades_a_subset_where_the_paths_first_part(
    case: Case, rule: str, narrow_size: float, widening: float
) -> None:
    """A wider band (or minimum trade) never trades more from the same holdings.

    Total turnover is not monotone in the band (the next test shows a path where the
    wider band trades more): once the two portfolios differ, the wider one may cross its
    band later and further. What holds exactly: up to the first day their trades differ
    both hold the same shares, and on that day the wider rule trades strictly fewer
    assets and strictly less value (a subset of the same trades).
    """
    base = {**case.kwargs(), "cost_bps": 0.0, "commission": 0.0}

    def with_size(size: float) -> Any:
        if rule == "min_trade":
            return simulate(case.closes, case.targets, **base, min_trade=size)
        band_type = "relative" if rule == "relative" else "absolute"
        return simulate(case.closes, case.targets, **base, band=size, band_type=band_type)

    narrow, wide = with_size(narrow_size), with_size(narrow_size + widening)
    assume(narrow.ruined_on is None and wide.ruined_on is None)
    day = _first_difference(narrow, wide)
    same = slice(None) if day < 0 else slice(0, day)
    # (Within rounding: a size of 0 runs the vectorised kernel, the others the loop.)
    close = {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(wide.turnover.iloc[same], narrow.turnover.iloc[same], **close)
    np.testing.assert_allclose(wide.weights.iloc[same], narrow.weights.iloc[same], **close)
    if day < 0:
        return
    assert wide.trades.iloc[day] < narrow.trades.iloc[day]
    assert wide.turnover.iloc[day] < narrow.turnover.iloc[day]


def test_a_wider_band_can_trade_more_over_a_whole_path() -> None:
    """50/50 in two assets, A rising: the 1 % band re-levels on day 1 and then stays
    inside it; the 3 % band waits and then trades the larger, accumulated drift."""
    index = pd.bdate_range("2022-01-03", periods=3)
    closes = pd.DataFrame({"A": [100.0, 110.5, 114.0], "B": [100.0] * 3}, index=index)
    targets = pd.DataFrame({"A": [0.5] * 3, "B": [0.5] * 3}, index=index)
    narrow = simulate(closes, targets, band=0.01)
    wide = simulate(closes, targets, band=0.03)
    assert narrow.trades.tolist() == [2, 2, 0]
    assert wide.trades.tolist() == [2, 0, 2]
    assert wide.turnover.iloc[1:].sum() > narrow.turnover.iloc[1:].sum()


@settings(max_examples=100, deadline=None)
@given(ruled_cases())
def test_the_trade_list_accounts_for_every_gain_and_cost_under_rules(case: Case) -> None:
    """Held-back trades leave shares fixed between reading days, as the trade list assumes."""
    result = simulate(case.closes, case.targets, **case.kwargs())
    assume(result.ruined_on is None and case.settings["cash_rate"] == 0.0)
    index = result.weights.index
    next_open = case.settings["execution"] == "next_open"
    trades = trade_list(
        result.weights,
        result.returns,
        case.closes.loc[index],
        opens=case.opens.loc[index] if next_open else None,
        turnover=result.turnover,
        costs=result.costs,
        commission=case.settings["commission"] / case.settings["initial_capital"],
    )
    equity = np.cumprod(1.0 + result.returns.to_numpy())
    gain = equity[-1] - 1.0
    assert trades["pnl"].sum() == pytest.approx(gain, rel=1e-8, abs=1e-10)
    assert count_trades(result.weights.to_numpy().T) == len(trades)


def test_a_scenario_rule_reaches_the_engine_and_trades_only_on_signal_changes() -> None:
    base: dict[str, Any] = {
        "data": {"universe": ["AAPL"], "start": "2014-01-02"},
        "strategy": {"name": "sma_crossover", "params": {"mode": "long_short"}},
        "costs": {"cost_bps": 20},
    }
    daily = pb.run_backtest({**base, "portfolio": {"allow_short": True}})
    rules = {"allow_short": True, "rebalance": {"when": "target_change"}}
    held = pb.run_backtest({**base, "portfolio": rules})
    changed = held.weights.diff().abs().gt(0).any(axis=1)
    changed.iloc[0] = True  # the entry
    assert int((held.turnover > 0).sum()) == int(changed.sum())
    assert int((daily.turnover > 0).sum()) > 100 * int(changed.sum())
    # The same positions are opened and closed: only the re-levelling orders are gone.
    assert held.metrics["Trades"] == daily.metrics["Trades"]
    assert held.costs.sum() < daily.costs.sum()
