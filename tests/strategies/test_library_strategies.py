"""The library strategies on small hand-built markets: each weight below is worked out by hand.

Returns follow short +/- patterns whose sample means and cross-covariances are exactly zero
over any window of a multiple of four days, so volatilities, correlations and betas are
known in closed form.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import portfolio_backtester as pb
from portfolio_backtester.constants import TRADING_DAYS_PER_YEAR
from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.errors import DataError, ScenarioError
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import get_strategy, rebalance_dates
from portfolio_backtester.strategies.minimum_variance import minimum_variance_weights
from portfolio_backtester.strategies.risk_parity import equal_risk_contributions

DataBuilder = Callable[[pd.DataFrame], OptimizationData]
MONTH = 21

# Period-4 sign patterns, orthogonal to each other over any four consecutive days.
ALTERNATE = np.array([1.0, -1.0, 1.0, -1.0])
PAIRS = np.array([1.0, 1.0, -1.0, -1.0])
MIRROR = np.array([1.0, -1.0, -1.0, 1.0])


def pattern(signs: np.ndarray, n: int) -> np.ndarray:
    return np.resize(signs, n)


def prices_from_returns(returns: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Closes starting at 100 whose simple returns are ``returns`` (row 0 is the start)."""
    growth = np.vstack([np.ones(returns.shape[1]), 1.0 + returns[1:]])
    index = pd.bdate_range("2020-01-01", periods=len(returns), name="date")
    return pd.DataFrame(100.0 * np.cumprod(growth, axis=0), index=index, columns=columns)


def weights_of(name: str, data: OptimizationData, **params: Any) -> pd.DataFrame:
    return get_strategy(name)().generate_weights(data, params)


# --- dual momentum ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("safe_rate", "expected"),
    [
        (0.0005, [0.5, 0.5, 0.0, 0.0]),  # both picks beat the safe asset
        (0.0015, [0.5, 0.0, 0.0, 0.5]),  # B trails it: its half goes to the safe asset
        (0.0030, [0.0, 0.0, 0.0, 1.0]),  # both trail it
    ],
)
def test_dual_momentum_hands_picks_that_trail_the_safe_asset_to_it(
    make_data: DataBuilder, safe_rate: float, expected: list[float]
) -> None:
    rates = np.array([0.002, 0.001, -0.001, safe_rate])
    prices = prices_from_returns(np.tile(rates, (60, 1)), ["A", "B", "C", "SAFE"])
    params = {"lookback_months": 1, "skip_months": 0, "top_n": 2, "rebalance": "daily"}
    weights = weights_of("dual_momentum", make_data(prices), **params, safe_asset="SAFE")
    assert (weights.iloc[:MONTH].to_numpy() == 0.0).all()
    np.testing.assert_array_equal(weights.iloc[MONTH:].to_numpy(), np.tile(expected, (39, 1)))


def test_dual_momentum_goes_to_cash_when_the_best_asset_falls(make_data: DataBuilder) -> None:
    returns = np.full((80, 2), -0.002)
    returns[:, 0] = 0.001
    returns[58:, 0] = -0.001  # A falls from row 58: its one-month return turns negative
    prices = prices_from_returns(returns, ["A", "B"])
    params = {"lookback_months": 1, "skip_months": 0, "top_n": 1, "rebalance": "daily"}
    weights = weights_of("dual_momentum", make_data(prices), **params)
    # Row t's month holds 78 - t rising days and t - 57 falling ones.
    assert weights.loc[prices.index[67]].tolist() == [1.0, 0.0]  # 11 up, 10 down: > 0
    assert (weights.iloc[68:].to_numpy() == 0.0).all()  # 10 up, 11 down: < 0, so cash


def test_dual_momentum_refuses_a_safe_asset_outside_the_data(
    late_listing: OptimizationData,
) -> None:
    with pytest.raises(ScenarioError, match=r"'PEPP' is not a ticker.*did you mean 'PEP'"):
        weights_of("dual_momentum", late_listing, safe_asset="PEPP")
    with pytest.raises(ScenarioError, match="'SPYY' is not a ticker"):
        weights_of("dual_momentum", late_listing, safe_asset="SPYY")


# --- time-series momentum -----------------------------------------------------------------


