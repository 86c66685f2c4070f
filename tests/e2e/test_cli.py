"""The command line end to end: real runs on the embedded data, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from portfolio_backtester.cli import main
from portfolio_backtester.strategies import STRATEGIES

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_default_backtest_writes_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["backtest", "--output", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "Sharpe" in printed and "SP500" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strategy"] == "simple_momentum"
    assert set(metrics["strategy_metrics"]) >= {"Sharpe", "CAGR", "Max Drawdown", "Beta"}
    returns = pd.read_csv(out / "returns.csv", index_col="date", parse_dates=True)
    assert list(returns.columns[:2]) == ["portfolio", "benchmark"]
    assert returns.index.is_monotonic_increasing and len(returns) > 7000
    weights = pd.read_csv(out / "weights.csv", index_col="date", parse_dates=True)
    assert weights.shape[1] == 20
    holdings = pd.read_csv(out / "holdings.csv", index_col="date", parse_dates=True)
    assert list(holdings.columns) == [*weights.columns, "cash"]
    assert holdings.index.equals(returns.index)
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == metrics["strategy_metrics"]["Trades"] > 100
    assert (out / "equity.png").stat().st_size > 10_000


STRATEGY_FILES = {"file_signal": {"path": str(REPO / "examples" / "scores.csv")}}
"""The parameters of strategies that need a file of the user's to run."""


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_backtests_through_the_cli(
    name: str, tmp_path: Path, write_scenario: Any
) -> None:
    scenario = write_scenario(
        {
            "name": name,
            "data": {"start": "2015-01-02", "end": "2018-12-31"},
            "strategy": {"name": name, "params": STRATEGY_FILES.get(name, {})},
        }
    )
    out = tmp_path / "out"
    assert (
        main(["backtest", "--scenario", str(scenario), "--output", str(out), "-q", "--no-report"])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["start"] >= "2015-01-02" and metrics["end"] <= "2018-12-31"
    returns = pd.read_csv(out / "returns.csv")
    assert returns["portfolio"].notna().all()


BAD_SCENARIOS: list[tuple[str, str]] = [
    ("name: x\nstrategy: [unclosed\n", "invalid YAML at line"),
    ("strategy:\n  nmae: simple_momentum\n", "strategy.nmae: unknown key"),
    ("strategy:\n  name: simple_momentun\n", "did you mean 'simple_momentum'"),
    (
        "strategy:\n  name: simple_momentum\n  params: {lookbak_months: 3}\n",
        "did you mean 'lookback_months'",
    ),
    ("strategy:\n  name: simple_momentum\n  params: {top_n: many}\n", "top_n"),
    ("data: {source: csv, path: missing.csv}\n", "data file not found"),
    ("data: {universe: [AAPL, NOPE]}\n", "'NOPE' is not in the data"),
    ("data: {start: 1970-01-01}\n", "outside the data"),
    (
        "data: {start: 1990-01-05}\nstrategy: {name: simple_momentum}\n",
        "needs .* trading days of history",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_SCENARIOS)
def test_user_mistakes_end_in_one_line_and_exit_code_2(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["backtest", "--scenario", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    import re

    assert re.search(expected, lines[0]), lines[0]
    assert not out.exists(), "nothing may be written for a bad scenario"


def test_missing_scenario_file_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--scenario", str(tmp_path / "nope.yaml")]) == 2
    assert "scenario file not found" in capsys.readouterr().err


def test_python_dash_m_runs_in_a_real_subprocess(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "portfolio_backtester",
            "backtest",
            "--scenario",
            str(REPO / "examples" / "momentum.yaml"),
            "--output",
            str(tmp_path / "m"),
            "-q",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Sharpe" in done.stdout
    assert (tmp_path / "m" / "metrics.json").exists()


def test_bad_input_in_a_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("strategy: {name: nope}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "portfolio_backtester", "backtest", "--scenario", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()
