"""Parallel optimisation with real spawned workers, real files, real signals."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import OptimizationError
from portfolio_backtester.optimization.objective import evaluate_params
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.plan import build_windows
from portfolio_backtester.optimization.storage import default_storage_url
from processes import fault_scenario, start_cli, study_trials

pytestmark = pytest.mark.slow


def _run(document: dict[str, Any], tmp_path: Path, **kwargs: Any) -> Any:
    scenario = load_scenario(document)
    data = build_optimization_data(load_market_data(scenario.data))
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=data,
        storage_url=default_storage_url(tmp_path),
        study_name="s",
        data_dir=tmp_path / "data",
        **kwargs,
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return runner.run()


# The exact budget, both workers taking trials and the clean-up are the storage contract's
# (tests/optimization/test_storage_contract.py::test_two_workers_spend_exactly_the_budget).


def test_the_parent_goes_on_with_its_own_data_and_leaves_no_process(tmp_path: Path) -> None:
    """The parent never maps the shared files (Windows could not delete them): the data it
    returns are the data it was given, and no worker outlives the run."""
    scenario = load_scenario(fault_scenario(trials=4))
    data = build_optimization_data(load_market_data(scenario.data))
    (tmp_path / "data").mkdir()
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=data,
        storage_url=default_storage_url(tmp_path),
        study_name="s",
        n_jobs=2,
        data_dir=tmp_path / "data",
    )
    result, returned = runner.run()
    assert returned is data
    assert result.n_jobs == 2
    assert len(study_trials(tmp_path)) == 4
    assert multiprocessing.active_children() == []
    assert list((tmp_path / "data").iterdir()) == []


def test_a_trial_in_a_worker_scores_exactly_as_in_the_parent(tmp_path: Path) -> None:
    document = fault_scenario(trials=4)
    _run(document, tmp_path, n_jobs=2)
    scenario = load_scenario(document)
    data = build_optimization_data(load_market_data(scenario.data))
    windows = build_windows(scenario, data)
    for trial in study_trials(tmp_path):
        expected = evaluate_params(scenario, data, trial.params, windows).values
        assert trial.values == list(expected)


def test_an_exception_inside_a_trial_fails_that_trial_only(tmp_path: Path) -> None:
    result, _ = _run(fault_scenario(mode="raise_high_x", trials=12), tmp_path, n_jobs=2)
    trials = study_trials(tmp_path)
    assert len(trials) == 12
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all(t.params["x"] > 0.5 for t in failed)
    assert all("injected failure" in t.user_attrs["fail_reason"] for t in failed)
    assert result.best_params["x"] <= 0.5
    assert multiprocessing.active_children() == []


def test_a_strategy_cannot_write_into_the_shared_data(tmp_path: Path) -> None:
    with pytest.raises(OptimizationError, match=r"no usable trial.*read-only"):
        _run(fault_scenario(mode="write", trials=4), tmp_path, n_jobs=2)
    assert list((tmp_path / "data").iterdir()) == []


def test_two_workers_through_the_cli(tmp_path: Path) -> None:
    process = start_cli(tmp_path, fault_scenario(trials=6), "--n-jobs", "2")
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert "with 2 worker(s)" in out
    assert "mapped" in err and "saved" in err
    assert len(study_trials(tmp_path)) == 6
    assert list((tmp_path / "data").iterdir()) == []
