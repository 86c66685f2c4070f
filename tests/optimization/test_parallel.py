"""Parallel optimisation with real spawned workers, real files, real signals."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import OptimizationError
from portfolio_backtester.optimization.objective import evaluate_params
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.storage import default_storage_url, open_storage
from portfolio_backtester.optimization.study import build_windows

TESTS = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def fault_scenario(mode: str = "ok", sleep_s: float = 0.0, trials: int = 12) -> dict[str, Any]:
    return {
        "name": "fault",
        "data": {"universe": ["AAPL", "KO", "XOM"], "start": "2012-01-03", "end": "2016-12-30"},
        "strategy": {
            "name": "fault_strategy:FaultStrategy",
            "params": {"mode": mode, "sleep_s": sleep_s},
        },
        "optimize": {
            "params": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
            "sampler": "random",
            "trials": trials,
            "windows": {"train_days": 252, "test_days": 252},
        },
    }


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


def _trials(tmp_path: Path) -> list[optuna.trial.FrozenTrial]:
    storage = open_storage(default_storage_url(tmp_path))
    return optuna.load_study(study_name="s", storage=storage).trials


def test_workers_spend_exactly_the_budget_and_clean_up(tmp_path: Path) -> None:
    result, data = _run(fault_scenario(sleep_s=0.15, trials=16), tmp_path, n_jobs=2)
    trials = _trials(tmp_path)
    assert len(trials) == 16
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both workers took trials"
    assert result.n_jobs == 2
    assert list((tmp_path / "data").iterdir()) == []
    assert multiprocessing.active_children() == []
    # The parent continues on the mapped copy: read-only views of the (now deleted) files.
    assert not data.daily.to_numpy().flags.writeable


def test_a_trial_in_a_worker_scores_exactly_as_in_the_parent(tmp_path: Path) -> None:
    document = fault_scenario(trials=4)
    _run(document, tmp_path, n_jobs=2)
    scenario = load_scenario(document)
    data = build_optimization_data(load_market_data(scenario.data))
    windows = build_windows(scenario, data)
    for trial in _trials(tmp_path):
        expected = evaluate_params(scenario, data, trial.params, windows).values
        assert trial.values == list(expected)


def test_an_exception_inside_a_trial_fails_that_trial_only(tmp_path: Path) -> None:
    result, _ = _run(fault_scenario(mode="raise_high_x", trials=12), tmp_path, n_jobs=2)
    trials = _trials(tmp_path)
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


# --- the CLI in a real process tree, signalled from outside -------------------------------


def _start_cli(tmp_path: Path, document: dict[str, Any], *extra: str) -> subprocess.Popen[str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    (tmp_path / "pids").mkdir(exist_ok=True)
    (tmp_path / "data").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(TESTS), "PBT_TEST_PID_DIR": str(tmp_path / "pids")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portfolio_backtester",
            "optimize",
            "--scenario",
            str(scenario),
            "--output",
            str(tmp_path),
            "--study-name",
            "s",
            "--data-dir",
            str(tmp_path / "data"),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _worker_pids(tmp_path: Path, parent: int, n: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(p.name) for p in (tmp_path / "pids").iterdir() if int(p.name) != parent]
        if len(pids) >= n:
            return pids
        time.sleep(0.1)
    raise AssertionError("workers did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_two_workers_through_the_cli(tmp_path: Path) -> None:
    process = _start_cli(tmp_path, fault_scenario(trials=6), "--n-jobs", "2")
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert "with 2 worker(s)" in out
    assert "mapped" in err and "saved" in err
    assert len(_trials(tmp_path)) == 6
    assert list((tmp_path / "data").iterdir()) == []


def test_a_killed_worker_loses_only_its_trial(tmp_path: Path) -> None:
    process = _start_cli(tmp_path, fault_scenario(sleep_s=0.4, trials=16), "--n-jobs", "2")
    victim = _worker_pids(tmp_path, process.pid, 2)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    trials = _trials(tmp_path)
    assert len(trials) == 16
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    lost = [t for t in trials if t.state == TrialState.FAIL]
    assert len(lost) == 1 and "died" in lost[0].user_attrs["fail_reason"]
    assert "exited with code -9" in out + err
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupting_the_parent_stops_everything_and_the_study_resumes(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    document = fault_scenario(sleep_s=0.3, trials=40)
    process = _start_cli(tmp_path, document, "--n-jobs", "2")
    workers = _worker_pids(tmp_path, process.pid, 2)
    time.sleep(1.0)
    process.send_signal(sig)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert not [pid for pid in workers if _alive(pid)]
    assert list((tmp_path / "data").iterdir()) == []
    trials = _trials(tmp_path)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    finished = len(trials)
    assert 0 < finished < 40
    again = _start_cli(tmp_path, document, "--n-jobs", "2", "--trials", "5")
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert len(_trials(tmp_path)) == finished + 5
