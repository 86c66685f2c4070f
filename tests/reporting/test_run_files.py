"""holdings.csv and trades.csv: written by every backtest, read back into ``RunFolder``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from portfolio_backtester.backtest import BacktestResult, run_backtest
from portfolio_backtester.cli import main
from portfolio_backtester.errors import DataError
from portfolio_backtester.reporting.run_folder import (
    BACKTEST_FILES,
    RESULT_FILES,
    read_run_folder,
)


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, Path]:
    """A short long/short backtest and its saved folder (no report)."""
    folder = tmp_path_factory.mktemp("run")
    result = run_backtest(
        {
            "data": {"universe": ["AAPL", "KO", "MSFT"], "start": "2015-01-02"},
            "strategy": {"name": "sma_crossover", "params": {"mode": "long_short"}},
            "portfolio": {"allow_short": True},
        }
    )
    result.save(folder)
    return result, folder


def test_a_backtest_folder_lists_and_writes_holdings_and_trades(
    backtest: tuple[BacktestResult, Path],
) -> None:
    _, folder = backtest
    assert {"holdings.csv", "trades.csv"} <= set(BACKTEST_FILES) <= set(RESULT_FILES)
    for name in BACKTEST_FILES:
        assert (folder / name).is_file(), name


def test_holdings_csv_has_the_weights_after_drift_and_the_cash(
    backtest: tuple[BacktestResult, Path],
) -> None:
    result, folder = backtest
    written = pd.read_csv(folder / "holdings.csv", index_col="date", parse_dates=True)
    assert list(written.columns) == [*result.holdings.columns, "cash"]
    cash = 1.0 - result.holdings.sum(axis=1)
    pd.testing.assert_series_equal(written["cash"], cash, check_names=False, check_freq=False)
    # A short book holds more cash than its value: the short sale's proceeds.
    assert (written["cash"] > 1.0).any()


def test_read_run_folder_gives_back_the_holdings_and_the_trades(
    backtest: tuple[BacktestResult, Path],
) -> None:
    result, folder = backtest
    files = read_run_folder(folder)
    assert files.holdings is not None and files.trades is not None
    pd.testing.assert_frame_equal(
        files.holdings, result.holdings, check_names=False, check_freq=False
    )
    assert len(result.trades) > 10
    assert set(result.trades["direction"]) == {"long", "short"}
    pd.testing.assert_frame_equal(
        files.trades, result.trades, check_dtype=False, check_index_type=False
    )


def test_an_older_folder_without_them_is_read_with_none(
    backtest: tuple[BacktestResult, Path], tmp_path: Path
) -> None:
    _, folder = backtest
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    (old / "holdings.csv").unlink()
    (old / "trades.csv").unlink()
    files = read_run_folder(old)
    assert files.holdings is None and files.trades is None
    assert not files.weights.empty


def test_holdings_without_the_cash_column_are_a_clear_error(
    backtest: tuple[BacktestResult, Path], tmp_path: Path
) -> None:
    _, folder = backtest
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    frame = pd.read_csv(broken / "holdings.csv").drop(columns="cash")
    frame.to_csv(broken / "holdings.csv", index=False)
    with pytest.raises(DataError, match=r"holdings\.csv lacks column\(s\) cash"):
        read_run_folder(broken)


def test_the_optimize_folder_has_the_best_parameters_trades(tmp_path: Path) -> None:
    scenario = {
        "data": {"universe": ["AAPL", "KO"], "start": "2012-01-03"},
        "strategy": {"name": "sma_crossover"},
        "optimize": {
            "params": {"fast_days": {"type": "int", "low": 10, "high": 40}},
            "trials": 2,
            "windows": {"train_days": 504, "test_days": 252},
        },
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["optimize", "--scenario", str(path), "--output", str(out), "-q", "--no-report"]
    assert main(argv) == 0
    files = read_run_folder(out)
    assert files.trades is not None and files.holdings is not None
    best = yaml.safe_load((out / "best_params.yaml").read_text(encoding="utf-8"))["params"]
    again = run_backtest(scenario, params=best)
    assert len(files.trades) == len(again.trades) == files.metrics["strategy_metrics"]["Trades"]


def test_a_run_without_monte_carlo_removes_an_earlier_runs_monte_carlo(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["backtest", "--output", str(out), "-q", "--no-report"]
    assert main([*argv, "--monte-carlo", "20", "--seed", "1"]) == 0
    assert (out / "monte_carlo.csv").is_file()
    assert main(argv) == 0
    assert not (out / "monte_carlo.csv").exists()
