"""The notebook API: DataFrames in, optimisation in one call, many backtests on warm data."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import portfolio_backtester as pb
from portfolio_backtester.data.builtin import load_sp500

ROOT = Path(__file__).resolve().parents[2]

SMALL_OPTIMIZE = {
    "name": "api-test",
    "strategy": {"name": "simple_momentum"},
    "optimize": {
        "params": {"lookback_months": {"type": "int", "low": 3, "high": 12}},
        "objectives": [{"metric": "Sharpe"}],
        "trials": 4,
        "mode": "walk_forward",
        "windows": {"train_days": 1260, "test_days": 1260, "kind": "rolling"},
        "seed": 3,
    },
}


@pytest.fixture(scope="module")
def sp500() -> tuple[pd.DataFrame, pd.Series]:
    prices, index = load_sp500()
    return prices, index["SP500"]


def test_frames_give_the_same_backtest_as_the_embedded_source(
    sp500: tuple[pd.DataFrame, pd.Series],
) -> None:
    prices, benchmark = sp500
    from_source = pb.run_backtest(None)
    data = pb.load_data(None, prices=prices, benchmark=benchmark)
    from_frames = pb.run_backtest(None, data=data)
    pd.testing.assert_series_equal(from_source.returns, from_frames.returns)
    assert from_source.metrics == pytest.approx(from_frames.metrics, nan_ok=True)


def test_a_series_is_one_asset_and_opens_must_match_the_closes(
    sp500: tuple[pd.DataFrame, pd.Series],
) -> None:
    prices, _ = sp500
    data = pb.load_data(None, prices=prices["AAPL"])
    assert list(data.daily.columns) == ["AAPL"]
    with pytest.raises(pb.DataError, match="column 'XOM' has no closes"):
        pb.load_data(None, prices=prices[["AAPL"]], open=prices[["AAPL", "XOM"]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.reset_index(drop=True), "the index must hold the dates"),
        (lambda p: p.astype(str), "is not numeric"),
        (lambda p: p.iloc[::-1], "dates are not sorted"),
        (lambda p: pd.concat([p.iloc[:5], p.iloc[4:]]), "duplicate date"),
        (lambda p: p.assign(AAPL=-p["AAPL"]), "is not positive"),
        (lambda p: p.assign(AAPL=np.inf), "infinite price"),
        (lambda p: p.iloc[::21], "daily prices are expected"),
        (lambda p: pd.concat({"Close": p}, axis=1), "MultiIndex"),
        (lambda p: p.set_axis(["A"] * p.shape[1], axis=1), "appears twice"),
    ],
    ids=[
        "no-dates",
        "text",
        "unsorted",
        "duplicate",
        "negative",
        "infinite",
        "monthly",
        "multiindex",
        "same-name",
    ],
)
def test_bad_frames_are_refused_with_the_fix(
    sp500: tuple[pd.DataFrame, pd.Series], change: object, message: str
) -> None:
    prices, _ = sp500
    assert callable(change)
    with pytest.raises(pb.DataError, match=message):
        pb.load_data(None, prices=change(prices.iloc[:400]))


def test_the_universe_and_benchmark_rules_of_the_scenario_apply_to_frames(
    sp500: tuple[pd.DataFrame, pd.Series],
) -> None:
    prices, benchmark = sp500
    scenario = {"data": {"universe": ["AAPL", "MSFT"], "benchmark": "XOM"}}
    data = pb.load_data(scenario, prices=prices)
    assert list(data.daily.columns) == ["AAPL", "MSFT"]
    assert list(data.benchmark.columns) == ["XOM"]
    with pytest.raises(pb.DataError, match=r"both as a Series and as data\.benchmark"):
        pb.load_data(scenario, prices=prices, benchmark=benchmark)


def test_backtest_many_gives_one_row_per_parameter_set(
    sp500: tuple[pd.DataFrame, pd.Series],
) -> None:
    prices, _ = sp500
    scenario = {"strategy": {"name": "sma_crossover"}}
    grid = [{"fast_days": 20, "slow_days": 100}, {"fast_days": 50, "slow_days": 200}]
    table, results = pb.backtest_many(scenario, grid, prices=prices[["AAPL"]], keep=True)
    assert list(table["fast_days"]) == [20, 50]
    for row, result in zip(table.to_dict("records"), results, strict=True):
        assert row["Sharpe"] == result.metrics["Sharpe"]
        # each row is the backtest of its own parameters, not of the scenario's defaults
        alone = pb.run_backtest(
            scenario, params=result.params, data=pb.load_data(None, prices=prices[["AAPL"]])
        )
        assert alone.metrics["Sharpe"] == pytest.approx(row["Sharpe"])
    assert table.loc[0, "Sharpe"] != table.loc[1, "Sharpe"]


def test_optimize_returns_the_honest_result_quietly_and_resumes_a_kept_study(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    storage = tmp_path / "study.log"
    first = pb.optimize(SMALL_OPTIMIZE, storage=storage)
    assert not [r for r in caplog.records if r.name.startswith("optuna")]
    assert first.out_of_sample is not None
    assert set(first.best_params) == {"lookback_months"}
    assert first.in_sample.params["lookback_months"] == first.best_params["lookback_months"]
    evaluated = first.trials["duplicate_of"].isna()  # a repeat reuses an evaluation, free
    assert int(evaluated.sum()) == 4 * len(first.result.windows)
    assert "out-of-sample, the honest estimate" in first.summary()
    assert first.storage_url == f"journal://{storage.resolve()}"
    again = pb.optimize(SMALL_OPTIMIZE, storage=storage, trials=2)
    assert int(again.trials["duplicate_of"].isna().sum()) == 6 * len(again.result.windows)
    assert any("resuming study" in event for event in again.result.events)
    written = again.save(tmp_path / "run", report=False)
    assert (written / "best_params.yaml").is_file()
    assert (written / "trials.csv").is_file()


def test_a_temporary_study_leaves_nothing_behind(tmp_path: Path) -> None:
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("pbt-study-*"))
    result = pb.optimize(SMALL_OPTIMIZE, trials=2)
    assert result.storage_url is None
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("pbt-study-*")) == before


def test_optimize_refuses_a_scenario_without_an_optimize_section() -> None:
    with pytest.raises(pb.ScenarioError, match="no 'optimize' section"):
        pb.optimize({"strategy": {"name": "equal_weight"}})


def test_the_notebook_example_runs(tmp_path: Path) -> None:
    """The README's notebook example, as a script in a fresh process, workers spawned."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "notebook.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "out-of-sample Sharpe" in done.stdout
    assert "A new study created" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
