"""Cost models: per-share commissions, half spreads, square-root impact, borrow, financing.

Hand-built cases with the values worked out in their docstrings, the split of ``costs``
by kind, costs monotone in each rate, bad values refused with their key, and the scenario's
``costs`` section reaching the engine. (The engine against the reference simulator under
these models is in test_simulate_reference.py; no look-ahead in test_simulate_properties.)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from simulation_cases import Case, cost_model_cases

import portfolio_backtester as pb
from portfolio_backtester.config import load_scenario
from portfolio_backtester.errors import DataError, ScenarioError
from portfolio_backtester.simulation import simulate
from portfolio_backtester.simulation.engine import COST_KINDS

DAYS = pd.bdate_range("2022-01-03", periods=6, name="date")


def _frame(**columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=DAYS[: len(next(iter(columns.values())))])


def test_the_per_share_minimum_applies_to_each_order() -> None:
    """$0.005 a share, at least $1, at most 1 % of the order's value, on $10,000.

    Day 0 buys 100 shares of A at 50 ($5,000): 0.005 * 100 = $0.50, raised to the $1
    minimum; cash is 10,000 - 5,000 - 1 = 4,999. Day 1: A is at 60, the value is
    100 * 60 + 4,999 = 10,999; selling the 100 shares costs $1 again.
    """
    closes = _frame(A=[50.0, 60.0])
    targets = _frame(A=[0.5, 0.0])
    result = simulate(
        closes,
        targets,
        initial_capital=10_000.0,
        per_share=0.005,
        per_share_min=1.0,
        per_share_max_fraction=0.01,
    )
    np.testing.assert_allclose(result.costs.to_numpy(), [1.0 / 10_000, 1.0 / 10_999], rtol=1e-14)
    np.testing.assert_allclose(result.cost_breakdown["per_share"], result.costs, rtol=0)
    np.testing.assert_allclose(
        result.returns.to_numpy(), [-1.0 / 10_000, 10_998.0 / 9_999.0 - 1.0], atol=1e-15
    )


def test_the_per_share_maximums_win_over_the_minimum() -> None:
    """Of $10,000: 100 shares of A at 50 and 100 of B at 0.25 ($25).

    At $0.005 a share B's order is $0.50, raised to the $1 minimum, then capped at 1 % of
    its $25 value: $0.25 (the broker's "100 shares at $0.25 pay $0.25"). A pays $1.
    At $1 a share, A's $100 is capped by a $20 maximum.
    """
    closes = _frame(A=[50.0], B=[0.25])
    targets = _frame(A=[0.5], B=[0.0025])
    ib = {"per_share": 0.005, "per_share_min": 1.0, "per_share_max_fraction": 0.01}
    result = simulate(closes, targets, initial_capital=10_000.0, **ib)
    assert result.costs.iloc[0] == pytest.approx(1.25 / 10_000, rel=1e-14)
    capped = simulate(
        closes[["A"]], targets[["A"]], initial_capital=10_000.0, per_share=1.0, per_share_max=20.0
    )
    assert capped.costs.iloc[0] == pytest.approx(20.0 / 10_000, rel=1e-14)


def test_half_the_spread_is_charged_on_traded_value() -> None:
    """$1,000,000 into 50 % A and 30 % B: $500,000 and $300,000 traded.

    At 5 bps for all: 5e-4 * 800,000 = $400. Per asset {A: 10}: 1e-3 * 500,000 = $500,
    and B, not named, pays none.
    """
    closes = _frame(A=[100.0], B=[20.0])
    targets = _frame(A=[0.5], B=[0.3])
    constant = simulate(closes, targets, half_spread_bps=5.0)
    assert constant.cost_breakdown["spread"].iloc[0] == pytest.approx(400.0 / 1e6, rel=1e-14)
    per_asset = simulate(closes, targets, half_spread_bps={"A": 10.0})
    assert per_asset.costs.iloc[0] == pytest.approx(500.0 / 1e6, rel=1e-14)


def _impact_market() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns +10 %, -10 %, +10 % on days 1-3, 1,000 shares traded a day."""
    closes = _frame(A=[100.0, 110.0, 99.0, 108.9, 120.0, 125.0])
    volume = closes * 0.0 + 1_000.0
    return closes, volume


def test_square_root_impact_uses_the_window_before_the_trade() -> None:
    """A $500,000 buy at day 4's close with a 3-day window: days 1, 2 and 3.

    Their returns 0.1, -0.1, 0.1 have mean 1/30 and sample variance
    ((2/30)^2 + (4/30)^2 + (2/30)^2) / 2 = 1/75, so sigma = 1/sqrt(75); the average
    traded value is (110 + 99 + 108.9) * 1,000 / 3. Impact: 0.1 * sigma *
    sqrt(500,000 / ADV) * 500,000. Day 4's own price and volume are not used.
    """
    closes, volume = _impact_market()
    targets = pd.DataFrame({"A": [0.5]}, index=DAYS[[4]])
    result = simulate(closes, targets, impact=0.1, volume_window=3, volume=volume)
    adv = (110.0 + 99.0 + 108.9) * 1_000.0 / 3.0
    expected = 0.1 / math.sqrt(75.0) * math.sqrt(500_000.0 / adv) * 500_000.0
    assert result.cost_breakdown["impact"].iloc[0] == pytest.approx(expected / 1e6, rel=1e-12)
    volume.iloc[4] = 1e9  # the trade day itself: no effect
    again = simulate(closes, targets, impact=0.1, volume_window=3, volume=volume)
    assert again.costs.iloc[0] == result.costs.iloc[0]


def test_impact_without_volume_or_history_is_refused() -> None:
    closes, volume = _impact_market()
    targets = pd.DataFrame({"A": [0.5]}, index=DAYS[[4]])
    with pytest.raises(ScenarioError, match="impact cost model needs daily volume"):
        simulate(closes, targets, impact=0.1)
    early = pd.DataFrame({"A": [0.5]}, index=DAYS[[1]])  # one return before day 1
    with pytest.raises(DataError, match=r"cannot price the trade in 'A' on 2022-01-04"):
        simulate(closes, early, impact=0.1, volume_window=3, volume=volume)


def test_borrow_accrues_daily_on_the_previous_close_short_value() -> None:
    """Short $500,000 of A (5,000 shares at 100) on $1,000,000, at 25.2 % a year: 0.1 % a
    day. Day 1 pays on day 0's close, 0.001 * 500,000 = $500, and loses 50,000 as A rises
    to 110; day 2 pays on day 1's close, 5,000 * 110 = $550,000: $550, over day 1's value
    1,000,000 - 500 - 50,000."""
    closes = _frame(A=[100.0, 110.0, 110.0])
    targets = _frame(A=[-0.5])
    result = simulate(closes, targets, borrow_rate=0.252)
    borrow = result.cost_breakdown["borrow"].to_numpy()
    np.testing.assert_allclose(borrow, [0.0, 500.0 / 1e6, 550.0 / 949_500.0], rtol=1e-13)
    np.testing.assert_allclose(result.returns.iloc[1], -50_500.0 / 1e6, rtol=1e-13)
    np.testing.assert_allclose(result.costs, result.cost_breakdown.sum(axis=1), rtol=0)


def test_financing_is_paid_on_negative_cash_on_top_of_the_cash_rate() -> None:
    """150 % in A on $1,000,000 leaves cash at -$500,000. A day at 2.52 % a year cash rate
    (0.01 %) and 25.2 % financing (0.1 %): interest -$50 and financing $500."""
    closes = _frame(A=[100.0, 100.0])
    targets = _frame(A=[1.5])
    result = simulate(closes, targets, cash_rate=0.0252, financing_rate=0.252)
    assert result.cost_breakdown["financing"].iloc[1] == pytest.approx(500.0 / 1e6, rel=1e-13)
    assert result.returns.iloc[1] == pytest.approx(-550.0 / 1e6, rel=1e-12)
    long_only = simulate(closes, _frame(A=[0.5]), financing_rate=0.252)
    assert (long_only.costs == 0.0).all()


def test_the_fast_kernel_splits_bps_and_commissions() -> None:
    """Without a cost model the split follows from turnover: 10 bps of 0.8, $200 of two
    orders."""
    closes = _frame(A=[100.0, 120.0], B=[100.0, 100.0])
    targets = _frame(A=[0.4, 0.4], B=[0.4, 0.4])
    result = simulate(closes, targets, cost_bps=10.0, commission=100.0)
    assert list(result.cost_breakdown.columns) == list(COST_KINDS)
    assert result.cost_breakdown["bps"].iloc[0] == pytest.approx(8e-4, rel=1e-14)
    assert result.cost_breakdown["commission"].iloc[0] == pytest.approx(2e-4, rel=1e-12)
    np.testing.assert_allclose(result.cost_breakdown.sum(axis=1), result.costs, rtol=1e-15)
    looped = simulate(closes, targets, cost_bps=10.0, commission=100.0, band=0.0)
    pd.testing.assert_frame_equal(looped.cost_breakdown, result.cost_breakdown, atol=1e-15)


@settings(max_examples=150, deadline=None)
@given(cost_model_cases(), st.data())
def test_the_breakdown_sums_to_costs(case: Case, data: st.DataObject) -> None:
    result = simulate(case.closes, case.targets, **case.kwargs())
    np.testing.assert_allclose(
        result.cost_breakdown.sum(axis=1), result.costs, rtol=1e-14, atol=1e-17
    )
    assert (result.cost_breakdown.to_numpy() >= 0.0).all()


RATES: dict[str, tuple[Any, ...]] = {
    "per_share": (0.001, 0.01, 0.1),
    "per_share_min": (1.0, 10.0),
    "half_spread_bps": (1.0, 10.0),
    "impact": (0.05, 0.5),
    "borrow_rate": (0.01, 0.2),
    "financing_rate": (0.01, 0.2),
}


@pytest.mark.parametrize("rate", RATES)
@settings(max_examples=60, deadline=None)
@given(case=cost_model_cases(rules=False), data=st.data())
def test_costs_are_monotone_in_each_rate(rate: str, case: Case, data: st.DataObject) -> None:
    """A higher rate never leaves more at the end (every asset traded to its target)."""
    assume(rate != "impact" or case.volume is not None)
    extra = data.draw(st.sampled_from(RATES[rate]), label="extra")
    current = case.settings.get(rate, 0.0)
    if isinstance(current, dict):
        current = 0.0  # a mapping is replaced by one rate for all
    raised = current + extra
    if rate == "per_share_min" and case.settings.get("per_share_max") is not None:
        raised = min(raised, case.settings["per_share_max"])
    cheap = simulate(case.closes, case.targets, **case.with_settings(**{rate: current}).kwargs())
    dear = simulate(case.closes, case.targets, **case.with_settings(**{rate: raised}).kwargs())
    assume(cheap.ruined_on is None and dear.ruined_on is None)
    cheap_growth = float(np.prod(1.0 + cheap.returns.to_numpy()))
    dear_growth = float(np.prod(1.0 + dear.returns.to_numpy()))
    assert dear_growth <= cheap_growth * (1.0 + 1e-12)


@pytest.mark.parametrize(
    ("settings_", "expected"),
    [
        ({"per_share": -0.005}, r"per_share must be a finite number >= 0.*use 0 to turn it off"),
        ({"per_share_min": 5.0, "per_share_max": 1.0}, r"per_share_min \(5.0\) is above"),
        ({"per_share_max_fraction": 0.0}, "per_share_max_fraction must be a positive number"),
        ({"half_spread_bps": -1.0}, "half_spread_bps must be a finite number of bps >= 0"),
        ({"half_spread_bps": {"A": -1.0}}, r"half_spread_bps\['A'\] must be"),
        ({"half_spread_bps": {"AA": 1.0}}, r"names 'AA'.*did you mean 'A'"),
        ({"impact": float("nan")}, "impact must be a finite number >= 0"),
        ({"volume_window": 1}, "volume_window must be a whole number of days >= 2"),
        ({"borrow_rate": -0.01}, "borrow_rate must be"),
        ({"financing_rate": float("inf")}, "financing_rate must be"),
    ],
)
def test_bad_cost_settings_are_refused_with_their_fix(
    settings_: dict[str, Any], expected: str
) -> None:
    closes = _frame(A=[100.0, 101.0])
    with pytest.raises(ScenarioError, match=expected):
        simulate(closes, _frame(A=[0.5]), **settings_)


@pytest.mark.parametrize(
    ("costs", "expected"),
    [
        ({"per_share": {"rate": -1}}, "costs.per_share.rate: Input should be greater than"),
        ({"per_share": {"min": 1}}, "costs.per_share.rate: Field required"),
        (
            {"per_share": {"rate": 0.005, "min": 5, "max": 1}},
            r"costs.per_share: min \(5.0\) is above max \(1.0\); lower min or raise max",
        ),
        ({"per_share": {"rate": 0.005, "max_fraction": 2}}, "costs.per_share.max_fraction"),
        ({"half_spread_bps": -2}, "costs.half_spread_bps: must be finite and >= 0"),
        ({"half_spread_bps": {"AAPL": "x"}}, "costs.half_spread_bps: must be a number of bps"),
        ({"impact": {"coefficient": 0.1, "window": 1}}, "costs.impact.window"),
        ({"borrow_rate": -0.1}, "costs.borrow_rate: Input should be greater than"),
        ({"financing_rate": float("nan")}, "costs.financing_rate: .*finite number"),
    ],
)
def test_bad_cost_models_in_a_scenario_name_their_key(
    costs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ScenarioError, match=expected):
        load_scenario({"costs": costs})


def test_models_left_off_leave_the_fingerprint_as_it_was() -> None:
    plain = load_scenario(None)
    assert plain.model_dump()["costs"] == {"cost_bps": 10.0, "commission": 0.0}
    spelled_out = load_scenario(
        {"costs": {"half_spread_bps": 0, "borrow_rate": 0, "financing_rate": 0.0}}
    )
    assert spelled_out.fingerprint() == plain.fingerprint()
    per_share = load_scenario({"costs": {"per_share": {"rate": 0.005}}})
    assert per_share.fingerprint() != plain.fingerprint()
    assert per_share.model_dump()["costs"]["per_share"]["rate"] == 0.005


def test_scenario_cost_models_reach_the_engine() -> None:
    base: dict[str, Any] = {"data": {"universe": ["AAPL", "MSFT", "XOM"], "start": "2015-01-02"}}
    plain = pb.run_backtest(base)
    costs = {
        "cost_bps": 10,
        "per_share": {"rate": 0.005, "min": 1, "max_fraction": 0.01},
        "half_spread_bps": {"AAPL": 2.0},
        "borrow_rate": 0.05,
        "financing_rate": 0.05,
    }
    dear = pb.run_backtest({**base, "costs": costs})
    assert dear.costs.sum() > plain.costs.sum()
    with pytest.raises(ScenarioError, match=r"costs\.impact needs daily volume"):
        pb.run_backtest({**base, "costs": {"impact": {"coefficient": 0.1}}})


def test_impact_in_a_scenario_reads_the_files_volumes(tmp_path: Path) -> None:
    """A long file with volumes: the impact model runs from the scenario and costs more the
    thinner the volume (the same prices, a tenth of the volume)."""
    rng = np.random.default_rng(5)
    days = pd.bdate_range("2016-01-01", "2018-12-31")
    closes = pd.DataFrame(
        50 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, (len(days), 3)), axis=0)),
        index=days,
        columns=["A", "B", "C"],
    )

    def run(shares: float) -> Any:
        volume = pd.DataFrame(shares, index=days, columns=closes.columns)
        long = closes.stack().rename("close").to_frame().join(volume.stack().rename("volume"))
        path = tmp_path / f"prices_{shares:.0f}.csv"
        long.rename_axis(["date", "ticker"]).reset_index().to_csv(path, index=False)
        return pb.run_backtest(
            {
                "data": {"source": "csv", "path": str(path), "benchmark": None},
                "strategy": {"name": "equal_weight"},
                "costs": {"cost_bps": 0, "impact": {"coefficient": 0.5, "window": 20}},
            }
        )

    deep, thin = run(1e5), run(1e4)
    assert 0 < deep.costs.sum() < thin.costs.sum()
    assert thin.costs.sum() == pytest.approx(deep.costs.sum() * 10**0.5, rel=0.05)