def trend_market() -> pd.DataFrame:
    """UP alternates +2%/-1% (rising), DOWN -2%/+1% (falling): the same volatility."""
    n = 80
    up = np.where(np.arange(n) % 2 == 0, 0.02, -0.01)
    return prices_from_returns(np.column_stack([up, -up]), ["UP", "DOWN"])


# Over 20 returns, ten at each level: sample std = 0.015 * sqrt(20 / 19), annualised.
TREND_VOL = 0.015 * np.sqrt(20 / 19) * np.sqrt(TRADING_DAYS_PER_YEAR)
TREND = {"lookback_months": 1, "lookback_days": 20, "rebalance": "daily"}


@pytest.mark.parametrize(
    ("mode", "max_leverage", "expected"),
    [
        ("long_flat", 10.0, [0.1 / TREND_VOL / 2, 0.0]),
        ("long_short", 10.0, [0.1 / TREND_VOL / 2, -0.1 / TREND_VOL / 2]),
        ("long_short", 0.2, [0.1, -0.1]),  # gross 0.41 scaled down to the cap
    ],
)
def test_time_series_momentum_sizes_each_trend_to_the_target_volatility(
    make_data: DataBuilder, mode: str, max_leverage: float, expected: list[float]
) -> None:
    weights = weights_of(
        "time_series_momentum",
        make_data(trend_market()),
        **TREND,
        target_volatility=0.1,
        max_leverage=max_leverage,
        mode=mode,
    )
    assert (weights.iloc[:MONTH].to_numpy() == 0.0).all()
    np.testing.assert_allclose(
        weights.iloc[MONTH:].to_numpy(), np.tile(expected, (80 - MONTH, 1)), rtol=1e-9
    )


def test_time_series_momentum_shorts_only_in_long_short_mode() -> None:
    strategy = get_strategy("time_series_momentum")
    assert not strategy.shorts({})
    assert strategy.shorts({"mode": "long_short"})


# --- short-term reversal ------------------------------------------------------------------


def test_short_term_reversal_buys_last_months_losers_at_month_ends(
    make_data: DataBuilder,
) -> None:
    returns = np.tile([0.003, 0.001, 0.0, -0.001], (130, 1))
    returns[-MONTH:, 0] = -0.01  # the long-run winner A has the worst last month
    prices = prices_from_returns(returns, list("ABCD"))
    weights = weights_of("short_term_reversal", make_data(prices), top_n=2)
    index = pd.DatetimeIndex(prices.index)
    assert weights.index.equals(rebalance_dates(index, "monthly"))
    assert (weights.loc[: index[MONTH - 1]].to_numpy() == 0.0).all()
    np.testing.assert_array_equal(weights.iloc[1:-1].to_numpy(), [[0, 0, 0.5, 0.5]] * 4)
    assert weights.index[-1] == index[-1] == pd.Timestamp("2020-06-30")
    np.testing.assert_array_equal(weights.iloc[-1].to_numpy(), [0.5, 0, 0, 0.5])


# --- 52-week-high proximity ---------------------------------------------------------------


def high_market() -> pd.DataFrame:
    closes = {
        "A": [10, 10, 10, 20, 15, 15, 15, 15],  # 15 / 20 = 0.75 of its high
        "B": [10, 10, 10, 10, 10, 10, 9, 9.5],  # 0.95
        "C": [30, 10, 10, 10, 10, 10, 10, 10],  # 1 over five days, 1/3 over eight
        "D": [10, 11, 12, 13, 14, 15, 16, 17],  # at its high: 1
    }
    return pd.DataFrame(closes, index=pd.bdate_range("2020-01-01", periods=8), dtype=float)


@pytest.mark.parametrize(
    ("window_days", "expected"), [(5, [0, 0, 0.5, 0.5]), (8, [0, 0.5, 0, 0.5])]
)
def test_fifty_two_week_high_holds_the_assets_nearest_their_high(
    make_data: DataBuilder, window_days: int, expected: list[float]
) -> None:
    params = {"window_days": window_days, "top_n": 2, "rebalance": "daily"}
    weights = weights_of("fifty_two_week_high", make_data(high_market()), **params)
    assert (weights.iloc[: window_days - 1].to_numpy() == 0.0).all()
    np.testing.assert_array_equal(weights.iloc[-1].to_numpy(), expected)


# --- risk parity and minimum variance -----------------------------------------------------


