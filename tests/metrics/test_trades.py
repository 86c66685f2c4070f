"""The trade list and its statistics: hand-built cases, a slow day-by-day twin, real runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings

import portfolio_backtester as pb
from portfolio_backtester.metrics.trades import (
    TRADE_COLUMNS,
    count_trades,
    trade_list,
    trade_statistics,
)
from portfolio_backtester.simulation import simulate
from portfolio_backtester.simulation._kernel import TRADE_EPSILON
from portfolio_backtester.simulation.engine import SimulationResult
from simulation.simulation_cases import Case, cases

DAYS = pd.bdate_range("2021-01-04", periods=7, name="date")


def _trades_of(
    closes: pd.DataFrame,
    targets: pd.DataFrame,
    opens: pd.DataFrame | None = None,
    **settings: Any,
) -> tuple[pd.DataFrame, SimulationResult]:
    """Simulate, then build the trade list from the engine's own outputs."""
    result = simulate(closes, targets, open_prices=opens, **settings)
    index = result.weights.index
    trades = trade_list(
        result.weights,
        result.returns,
        closes.loc[index],
        opens=None
        if opens is None or settings.get("execution") != "next_open"
        else opens.loc[index],
        turnover=result.turnover,
        costs=result.costs,
        commission=settings.get("commission", 0.0) / settings.get("initial_capital", 1.0),
    )
    return trades, result


