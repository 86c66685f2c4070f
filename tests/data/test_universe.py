"""Point-in-time universes: membership files and the liquidity filter hide non-members from
strategies and the engine, and never use data from after the day they decide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portfolio_backtester as pb
from portfolio_backtester.data import MarketData, build_optimization_data
from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.data.universe import (
    apply_universe,
    liquidity_mask,
    membership_mask,
    read_membership,
)
from portfolio_backtester.errors import DataError
from portfolio_backtester.simulation import simulate
from portfolio_backtester.strategies import get_strategy

DAYS = pd.bdate_range("2021-01-04", periods=6, name="date")


def _membership(tmp_path: Path, text: str) -> pd.DataFrame:
    path = tmp_path / "members.csv"
    path.write_text(text, encoding="utf-8")
    return read_membership(path)


def test_membership_periods_are_inclusive_and_may_be_open_ended(tmp_path: Path) -> None:
    members = _membership(
        tmp_path,
        "ticker,from,to\nA,2021-01-05,2021-01-06\nB,2021-01-04,\nA,2021-01-08,\nZ,2021-01-04,\n",
    )
    mask = membership_mask(members, DAYS, pd.Index(["A", "B", "C"]))
    assert mask[:, 0].tolist() == [False, True, True, False, True, True]  # left, came back
    assert mask[:, 1].all()
    assert not mask[:, 2].any()  # C is in no row; Z is in no column


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ticker,from,to\nA,2021-01-06,2021-01-05\n", "A leaves on 2021-01-05, before it joins"),
        (
            "ticker,from,to\nA,2021-01-04,2021-01-08\nA,2021-01-06,\n",
            "A has overlapping memberships",
        ),
        ("ticker,from,to\nA,2021-01-04,\nA,2021-01-06,\n", "A has overlapping memberships"),
        ("name,from,to\nA,2021-01-04,\n", "needs a ticker column"),
        ("ticker,from,to\nA,yesterday,\n", "column 'from'"),
        ("ticker,from,to\n,2021-01-04,\n", "missing ticker at row 2"),
    ],
)
def test_a_bad_membership_file_is_refused_with_the_row(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        _membership(tmp_path, text)


def test_a_ticker_is_hidden_outside_its_membership_and_sold_at_its_last_price() -> None:
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0, 13.0, 14.0, 15.0], "B": [5.0] * 6}, index=DAYS)
    mask = np.ones((6, 2), dtype=bool)
    mask[3:, 0] = False  # A leaves after its third day (last price 12)
    market = apply_universe(MarketData(prices=closes, benchmark=None), mask, "test")
    assert market.prices["A"].isna().tolist() == [False] * 3 + [True] * 3
    targets = pd.DataFrame({"A": [0.5, 0.5], "B": [0.5, 0.5]}, index=DAYS[[0, 4]])
    result = simulate(market.prices, targets, cost_bps=0.0)
    # A's value stops at its last membership close (12) and it is sold there at the next
    # rebalance: the moves to 13, 14 and 15 after it left are never earned.
    value = (1 + result.returns).cumprod()
    expected_a = 0.5 * np.array([10, 11, 12, 12, 12, 12]) / 10
    assert value.to_numpy() == pytest.approx(expected_a + 0.5, abs=1e-12)
    assert result.weights["A"].iloc[4:].eq(0.0).all()


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    strategy=st.sampled_from(["simple_momentum", "equal_weight", "low_volatility"]),
)
def test_a_strategy_weights_only_members_of_each_date(seed: int, strategy: str) -> None:
    prices = load_sp500()[0].loc["2005":"2012"]
    rng = np.random.default_rng(seed)
    n, m = prices.shape
    mask = np.ones((n, m), dtype=bool)
    for j in range(m):  # each ticker joins and leaves at random days
        start, end = np.sort(rng.integers(0, n, 2))
        mask[:start, j] = False
        mask[end:, j] = False
    market = apply_universe(MarketData(prices=prices, benchmark=None), mask, "test")
    data = build_optimization_data(market)
    cls = get_strategy(strategy)
    weights = cls().generate_weights(data, cls.resolve_params({}))
    members = pd.DataFrame(mask, index=prices.index, columns=prices.columns)
    members = members.loc[:, market.prices.columns].reindex(weights.index)
    held = weights.to_numpy() != 0
    assert not (held & ~members.to_numpy()).any()


def test_the_liquidity_filter_keeps_the_top_n_by_dollar_volume_from_the_next_day() -> None:
    days = pd.bdate_range("2021-01-04", "2021-03-31")
    n = len(days)
    prices = pd.DataFrame({"A": 10.0, "B": 20.0, "C": 5.0}, index=days)
    volume = pd.DataFrame({"A": 100.0, "B": 100.0, "C": 1000.0}, index=days)  # $1k, $2k, $5k
    volume.loc["2021-02-01":, "A"] = 10_000.0  # A becomes the most traded in February
    mask = liquidity_mask(prices, volume, top_n=2, window_days=5)
    january = days.month == 1
    assert not mask[january].any()  # nothing was measured before the first month's end
    february = days.month == 2
    assert mask[february][:, [1, 2]].all() and not mask[february][:, 0].any()
    march = days.month == 3
    assert mask[march][:, [0, 2]].all() and not mask[march][:, 1].any()
    assert mask.shape == (n, 3)


@settings(max_examples=30, deadline=None)
@given(day=st.integers(0, 80), seed=st.integers(0, 2**32 - 1))
def test_the_liquidity_filter_never_looks_ahead(day: int, seed: int) -> None:
    """Changing prices and volumes after a day never changes the universe up to that day."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2021-01-04", periods=90)
    prices = pd.DataFrame(rng.uniform(5, 50, (90, 6)), index=days)
    volume = pd.DataFrame(rng.uniform(1e3, 1e6, (90, 6)), index=days)
    before = liquidity_mask(prices, volume, top_n=3, window_days=10)
    prices.iloc[day + 1 :] = rng.uniform(5, 50, (89 - day, 6))
    volume.iloc[day + 1 :] = rng.uniform(1e3, 1e6, (89 - day, 6))
    after = liquidity_mask(prices, volume, top_n=3, window_days=10)
    np.testing.assert_array_equal(before[: day + 1], after[: day + 1])