def covariance_market(columns: dict[str, tuple[float, np.ndarray]], n: int = 40) -> pd.DataFrame:
    """Assets whose returns are ``scale * pattern``: over any window of a multiple of four
    days, variances are scale^2 (times a common factor) and different patterns are
    uncorrelated."""
    returns = np.column_stack([scale * pattern(signs, n) for scale, signs in columns.values()])
    return prices_from_returns(returns, list(columns))


def test_risk_parity_gives_correlated_assets_one_shared_budget(make_data: DataBuilder) -> None:
    """A and B move together, C and D apart from them and each other, D twice as volatile.

    With Σ ∝ [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 4]], equal contributions
    2a² = c² = 4d² give a = b = 1 / (2 + 3 / √2), c = √2 a, d = a / √2.
    """
    prices = covariance_market(
        {"A": (0.01, ALTERNATE), "B": (0.01, ALTERNATE), "C": (0.01, PAIRS), "D": (0.02, MIRROR)}
    )
    weights = weights_of("risk_parity", make_data(prices), lookback_days=8, rebalance="daily")
    assert (weights.iloc[:8].to_numpy() == 0.0).all()  # row 0 has no return
    a = 1 / (2 + 3 / np.sqrt(2))
    expected = [a, a, np.sqrt(2) * a, a / np.sqrt(2)]
    np.testing.assert_allclose(weights.iloc[8:].to_numpy(), np.tile(expected, (32, 1)), atol=1e-10)


@pytest.mark.parametrize(
    ("max_weight", "expected"),
    [
        (1.0, [2 / 3, 1 / 6, 1 / 6]),  # w ∝ 1 / variance = (1, 1/4, 1/4)
        (0.5, [0.5, 0.25, 0.25]),  # A at the cap; the rest split by 1 / variance
        (0.3, [0.3, 0.3, 0.3]),  # three assets cannot reach 1 at 0.3: 10% cash
    ],
)
def test_minimum_variance_prefers_the_quiet_asset_up_to_the_cap(
    make_data: DataBuilder, max_weight: float, expected: list[float]
) -> None:
    prices = covariance_market({"A": (0.01, ALTERNATE), "B": (0.02, PAIRS), "C": (0.02, MIRROR)})
    weights = weights_of(
        "minimum_variance",
        make_data(prices),
        lookback_days=8,
        max_weight=max_weight,
        rebalance="daily",
    )
    assert (weights.iloc[:8].to_numpy() == 0.0).all()
    np.testing.assert_allclose(weights.iloc[8:].to_numpy(), np.tile(expected, (32, 1)), atol=1e-9)


def embedded_covariances(seed: int, count: int) -> list[tuple[np.ndarray, float]]:
    """Sample covariances of random windows and subsets of the embedded returns, with caps."""
    prices, _ = load_sp500()
    returns = prices.pct_change(fill_method=None).to_numpy()[1:]
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        length, n = int(rng.integers(5, 300)), int(rng.integers(2, 21))
        start = int(rng.integers(0, len(returns) - length))
        columns = rng.choice(returns.shape[1], n, replace=False)
        window = returns[start : start + length][:, columns]
        cases.append((np.cov(window, rowvar=False), float(rng.uniform(1.01 / n, 1.0))))
    return cases


def test_minimum_variance_is_no_worse_than_scipys_slsqp() -> None:
    """An independent solver on real covariances, some singular (fewer days than assets)."""
    for covariance, cap in embedded_covariances(seed=3, count=30):
        weights = minimum_variance_weights(covariance, cap)
        n = len(covariance)
        assert abs(weights.sum() - 1.0) < 1e-12
        assert weights.min() >= 0.0 and weights.max() <= cap
        sigma = covariance / np.mean(np.diag(covariance))
        reference = minimize(
            lambda w, s=sigma: w @ s @ w,
            np.full(n, 1.0 / n),
            jac=lambda w, s=sigma: 2.0 * s @ w,
            method="SLSQP",
            bounds=[(0.0, cap)] * n,
            constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0},),
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        assert weights @ sigma @ weights <= reference.fun * (1 + 1e-9)


def test_risk_parity_contributions_are_equal_on_real_covariances() -> None:
    for covariance, _ in embedded_covariances(seed=4, count=100):
        if np.linalg.matrix_rank(covariance) < len(covariance):
            continue  # fewer days than assets: refused by the strategy, see below
        weights = equal_risk_contributions(covariance)
        contributions = weights * (covariance @ weights)
        assert abs(weights.sum() - 1.0) < 1e-12 and (weights > 0).all()
        np.testing.assert_allclose(contributions, contributions.mean(), rtol=1e-8)


