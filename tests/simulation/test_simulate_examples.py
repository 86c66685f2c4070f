"""Small hand-computed simulations, the embedded data, and the input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.errors import DataError, ScenarioError
from portfolio_backtester.simulation import simulate

DAYS = pd.bdate_range("2024-01-01", periods=4, name="date")


def frame(**columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=DAYS)


def targets(rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(
        {DAYS[day]: row for day, row in rows.items()}, orient="index"
    ).fillna(0.0)


def test_two_assets_four_days_with_costs_by_hand() -> None:
    closes = frame(A=[10.0, 11.0, 12.1, 11.0], B=[20.0, 20.0, 22.0, 22.0])
    wanted = targets({0: {"A": 0.5, "B": 0.5}, 2: {"A": 0.5, "B": 0.5}})
    result = simulate(closes, wanted, cost_bps=10.0, initial_capital=1000.0)

    # Day 0: buy 500 of each, pay 1.0; 50 A, 25 B, cash -1.
    # Day 1: 550 + 500 - 1. Day 2 before trading: 605 + 550 - 1 = 1154; to 577 each: sell
    # 28 of A, buy 27 of B, pay 0.055. Day 3: A at 11 is 577 * 11 / 12.1, cash -0.055.
    values = [999.0, 1049.0, 1154.0 - 0.055, 577.0 * 11.0 / 12.1 + 577.0 - 0.055]
    expected_returns = np.array(values) / np.array([1000.0, *values[:-1]]) - 1.0
    np.testing.assert_allclose(result.returns, expected_returns, rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.turnover, [1.0, 0.0, 55.0 / 1154.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(result.costs, [0.001, 0.0, 0.055 / 1154.0, 0.0], atol=1e-15)
    assert result.trades.tolist() == [2, 0, 2, 0]
    np.testing.assert_allclose(
        result.weights.to_numpy(),
        [
            [500.0 / 999.0, 500.0 / 999.0],
            [550.0 / 1049.0, 500.0 / 1049.0],
            [577.0 / values[2], 577.0 / values[2]],
            [577.0 * 11.0 / 12.1 / values[3], 577.0 / values[3]],
        ],
        rtol=0,
        atol=1e-15,
    )


def test_next_open_trades_at_the_following_open_by_hand() -> None:
    closes = frame(A=[10.0, 11.0, 12.0, 12.0], B=[20.0, 20.0, 22.0, 22.0])
    opens = frame(A=[9.9, 10.5, 11.5, 12.0], B=[20.0, 21.0, 21.0, 22.0])
    wanted = targets({0: {"A": 1.0}, 2: {"B": 1.0}})
    result = simulate(
        closes, wanted, cost_bps=10.0, initial_capital=1000.0,
        execution="next_open", open_prices=opens,
    )  # fmt: skip

    # Day 1 open: buy 1000 of A at 10.5, pay 1. Day 3 open: A (at 12) is worth
    # 1000 * 12 / 10.5; sell it all and buy B for the pre-cost value.
    a_value = 1000.0 / 10.5
    day3_before = a_value * 12.0 - 1.0
    traded = a_value * 12.0 + day3_before
    values = [1000.0, a_value * 11.0 - 1.0, a_value * 12.0 - 1.0, day3_before - traded * 1e-3]
    expected_returns = np.array(values) / np.array([1000.0, *values[:-1]]) - 1.0
    np.testing.assert_allclose(result.returns, expected_returns, rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        result.turnover, [0.0, 1.0, 0.0, traded / day3_before], rtol=0, atol=1e-15
    )
    assert result.trades.tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(
        result.weights["A"], [0.0, 1.0 + 1 / values[1], 1.0 + 1 / values[2], 0.0]
    )


def test_a_target_decided_on_the_last_day_never_trades_at_next_open() -> None:
    closes = frame(A=[10.0, 11.0, 12.0, 13.0])
    result = simulate(closes, targets({3: {"A": 1.0}}), execution="next_open", open_prices=closes)
    assert result.returns.tolist() == [0.0]
    assert result.turnover.tolist() == [0.0]


def test_unlisted_asset_target_is_forced_to_zero_and_a_price_gap_earns_nothing() -> None:
    closes = frame(A=[10.0, 10.0, np.nan, 11.0], B=[np.nan, np.nan, 5.0, 6.0])
    wanted = targets({0: {"A": 0.5, "B": 0.5}})
    result = simulate(closes, wanted)
    # B is not listed on day 0: only A is bought, the other half stays in cash. A's
    # missing price on day 2 counts as unchanged; day 3 earns 10 -> 11 on half.
    np.testing.assert_allclose(result.returns, [0.0, 0.0, 0.0, 0.05], atol=1e-15)
    assert result.weights["B"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_rebalancing_on_a_missing_price_sells_at_the_last_price() -> None:
    closes = frame(A=[10.0, 12.0, np.nan, 15.0], B=[10.0, 10.0, 10.0, 10.0])
    wanted = targets({0: {"A": 1.0}, 2: {"A": 1.0, "B": 0.0}})
    result = simulate(closes, wanted)
    np.testing.assert_allclose(result.returns, [0.0, 0.2, 0.0, 0.0], atol=1e-15)
    assert result.weights["A"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert result.trades.tolist() == [1, 0, 1, 0]


def test_cash_earns_the_daily_rate_and_commission_is_per_traded_asset() -> None:
    closes = frame(A=[10.0, 10.0, 10.0, 10.0], B=[5.0, 5.0, 5.0, 5.0])
    wanted = targets({0: {"A": 0.5}})
    result = simulate(closes, wanted, commission=5.0, initial_capital=1000.0, cash_rate=0.0252)
    # 500 in A; cash 500 - 5 = 495 earns 0.0001 a day.
    values = [995.0, 500.0 + 495.0 * 1.0001, 500.0 + 495.0 * 1.0001**2, 500 + 495 * 1.0001**3]
    expected = np.array(values) / np.array([1000.0, *values[:-1]]) - 1.0
    np.testing.assert_allclose(result.returns, expected, rtol=0, atol=1e-15)
    assert result.costs.iloc[0] == pytest.approx(0.005, abs=1e-15)
    assert result.trades.tolist() == [1, 0, 0, 0]


def test_leverage_cap_scales_and_short_ban_clips() -> None:
    closes = frame(A=[10.0, 10.0, 10.0, 10.0], B=[5.0, 5.0, 5.0, 5.0])
    wanted = targets({0: {"A": 2.0, "B": -1.0}})
    capped = simulate(closes, wanted, max_gross_leverage=1.5)
    np.testing.assert_allclose(capped.weights.iloc[0], [1.0, -0.5], atol=1e-15)
    long_only = simulate(closes, wanted, max_gross_leverage=1.5, allow_short=False)
    np.testing.assert_allclose(long_only.weights.iloc[0], [1.5, 0.0], atol=1e-15)


def test_daily_rebalanced_portfolio_earns_the_weighted_asset_returns_on_real_data() -> None:
    prices, _ = load_sp500()
    prices = prices.iloc[-1500:]
    rng = np.random.default_rng(11)
    weights = pd.DataFrame(
        rng.dirichlet(np.ones(prices.shape[1]), len(prices)),
        index=prices.index,
        columns=prices.columns,
    )
    result = simulate(prices, weights)
    expected = (prices.pct_change() * weights.shift(1)).sum(axis=1).iloc[1:]
    np.testing.assert_allclose(result.returns.iloc[1:], expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(result.turnover.iloc[0], 1.0, atol=1e-15)


def test_no_rebalance_dates_give_empty_results() -> None:
    closes = frame(A=[10.0, 11.0, 12.0, 13.0])
    result = simulate(closes, pd.DataFrame(columns=["A"], index=DAYS[:0], dtype=float))
    assert result.returns.empty and result.weights.shape == (0, 1)


# --- input checks ----------------------------------------------------------------------

CLOSES = frame(AAPL=[10.0, 11.0, 12.0, 13.0], MSFT=[20.0, 21.0, 22.0, 23.0])


def test_unknown_rebalance_date_is_named() -> None:
    wanted = pd.DataFrame({"AAPL": [1.0]}, index=[pd.Timestamp("2024-01-06")])
    with pytest.raises(DataError, match="2024-01-06"):
        simulate(CLOSES, wanted)


def test_unknown_column_suggests_the_near_miss() -> None:
    wanted = pd.DataFrame({"AAPl": [1.0]}, index=DAYS[:1])
    with pytest.raises(DataError, match="did you mean 'AAPL'"):
        simulate(CLOSES, wanted)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_target_is_named(bad: float) -> None:
    wanted = pd.DataFrame({"AAPL": [0.5, 0.5], "MSFT": [0.5, bad]}, index=DAYS[:2])
    with pytest.raises(DataError, match=r"'MSFT' on 2024-01-02"):
        simulate(CLOSES, wanted)


def test_duplicated_rebalance_date_is_refused() -> None:
    wanted = pd.DataFrame({"AAPL": [1.0, 0.5]}, index=DAYS[[1, 1]])
    with pytest.raises(DataError, match="duplicated rebalance date"):
        simulate(CLOSES, wanted)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf])
def test_non_positive_price_is_named(bad: float) -> None:
    closes = CLOSES.copy()
    closes.iloc[2, 1] = bad
    with pytest.raises(DataError, match=r"'MSFT' on 2024-01-03"):
        simulate(closes, pd.DataFrame({"AAPL": [1.0]}, index=DAYS[:1]))


def test_next_open_needs_open_prices() -> None:
    with pytest.raises(ScenarioError, match="open_prices"):
        simulate(CLOSES, pd.DataFrame({"AAPL": [1.0]}, index=DAYS[:1]), execution="next_open")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"execution": "next-open"}, "did you mean 'next_open'"),
        ({"cost_bps": -1.0}, "cost_bps"),
        ({"commission": np.nan}, "commission"),
        ({"initial_capital": 0.0}, "initial_capital"),
        ({"max_gross_leverage": 0.0}, "max_gross_leverage"),
    ],
)
def test_invalid_settings_are_scenario_errors(setting: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        simulate(CLOSES, pd.DataFrame({"AAPL": [1.0]}, index=DAYS[:1]), **setting)  # type: ignore[arg-type]