def test_a_universe_with_no_member_is_refused() -> None:
    closes = pd.DataFrame({"A": [1.0, 2.0]}, index=DAYS[:2])
    with pytest.raises(DataError, match="no ticker of the data is a member"):
        apply_universe(MarketData(prices=closes, benchmark=None), np.zeros((2, 1), bool), "x")


def test_a_scenario_reads_its_membership_file_next_to_it(tmp_path: Path) -> None:
    """The built-in data with AAPL a member only from 2010 and XOM only until 2005: the
    default strategy never holds either outside those years."""
    (tmp_path / "members.csv").write_text(
        "ticker,from,to\nAAPL,2010-01-04,\nXOM,1990-01-02,2005-06-30\n"
        + "".join(f"{t},1990-01-02,\n" for t in ("MSFT", "KO", "PG", "JNJ", "WMT", "PEP")),
        encoding="utf-8",
    )
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("data:\n  membership: members.csv\n", encoding="utf-8")
    result = pb.run_backtest(str(scenario))
    holdings = result.holdings
    assert set(holdings.columns) == {"AAPL", "XOM", "MSFT", "KO", "PG", "JNJ", "WMT", "PEP"}
    assert holdings.loc[:"2009-12-31", "AAPL"].eq(0).all()
    assert holdings.loc["2010":, "AAPL"].gt(0).any()
    # XOM, bought on its last member day (a month end), is valued at that close until the
    # next month end's rebalance sells it at that price.
    value = (1 + result.returns).cumprod()
    xom = (holdings["XOM"] * value).loc["2005-06-30":"2005-07-28"]
    assert xom.iloc[0] > 0 and xom.to_numpy() == pytest.approx(xom.iloc[0], rel=1e-12)
    assert holdings.loc["2005-07-29":, "XOM"].eq(0).all()


def test_a_missing_membership_file_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"membership file not found: .*nope\.csv \(data\.membership"
    ):
        read_membership(tmp_path / "nope.csv")


def test_the_liquidity_filter_needs_volumes(tmp_path: Path) -> None:
    with pytest.raises(pb.PortfolioBacktesterError, match=r"data\.liquidity ranks"):
        pb.run_backtest({"data": {"liquidity": {"top_n": 5}}})


def test_a_scenario_with_a_liquidity_filter_holds_only_the_most_traded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2015-01-01", "2017-12-29")
    tickers = ["A", "B", "C", "D"]
    closes = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, (len(days), 4)), axis=0)),
        index=days,
        columns=tickers,
    )
    volume = pd.DataFrame({"A": 1e6, "B": 1e3, "C": 5e5, "D": 1e2}, index=days)
    long = closes.stack().rename("close").to_frame().join(volume.stack().rename("volume"))
    path = tmp_path / "prices.csv"
    long.rename_axis(["date", "ticker"]).reset_index().to_csv(path, index=False)
    result = pb.run_backtest(
        {
            "data": {
                "source": "csv",
                "path": str(path),
                "benchmark": None,
                "liquidity": {"top_n": 2, "window_days": 20},
            },
            "strategy": {"name": "equal_weight"},
        }
    )
    assert list(result.holdings.columns) == ["A", "C"]  # B and D are never among the top 2
    assert result.holdings.iloc[-100:].gt(0).all().all()