def test_risk_parity_refuses_fewer_days_than_assets(make_data: DataBuilder) -> None:
    prices = covariance_market({t: (0.01, PAIRS) for t in "ABCDEFGH"} | {"Z": (0.01, MIRROR)})
    with pytest.raises(ScenarioError, match=r"9 assets .* set lookback_days to at least 10"):
        weights_of("risk_parity", make_data(prices), lookback_days=8)


# --- low beta -----------------------------------------------------------------------------


def beta_market() -> OptimizationData:
    """Betas 0.5 (A), 1.5 (B) and 1 (C, plus a part uncorrelated with the benchmark)."""
    n = 40
    market = 0.01 * pattern(ALTERNATE, n)
    returns = np.column_stack([0.5 * market, 1.5 * market, market + 0.02 * pattern(PAIRS, n)])
    prices = prices_from_returns(returns, ["A", "B", "C"])
    benchmark = prices_from_returns(market[:, None], ["INDEX"])
    return OptimizationData(
        daily=prices,
        monthly=prices.resample("ME").last(),
        returns=prices.pct_change(fill_method=None),
        benchmark=benchmark,
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [0.5, 0.0, 0.5]),
        ({"unit_beta": True}, [2 / 3, 0.0, 2 / 3]),  # portfolio beta 0.75, scaled by 4/3
        ({"unit_beta": True, "max_leverage": 1.2}, [0.6, 0.0, 0.6]),  # 4/3 capped at 1.2
    ],
)
def test_low_beta_holds_the_lowest_betas(params: dict[str, Any], expected: list[float]) -> None:
    weights = weights_of(
        "low_beta", beta_market(), lookback_days=8, top_n=2, rebalance="daily", **params
    )
    assert (weights.iloc[:8].to_numpy() == 0.0).all()
    np.testing.assert_allclose(weights.iloc[8:].to_numpy(), np.tile(expected, (32, 1)), atol=1e-9)


def test_low_beta_needs_a_benchmark() -> None:
    data = beta_market()
    without = OptimizationData(data.daily, data.monthly, data.returns, data.benchmark.iloc[:, :0])
    with pytest.raises(ScenarioError, match="needs a benchmark"):
        weights_of("low_beta", without)


# --- scores from a file -------------------------------------------------------------------


