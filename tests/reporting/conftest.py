"""Run folders made by the real pipeline, once per module: a backtest and three optimisations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from portfolio_backtester.backtest import run_backtest
from portfolio_backtester.cli import main
from portfolio_backtester.reporting.html import build_report


def _optimize(folder: Path, **optimize: Any) -> Path:
    """Run ``optimize`` through the command line on a small scenario; return its folder."""
    scenario = {
        "name": folder.name,
        # Twenty years instead of thirty keep the runs short without changing what they show.
        "data": {"start": "2002-01-02"},
        "strategy": {"name": "simple_momentum"},
        "optimize": {
            "params": {
                "lookback_months": {"type": "int", "low": 3, "high": 12},
                "top_n": {"type": "int", "low": 2, "high": 6},
            },
            "trials": 6,
            "windows": {"train_days": 756, "test_days": 252},
            **optimize,
        },
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    out = folder / "out"
    argv = ["optimize", "--scenario", str(path), "--trials", "6", "--output", str(out), "-q"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def backtest_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default scenario's backtest folder, with its report."""
    folder = tmp_path_factory.mktemp("backtest")
    run_backtest(None).save(folder)
    build_report(folder)
    return folder


@pytest.fixture(scope="module")
def optimize_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single-objective optimisation folder (the scenario's default mode)."""
    return _optimize(tmp_path_factory.mktemp("optimize"))


@pytest.fixture(scope="module")
def walk_forward_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _optimize(tmp_path_factory.mktemp("walk_forward"), mode="walk_forward")


@pytest.fixture(scope="module")
def multi_objective_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _optimize(
        tmp_path_factory.mktemp("multi_objective"),
        objectives=[{"metric": "Sharpe"}, {"metric": "Max Drawdown"}],
    )
