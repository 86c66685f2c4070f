"""Results that must not be accepted silently, and run folders that are complete or absent.

Real files and the real command line: absurd prices, a portfolio that loses everything, a
user strategy that raises, shorts a long-only portfolio cannot hold, outputs that cannot be
written, and a failure while the run folder is written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_backtester.backtest import SURVIVORS_NOTE
from portfolio_backtester.cli import main
from portfolio_backtester.reporting.staging import publishing

TESTS = Path(__file__).resolve().parents[1]


def _prices(folder: Path, closes: np.ndarray[Any, Any], name: str = "prices.csv") -> Path:
    days = pd.bdate_range("2015-01-02", periods=len(closes))
    path = folder / name
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "AAA": closes}).to_csv(path, index=False)
    return path


def _scenario(folder: Path, **document: Any) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_prices_that_overflow_the_portfolio_value_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closes = np.geomspace(1.0, 1e300, 300)
    data = {"source": "csv", "path": str(_prices(tmp_path, closes)), "benchmark": None}
    scenario = _scenario(tmp_path, data=data, strategy={"name": "buy_and_hold"})
    out = tmp_path / "out"
    assert main(["backtest", "--scenario", str(scenario), "--output", str(out), "-q"]) == 2
    assert "above 1e+15" in _one_error(capsys)
    assert not out.exists()


def test_a_portfolio_that_loses_everything_stops_and_says_when(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Short a falling asset, then it triples in a day: the value goes below zero. That day
    loses 100 %, nothing is held after it, and the output names the day."""
    closes = np.concatenate([np.linspace(100, 60, 80), [180.0], np.linspace(181, 200, 40)])
    data = {"source": "csv", "path": str(_prices(tmp_path, closes)), "benchmark": None}
    strategy = {"name": "sma_crossover", "params": {"fast_days": 5, "slow_days": 20}}
    strategy["params"]["mode"] = "long_short"
    scenario = _scenario(tmp_path, data=data, strategy=strategy, portfolio={"allow_short": True})
    out = tmp_path / "out"
    argv = ["backtest", "--scenario", str(scenario), "--output", str(out), "--no-report"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    ruin_day = pd.bdate_range("2015-01-02", periods=len(closes))[80]
    assert f"lost everything on {ruin_day:%Y-%m-%d}" in stdout
    returns = pd.read_csv(out / "returns.csv", index_col=0, parse_dates=True)["portfolio"]
    assert returns.loc[ruin_day] == -1.0
    assert (returns.loc[ruin_day:].iloc[1:] == 0.0).all()
    metrics = yaml.safe_load((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["strategy_metrics"]["Total Return"] == pytest.approx(-1.0)
    assert any("lost everything" in w for w in metrics["warnings"])


def test_a_user_strategy_that_raises_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {"universe": ["AAPL", "KO"], "start": "2015-01-02", "end": "2016-12-30"}
    strategy = {"name": "fault_strategy:FaultStrategy", "params": {"mode": "raise"}}
    scenario = _scenario(tmp_path, data=data, strategy=strategy)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    argv = [sys.executable, "-m", "portfolio_backtester", "backtest", "--scenario"]
    argv += [str(scenario), "--output", str(out), "-q"]
    plain = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert plain.returncode == 2, plain.stderr
    (line,) = [x for x in plain.stderr.splitlines() if x.startswith("error:")]
    assert "'fault_strategy'" in line and "'mode': 'raise'" in line and "ValueError" in line
    assert "Traceback" not in plain.stderr and not out.exists()
    debug = subprocess.run([*argv, "--debug"], env=env, capture_output=True, text=True)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_shorts_that_a_long_only_portfolio_cannot_hold_are_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strategy = {"name": "sma_crossover", "params": {"mode": "long_short"}}
    scenario = _scenario(
        tmp_path,
        data={"universe": ["AAPL"]},
        strategy=strategy,
        portfolio={"allow_short": False},
    )
    out = tmp_path / "out"
    assert main(["backtest", "--scenario", str(scenario), "--output", str(out)]) == 2
    assert "allow_short is false" in _one_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["a file", "a folder nobody can create"])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "taken"
    if kind == "a file":
        target.write_text("mine", encoding="utf-8")
    else:
        target = Path("/proc/portfolio-backtester-test/out")  # not writable, even by root
    for command in ("backtest", "optimize"):
        assert main([command, "--output", str(target), "-q"]) == 2
        line = _one_error(capsys)
        assert "--output" in line or "cannot write the run folder" in line
    if kind == "a file":
        assert target.read_text(encoding="utf-8") == "mine"


def test_a_failure_while_the_run_folder_is_written_leaves_nothing_of_it(
    tmp_path: Path,
) -> None:
    output = tmp_path / "run"
    output.mkdir()
    (output / "optuna-journal.log").write_text("the study", encoding="utf-8")
    with pytest.raises(RuntimeError), publishing(output) as staging:
        (staging / "metrics.json").write_text("{}", encoding="utf-8")
        (staging / "returns.csv").write_text("date,portfolio\n", encoding="utf-8")
        raise RuntimeError("the disk filled up")
    assert sorted(p.name for p in output.iterdir()) == ["optuna-journal.log"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"], "no staging folder is left"


def test_a_new_run_in_an_old_folder_leaves_no_file_of_the_old_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "oos_returns.csv").write_text("date,portfolio\n", encoding="utf-8")
    (out / "figures").mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["backtest", "--output", str(out), "--no-report", "-q"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "oos_returns.csv" not in names and "figures" not in names
    assert {"metrics.json", "returns.csv", "holdings.csv", "trades.csv", "notes.txt"} <= names


def test_every_run_on_the_built_in_data_says_they_are_survivors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--output", str(tmp_path / "out"), "--no-report", "-q"]) == 0
    assert f"warning: {SURVIVORS_NOTE}" in capsys.readouterr().out


def test_a_search_that_would_short_a_long_only_portfolio_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mode = {"type": "categorical", "choices": ["long_flat", "long_short"]}
    scenario = _scenario(
        tmp_path,
        data={"universe": ["AAPL"]},
        strategy={"name": "sma_crossover"},
        optimize={"params": {"mode": mode}},
    )
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(scenario), "--output", str(out), "-q"]) == 2
    assert "choice 'long_short'" in _one_error(capsys)


@pytest.mark.parametrize(
    "url", ["sqlite:////nonexistent-pbt-folder/study.db", "journal:///proc/pbt/journal.log"]
)
def test_a_storage_in_a_folder_that_cannot_exist_is_one_error(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["optimize", "--storage", url, "--output", str(out), "-q"]) == 2
    assert "folder" in _one_error(capsys)
    assert not out.exists()


def test_negative_targets_of_a_long_only_portfolio_are_clipped_with_a_warning(
    tmp_path: Path,
) -> None:
    """A user strategy that shorts anyway: traded long-only, weights.csv shows what was
    traded, and the warning counts the clipped weights."""
    from portfolio_backtester.backtest import run_backtest

    module = tmp_path / "shorting.py"
    module.write_text(
        "import numpy as np\n"
        "from portfolio_backtester.strategies import BaseStrategy\n"
        "class Shorting(BaseStrategy):\n"
        "    name = 'shorting'\n"
        "    description = 'short the first asset, long the second'\n"
        "    parameters = ()\n"
        "    def generate_weights(self, data, params):\n"
        "        w = data.monthly.copy() * 0.0\n"
        "        w.iloc[:, 0], w.iloc[:, 1] = -0.5, 1.0\n"
        "        return w.fillna(0.0)\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(tmp_path))
    try:
        result = run_backtest(
            {
                "data": {"universe": ["AAPL", "KO"], "start": "2015-01-02", "end": "2016-12-30"},
                "strategy": {"name": "shorting:Shorting"},
            }
        )
    finally:
        sys.path.remove(str(tmp_path))
    assert (result.weights.to_numpy() >= 0).all()
    assert any("negative target weight(s)" in w for w in result.warnings)
    assert (result.holdings["AAPL"] == 0.0).all()