def write_scores(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


SCORES = "date,A,B,C\n2020-01-03,1,3,2\n2020-01-09,5,-1,\n"  # rows 2 and 6 of the market


@pytest.mark.parametrize(
    ("mode", "from_row_2", "from_row_6"),
    [
        ("equal", [0, 0.5, 0.5], [0.5, 0.5, 0]),  # C's empty cell is no score
        ("proportional", [0, 0.6, 0.4], [1, 0, 0]),  # B's score -1 earns no weight
    ],
)
def test_file_signal_trades_each_score_from_its_date_on(
    make_data: DataBuilder,
    tmp_path: Path,
    mode: str,
    from_row_2: list[float],
    from_row_6: list[float],
) -> None:
    prices = prices_from_returns(np.full((10, 3), 0.001), ["A", "B", "C"])
    path = write_scores(tmp_path / "scores.csv", SCORES)
    params = {"path": path, "top_n": 2, "mode": mode, "rebalance": "daily"}
    weights = weights_of("file_signal", make_data(prices), **params)
    expected = [[0.0] * 3] * 2 + [from_row_2] * 4 + [from_row_6] * 4
    np.testing.assert_allclose(weights.to_numpy(), expected, rtol=1e-15)


def test_file_signal_reads_a_relative_path_from_the_working_directory(
    make_data: DataBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = prices_from_returns(np.full((10, 3), 0.001), ["A", "B", "C"])
    write_scores(tmp_path / "scores.csv", SCORES)
    monkeypatch.chdir(tmp_path)
    weights = weights_of("file_signal", make_data(prices), path="scores.csv", rebalance="daily")
    assert weights.iloc[-1].tolist() == [0.5, 0.5, 0.0]  # top_n 5: both scores held


def test_file_signal_reads_a_file_once_and_again_when_it_changes(
    make_data: DataBuilder, tmp_path: Path
) -> None:
    """Every trial of an optimisation asks for the same scores: they are parsed once, and
    read again once the file is rewritten."""
    prices = prices_from_returns(np.full((10, 3), 0.001), ["A", "B", "C"])
    path = write_scores(tmp_path / "scores.csv", SCORES)
    first = weights_of("file_signal", make_data(prices), path=path, top_n=1, rebalance="daily")
    again = weights_of("file_signal", make_data(prices), path=path, top_n=1, rebalance="daily")
    pd.testing.assert_frame_equal(first, again)
    assert first.iloc[-1].tolist() == [1.0, 0.0, 0.0]  # A's 5 is the best last score
    write_scores(tmp_path / "scores.csv", SCORES.replace("2020-01-09,5,-1,", "2020-01-09,5,-1,90"))
    changed = weights_of("file_signal", make_data(prices), path=path, top_n=1, rebalance="daily")
    assert changed.iloc[-1].tolist() == [0.0, 0.0, 1.0]


def test_file_signal_in_a_scenario_file_reads_its_path_next_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the data section's paths are: the scenario's folder, not where it is run from."""
    folder = tmp_path / "research"
    folder.mkdir()
    scores = pd.read_csv(Path(__file__).resolve().parents[2] / "examples" / "scores.csv")
    scores.to_csv(folder / "my_scores.csv", index=False)
    (folder / "scenario.yaml").write_text(
        "strategy:\n  name: file_signal\n  params: {path: my_scores.csv, top_n: 3}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # my_scores.csv is not here
    result = pb.run_backtest(str(folder / "scenario.yaml"))
    assert result.params["path"] == str(folder / "my_scores.csv")
    assert result.metrics["Trades"] > 10


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (None, ScenarioError, r"parameter 'path': no file .*missing\.csv"),
        ("date,A,XB\n2020-01-03,1,2\n", DataError, r"column 'XB' is not a ticker.*'B'"),
        ("date,A,B\n2020-01-03,1,2\nsoon,1,2\n", DataError, "cannot parse date 'soon' at row 3"),
        ("date,A,B\n2020-01-03,1,high\n", DataError, r"column 'B' row 2: score 'high'"),
        ("date,A\n2020-01-03,1\n2020-01-03,2\n", DataError, "appears twice"),
    ],
)
def test_file_signal_refuses_a_bad_file_with_where_and_why(
    make_data: DataBuilder, tmp_path: Path, text: str | None, error: type, message: str
) -> None:
    prices = prices_from_returns(np.full((10, 3), 0.001), ["A", "B", "C"])
    path = tmp_path / "missing.csv"
    if text is not None:
        write_scores(path, text)
    with pytest.raises(error, match=message):
        weights_of("file_signal", make_data(prices), path=str(path))


def test_file_signal_without_a_path_says_what_to_give(make_data: DataBuilder) -> None:
    prices = prices_from_returns(np.full((10, 3), 0.001), ["A", "B", "C"])
    with pytest.raises(ScenarioError, match="'path' is not set; give a CSV file of scores"):
        weights_of("file_signal", make_data(prices))


# --- end to end ---------------------------------------------------------------------------

LIBRARY = [
    "dual_momentum",
    "time_series_momentum",
    "short_term_reversal",
    "fifty_two_week_high",
    "risk_parity",
    "minimum_variance",
    "low_beta",
    "file_signal",
]


def embedded_scores(path: Path) -> str:
    """Month-end 12-1 momentum of the embedded prices, as a user's file of scores."""
    prices, _ = load_sp500()
    month_ends = rebalance_dates(pd.DatetimeIndex(prices.index), "monthly")
    closes = prices.loc[month_ends]
    scores = (closes.shift(1) / closes.shift(12) - 1.0).iloc[12:]
    scores.to_csv(path, index_label="date")
    return str(path)


@pytest.mark.parametrize("name", LIBRARY)
def test_library_strategy_runs_end_to_end_on_the_embedded_data(name: str, tmp_path: Path) -> None:
    strategy: dict[str, Any] = {"name": name}
    if name == "file_signal":
        strategy["params"] = {"path": embedded_scores(tmp_path / "scores.csv")}
    result = pb.run_backtest({"strategy": strategy})
    assert len(result.returns) > 1000
    assert (result.weights.to_numpy() > 0).any()
    for metric in ("CAGR", "Sharpe", "Max Drawdown", "Trades"):
        assert np.isfinite(result.metrics[metric]), metric
    assert result.metrics["Trades"] > 0
