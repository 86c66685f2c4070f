"""A strategy of one's own end to end: the example in examples/strategies, named in its
scenarios as "module:ClassName" and found beside them, never on the Python path; run from
another working directory, in spawned workers, and by a host that joins the study."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from portfolio_backtester import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.optimization.plan import plan_studies
from portfolio_backtester.optimization.storage import open_storage

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "strategies"
NAME = "momentum_vol_target:MomentumVolTarget"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh interpreter whose Python path lacks the examples."""
    path = os.environ.get("PYTHONPATH", "")
    assert str(EXAMPLES) not in path
    return subprocess.run(
        [sys.executable, "-m", "portfolio_backtester", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _trials(folder: Path) -> list[dict[str, str]]:
    with (folder / "trials.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_backtest_from_another_working_directory(tmp_path: Path) -> None:
    done = _cli(
        "backtest",
        "--scenario",
        str(EXAMPLES / "momentum_vol_target.yaml"),
        "--output",
        "out",
        "--no-report",
        "-q",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"momentum-vol-target: {NAME} lookback_months=12" in done.stdout
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["strategy"] == NAME
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["scenario"]["strategy"]["folder"] == str(EXAMPLES)


def test_optimize_in_two_spawned_workers(tmp_path: Path) -> None:
    scenario = EXAMPLES / "momentum_vol_target_optimize.yaml"
    done = _cli(
        "optimize", "--scenario", str(scenario), "--output", "out", "--no-report", "-q",
        "--n-jobs", "2", "--trials", "2", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "with 2 worker(s)" in done.stdout
    trials = _trials(tmp_path / "out")
    assert trials and {row["state"] for row in trials} == {"COMPLETE"}
    # Both spawned workers imported the module from the scenario's folder and scored trials.
    assert len({row["worker"] for row in trials}) == 2


def test_a_joining_host_finds_the_strategy_from_the_study(tmp_path: Path) -> None:
    """The study records the folder; `worker`, started elsewhere, imports from there."""
    document: dict[str, Any] = yaml.safe_load(
        (EXAMPLES / "momentum_vol_target_optimize.yaml").read_text(encoding="utf-8")
    )
    document["optimize"] |= {"mode": "cv", "sampler": "random"}
    document["data"]["end"] = "2012-12-31"
    (tmp_path / "host-a").mkdir()
    scenario_file = tmp_path / "host-a" / "s.yaml"
    document["strategy"]["folder"] = str(EXAMPLES)
    scenario_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    scenario = load_scenario(scenario_file)
    url = f"journal://{tmp_path / 'journal.log'}"
    data = build_optimization_data(load_market_data(scenario.data))
    (plan,) = plan_studies(scenario, data, open_storage(url), "shared", 4)
    (tmp_path / "host-b").mkdir()
    done = _cli(
        "worker", "--storage", url, "--study-name", "shared", "--n-jobs", "2",
        "--data-dir", str(tmp_path), "-q", cwd=tmp_path / "host-b",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import optuna

    study = optuna.load_study(study_name=plan.name, storage=open_storage(url))
    states = [trial.state.name for trial in study.trials]
    assert states == ["COMPLETE"] * 4


def test_a_class_from_a_notebook_is_refused_for_parallel_workers(tmp_path: Path) -> None:
    """A class in an interactive __main__ runs in-process, and is refused, with how to fix
    it, before any worker is spawned."""
    script = textwrap.dedent(
        """
        import portfolio_backtester as pb
        from portfolio_backtester.data import build_optimization_data, load_market_data
        from portfolio_backtester.strategies import STRATEGIES

        class Mine(STRATEGIES["equal_weight"]):
            pass

        scenario = pb.load_scenario({
            "data": {"start": "2012-01-03", "end": "2015-12-31"},
            "strategy": Mine,
            "optimize": {"params": {"rebalance": {"type": "categorical",
                                                  "choices": ["monthly", "quarterly"]}},
                         "windows": {"train_days": 252, "test_days": 252}},
        })
        print(pb.run_backtest(scenario).scenario.strategy.name)
        data = build_optimization_data(load_market_data(scenario.data))
        runner = pb.ParallelOptimizationRunner(
            scenario=scenario, data=data, storage_url="journal://" + "{journal}",
            study_name="s", n_jobs=2, trials=2, oversubscribe=True)
        try:
            runner.run()
        except pb.ScenarioError as error:
            print("refused:", error)
        """
    ).replace("{journal}", str(tmp_path / "journal.log"))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "__main__:Mine"
    assert lines[1].startswith("refused: strategy '__main__:Mine' is defined in a notebook")
    assert "move the class into a module file" in lines[1]