def _two_assets() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A is bought, resized (not a new trade), flipped short (a new one) and closed;
    B is bought, resized and still held at the end. Day 0 holds nothing."""
    closes = pd.DataFrame(
        {"A": [10.0, 10, 11, 12, 11, 10, 12], "B": [20.0, 20, 20, 22, 22, 21, 20]}, index=DAYS
    )
    targets = pd.DataFrame(
        {"A": [0.0, 0.5, 0.25, -0.5, 0.0], "B": [0.0, 0.0, 0.5, 0.5, 0.5]},
        index=DAYS[[0, 1, 3, 4, 5]],
    )
    return closes, targets


def _hand_values() -> dict[str, float]:
    """The two-asset case by hand: share counts and portfolio values day by day."""
    a_long = 0.5 / 10  # day 1: half of 1.0 in A at 10
    v3 = a_long * 12 + 0.5  # day 3, before its trade: A at 12 and the cash
    a_resized = 0.25 * v3 / 12
    b_first = 0.5 * v3 / 22
    v4 = a_resized * 11 + b_first * 22 + (v3 - 0.25 * v3 - 0.5 * v3)
    a_short = -0.5 * v4 / 11
    b_second = 0.5 * v4 / 22
    cash4 = v4 - (-0.5 * v4 + 0.5 * v4)
    v5 = a_short * 10 + b_second * 21 + cash4
    b_third = 0.5 * v5 / 21
    v6 = b_third * 20 + (v5 - 0.5 * v5)
    return {
        "a_long_pnl": a_long * (12 - 10) + a_resized * (11 - 12),
        "a_long_stake": 0.5,
        "a_short_pnl": a_short * (10 - 11),
        "a_short_stake": 0.5 * v4,
        "b_pnl": b_first * (22 - 22) + b_second * (21 - 22) + b_third * (20 - 21),
        "b_stake": 0.5 * v3,
        "final_value": v6,
        "a_long": a_long,
        "b_third": b_third,
        "v2": a_long * 11 + 0.5,
    }


def test_a_resize_is_the_same_trade_and_a_flip_is_a_new_one() -> None:
    closes, targets = _two_assets()
    trades, result = _trades_of(closes, targets, allow_short=True)
    hand = _hand_values()
    assert list(trades.columns) == list(TRADE_COLUMNS)
    assert list(trades["asset"]) == ["A", "A", "B"]
    assert list(trades["direction"]) == ["long", "short", "long"]
    assert list(trades["entry_date"]) == [DAYS[1], DAYS[4], DAYS[3]]
    assert list(trades["exit_date"]) == [DAYS[4], DAYS[5], DAYS[6]]
    assert list(trades["entry_price"]) == [10.0, 11.0, 22.0]
    assert list(trades["exit_price"]) == [11.0, 10.0, 20.0]
    assert list(trades["open"]) == [False, False, True]
    assert list(trades["holding_days"]) == [3, 1, 4]
    pnl = [hand["a_long_pnl"], hand["a_short_pnl"], hand["b_pnl"]]
    np.testing.assert_allclose(trades["pnl"], pnl, rtol=1e-12)
    stakes = [hand["a_long_stake"], hand["a_short_stake"], hand["b_stake"]]
    np.testing.assert_allclose(trades["return"], np.array(pnl) / stakes, rtol=1e-12)
    # The short was never resized: its return is the price move in its direction.
    assert trades["return"].iloc[1] == pytest.approx(1 / 11, rel=1e-12)
    assert (trades["costs"] == 0.0).all()
    equity = (1.0 + result.returns).prod()
    assert equity == pytest.approx(hand["final_value"], rel=1e-12)
    assert trades["pnl"].sum() == pytest.approx(equity - 1.0, rel=1e-12)


def test_trade_statistics_of_the_hand_built_case() -> None:
    closes, targets = _two_assets()
    trades, result = _trades_of(closes, targets, allow_short=True)
    hand = _hand_values()
    stats = trade_statistics(trades, result.weights)
    wins = [hand["a_long_pnl"] / hand["a_long_stake"], hand["a_short_pnl"] / hand["a_short_stake"]]
    gross = [  # sum |weight| at each close
        0.0,
        0.5,
        hand["a_long"] * 11 / hand["v2"],
        0.25 + 0.5,
        0.5 + 0.5,  # short A and long B
        0.5,  # B only, once A's short is bought back
        hand["b_third"] * 20 / hand["final_value"],
    ]
    assert stats["Trades"] == 3
    assert stats["Win Rate"] == pytest.approx(2 / 3)
    assert stats["Average Win"] == pytest.approx(np.mean(wins), rel=1e-12)
    assert stats["Average Loss"] == pytest.approx(hand["b_pnl"] / hand["b_stake"], rel=1e-12)
    profit = (hand["a_long_pnl"] + hand["a_short_pnl"]) / -hand["b_pnl"]
    assert stats["Profit Factor"] == pytest.approx(profit, rel=1e-12)
    assert stats["Average Holding Days"] == pytest.approx((3 + 1 + 4) / 3)
    assert stats["Exposure"] == pytest.approx(6 / 7)
    assert stats["Average Gross Exposure"] == pytest.approx(np.mean(gross), rel=1e-12)


def test_costs_go_to_the_trade_they_open_resize_or_close() -> None:
    """10 bps: buying 1.0 costs 0.001, selling the 1.2 it grew to 0.0012."""
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0]}, index=DAYS[:3])
    targets = pd.DataFrame({"A": [1.0, 0.0]}, index=DAYS[[0, 2]])
    trades, result = _trades_of(closes, targets, cost_bps=10.0)
    (trade,) = trades.itertuples()
    assert trade.costs == pytest.approx(0.001 + 0.0012, rel=1e-12)
    assert trade.pnl == pytest.approx(0.1 * (12 - 10) - 0.0022, rel=1e-12)
    assert trade.pnl == pytest.approx((1.0 + result.returns).prod() - 1.0, rel=1e-12)


def test_a_flip_splits_its_cost_between_the_two_trades() -> None:
    """From long 1.0 to short 1.0 at 10 bps: selling the long's 1.0 costs 0.001 and goes
    to it, opening the short of 0.999 (1 less the first cost) 0.000999."""
    closes = pd.DataFrame({"A": [10.0, 10.0, 10.0]}, index=DAYS[:3])
    targets = pd.DataFrame({"A": [1.0, -1.0]}, index=DAYS[:2])
    trades, _ = _trades_of(closes, targets, cost_bps=10.0, allow_short=True)
    np.testing.assert_allclose(trades["costs"], [0.001 + 0.001, 0.000999], rtol=1e-12)
    assert list(trades["direction"]) == ["long", "short"]
    assert list(trades["open"]) == [False, True]


def test_at_the_next_open_a_trade_enters_and_exits_at_the_opens() -> None:
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0, 13.0]}, index=DAYS[:4])
    opens = pd.DataFrame({"A": [10.5, 10.8, 12.5, 12.8]}, index=DAYS[:4])
    targets = pd.DataFrame({"A": [1.0, 0.0]}, index=DAYS[[0, 2]])
    trades, result = _trades_of(closes, targets, opens, execution="next_open")
    (trade,) = trades.itertuples()
    assert (trade.entry_date, trade.exit_date) == (DAYS[1], DAYS[3])
    assert (trade.entry_price, trade.exit_price, trade.holding_days) == (10.8, 12.8, 2)
    assert trade.pnl == pytest.approx(12.8 / 10.8 - 1.0, rel=1e-12)
    assert trade.pnl == pytest.approx((1.0 + result.returns).prod() - 1.0, rel=1e-12)


def test_no_position_is_no_trade_and_undefined_statistics() -> None:
    closes = pd.DataFrame({"A": [10.0, 11.0]}, index=DAYS[:2])
    targets = pd.DataFrame({"A": [0.0]}, index=DAYS[:1])
    trades, result = _trades_of(closes, targets)
    assert trades.empty and list(trades.columns) == list(TRADE_COLUMNS)
    stats = trade_statistics(trades, result.weights)
    assert stats["Trades"] == 0 and stats["Exposure"] == 0.0
    assert all(math.isnan(stats[name]) for name in ("Win Rate", "Profit Factor"))


def test_count_trades_counts_openings_and_flips_not_resizes() -> None:
    weights = np.array([[0.5, 0.6, 0.4, -0.2, 0.0, 0.3], [0.0, 0.0, 0.1, 0.1, 0.1, 0.0]])
    assert count_trades(weights) == 4
    assert count_trades(np.zeros((2, 0))) == 0


def slow_trades(case: Case, result: Any) -> list[dict[str, Any]]:
    """The trade list day by day and asset by asset, with each asset's cost from the cost
    rate and the commission directly: the obviously correct twin of ``trade_list``."""
    index = result.weights.index
    next_open = case.settings["execution"] == "next_open"
    if next_open:  # open_0, close_0, open_1, ... carried forward, as the engine fills
        both = np.stack([case.opens.to_numpy(), case.closes.to_numpy()], axis=1)
        flat = pd.DataFrame(both.reshape(-1, case.closes.shape[1])).ffill().fillna(1.0)
        filled = flat.to_numpy().reshape(both.shape)
        opens = pd.DataFrame(filled[:, 0], index=case.closes.index).loc[index].to_numpy()
        closes = pd.DataFrame(filled[:, 1], index=case.closes.index).loc[index].to_numpy()
    else:
        closes = case.closes.ffill().fillna(1.0).loc[index].to_numpy()
        opens = closes
    weights = result.weights.to_numpy()
    value = np.cumprod(1.0 + result.returns.to_numpy())
    shares = weights * value[:, None] / closes
    cost_rate = case.settings["cost_bps"] / 1e4
    commission = case.settings["commission"] / case.settings["initial_capital"]
    n, m = weights.shape
    trades: list[dict[str, Any]] = []
    for asset in range(m):
        current: dict[str, Any] | None = None
        for day in range(n):
            before = shares[day - 1, asset] if day else 0.0
            now = shares[day, asset]
            if current is not None:
                current["pnl"] += before * (opens[day, asset] - closes[day - 1, asset])
            traded = abs(now - before) * opens[day, asset]
            cost = 0.0
            if result.costs.iloc[day] > 0:
                all_traded = np.abs(shares[day] - (shares[day - 1] if day else 0.0)) @ opens[day]
                pre_value = all_traded / result.turnover.iloc[day]
                cost = cost_rate * traded + commission * (traded > TRADE_EPSILON * pre_value)
            if np.sign(now) != np.sign(before):
                closing = abs(before) / (abs(before) + abs(now))
                if current is not None:
                    current.update(exit=day, exit_price=opens[day, asset], open=False)
                    current["costs"] += cost * closing
                    trades.append(current)
                    current = None
                if now != 0:
                    stake = abs(now) * opens[day, asset]
                    current = {"asset": asset, "entry": day, "entry_price": opens[day, asset]}
                    current.update(sign=np.sign(now), stake=stake, pnl=0.0, costs=0.0)
                    current["costs"] += cost * (1.0 - closing)
            elif current is not None:
                current["costs"] += cost
            if current is not None:
                current["pnl"] += now * (closes[day, asset] - opens[day, asset])
        if current is not None:
            current.update(exit=n, exit_price=closes[-1, asset], open=True)
            trades.append(current)
    return trades


@settings(max_examples=150, deadline=None)
@given(cases())
def test_the_trade_list_equals_its_day_by_day_twin(case: Case) -> None:
    trades, result = _trades_of(case.closes, case.targets, case.opens, **case.settings)
    assume(result.ruined_on is None)
    expected = slow_trades(case, result)
    assert len(trades) == len(expected)
    index = result.weights.index
    for row, twin in zip(trades.to_dict("records"), expected, strict=True):
        assert row["asset"] == case.closes.columns[twin["asset"]]
        assert row["direction"] == ("long" if twin["sign"] > 0 else "short")
        assert row["entry_date"] == index[twin["entry"]]
        assert row["exit_date"] == index[min(twin["exit"], len(index) - 1)]
        assert row["holding_days"] == twin["exit"] - twin["entry"]
        assert row["open"] == twin["open"]
        assert row["entry_price"] == pytest.approx(twin["entry_price"], rel=1e-12)
        assert row["exit_price"] == pytest.approx(twin["exit_price"], rel=1e-12)
        scale = max(1.0, twin["stake"])
        assert row["costs"] == pytest.approx(twin["costs"], rel=1e-8, abs=1e-12 * scale)
        net = twin["pnl"] - twin["costs"]
        assert row["pnl"] == pytest.approx(net, rel=1e-8, abs=1e-10 * scale)
    if case.settings["cash_rate"] == 0.0 and len(trades):
        gain = (1.0 + result.returns).prod() - 1.0
        assert trades["pnl"].sum() == pytest.approx(gain, rel=1e-8, abs=1e-10)


REAL_RUNS = [
    None,
    {"data": {"universe": ["AAPL"]}, "strategy": {"name": "sma_crossover"}},
    {
        "data": {"universe": ["AAPL", "KO", "MSFT"], "start": "2005-01-03"},
        "strategy": {"name": "sma_crossover", "params": {"mode": "long_short"}},
        "portfolio": {"allow_short": True},
        "costs": {"cost_bps": 10, "commission": 5},
    },
    {
        "data": {"start": "2010-01-04"},
        "strategy": {"name": "dummy_signal_strategy"},
        "costs": {"commission": 10},
    },
]


@pytest.mark.parametrize("scenario", REAL_RUNS, ids=["default", "sma", "long_short", "dummy"])
def test_every_held_day_of_a_real_backtest_is_in_exactly_one_trade(
    scenario: dict[str, Any] | None,
) -> None:
    result = pb.run_backtest(scenario)
    trades, holdings = result.trades, result.holdings
    position = {day: i for i, day in enumerate(holdings.index)}
    sign = np.sign(holdings.to_numpy())
    covered = np.zeros(sign.shape)
    for trade in trades.itertuples():
        asset = holdings.columns.get_loc(trade.asset)
        entry = position[trade.entry_date]
        days = slice(entry, entry + trade.holding_days)
        covered[days, asset] += 1
        direction = 1.0 if trade.direction == "long" else -1.0
        assert (sign[days, asset] == direction).all()
        assert entry == 0 or sign[entry - 1, asset] != direction  # it opens on a change
        if trade.open:
            assert entry + trade.holding_days == len(holdings)
        else:
            assert position[trade.exit_date] == entry + trade.holding_days
            assert sign[entry + trade.holding_days, asset] != direction
    np.testing.assert_array_equal(covered, sign != 0)
    assert trades["pnl"].sum() == pytest.approx(result.equity.iloc[-1] - 1.0, rel=1e-9)
    assert result.metrics["Trades"] == len(trades)
