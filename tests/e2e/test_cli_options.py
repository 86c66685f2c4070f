"""Command-line ergonomics: where options may go, what each command offers, what it says."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from portfolio_backtester.cli import main

pytestmark = pytest.mark.e2e

SHORT = {
    "name": "short",
    "data": {"universe": ["AAPL", "KO", "XOM"], "start": "2012-01-03", "end": "2014-12-31"},
    "strategy": {"name": "equal_weight"},
}


@pytest.mark.parametrize(
    "before, after",
    [(["-q"], []), ([], ["-q"]), (["-q"], None), (["-q", "--debug"], ["-v"])],
    ids=["before", "after", "no-command", "both"],
)
def test_global_options_go_before_or_after_the_command(
    before: list[str],
    after: list[str] | None,
    tmp_path: Path,
    write_scenario: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = write_scenario(SHORT)
    rest = ["--scenario", str(scenario), "--output", str(tmp_path / "out"), "--no-report"]
    argv = [*before, *rest] if after is None else [*before, "backtest", *rest, *after]
    handlers = logging.getLogger().handlers[:]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "Sharpe" in out
    # -q keeps the run's info lines off stderr; -v (given last) shows them and debug lines.
    assert (" INFO " in err) == ("-v" in argv), err
    assert logging.getLogger().handlers == handlers  # main() leaves logging as it found it


@pytest.mark.parametrize(
    "command, absent",
    [
        ("strategies", ["--output", "--no-report", "--scenario", "--storage"]),
        ("report", ["--output", "--no-report", "--scenario", "--trials"]),
        ("worker", ["--output", "--no-report", "--scenario", "--fresh"]),
        ("backtest", ["--trials", "--storage", "--n-jobs"]),
    ],
)
def test_each_command_shows_only_its_own_options(
    command: str, absent: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "--quiet" in shown and "--debug" in shown
    for option in absent:
        assert option not in shown, f"{command} --help lists {option}"


def test_a_command_refuses_another_commands_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["strategies", "--output", "x"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --output" in capsys.readouterr().err


def test_the_end_of_run_line_lists_every_file_written(
    tmp_path: Path, write_scenario: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["backtest", "--scenario", str(write_scenario(SHORT)), "--output", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = re.fullmatch(r"wrote (.+)/: (.+)", last)
    assert match is not None, last
    assert Path(match[1]) == out
    listed = match[2].split(", ")
    assert listed[0] == "report.html"
    on_disk = {p.name + ("/" if p.is_dir() else "") for p in out.iterdir()}
    assert set(listed) == on_disk and len(listed) == len(on_disk)


def test_a_resumed_study_says_so_before_it_runs(
    tmp_path: Path, write_scenario: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {
        **SHORT,
        "strategy": {"name": "simple_momentum"},
        "optimize": {
            "params": {"top_n": {"type": "int", "low": 1, "high": 3}},
            "sampler": "random",
            "windows": {"train_days": 252, "test_days": 126},
            "mode": "cv",
            "holdout": None,
        },
    }
    scenario = str(write_scenario(document))
    storage = f"journal:///{(tmp_path / 'study.log').as_posix()}"
    first = ["optimize", "--scenario", scenario, "--storage", storage, "--no-report", "-q"]
    assert main([*first, "--trials", "2", "--output", str(tmp_path / "a")]) == 0
    assert "resuming" not in capsys.readouterr().out
    assert main([*first, "--trials", "1", "--output", str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "note: resuming study 'short': it has 2 trial(s) from earlier runs; this run adds 1, "
        "to 3 in all (--fresh starts over, another --study-name starts a new study)"
    )
    assert sum("resuming" in line for line in lines) == 1


def test_a_monte_carlo_adds_its_percentiles_and_fan_to_the_run_folder(
    tmp_path: Path, write_scenario: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import pandas as pd

    scenario = str(write_scenario(SHORT))
    out = tmp_path / "out"
    argv = ["backtest", "--scenario", scenario, "--output", str(out), "--no-report", "-q"]
    assert main([*argv, "--monte-carlo", "50", "--seed", "3"]) == 0
    assert "Monte Carlo: 50 stationary-bootstrap paths" in capsys.readouterr().out
    summary = json.loads((out / "metrics.json").read_text())["monte_carlo"]
    assert summary["paths"] == 50 and summary["seed"] == 3
    for name in ("CAGR", "Sharpe", "Max Drawdown"):
        band = summary["percentiles"][name]
        assert list(band) == ["p5", "p25", "p50", "p75", "p95"]
        assert band["p5"] <= band["p50"] <= band["p95"]
    fan = pd.read_csv(out / "monte_carlo.csv", index_col="date")
    returns = pd.read_csv(out / "returns.csv", index_col="date")
    assert len(fan) == len(returns)

    refused = tmp_path / "refused"
    argv = ["backtest", "--scenario", scenario, "--output", str(refused), "--no-report"]
    assert main([*argv, "--monte-carlo", "3"]) == 2
    assert "at least 10 paths" in capsys.readouterr().err
    assert not refused.exists()
