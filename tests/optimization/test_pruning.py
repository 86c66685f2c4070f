"""Pruning cv trials between windows: off by default, deterministic with a seed, recorded as
PRUNED with the running score of each window seen, never the best, in the statistics."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from optuna.trial import FrozenTrial, TrialState
from study_runs import SHARED_STORAGES, run_study, shared_storage

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.attributes import trial_evaluation
from portfolio_backtester.optimization.objective import Objective, evaluate_params
from portfolio_backtester.optimization.plan import build_windows, spent_trials
from processes import start_cli, study_trials

SPACE = {  # 230 points: wide enough that pruning has trials to stop
    "lookback_months": {"type": "int", "low": 2, "high": 24},
    "top_n": {"type": "int", "low": 1, "high": 10},
}
PRUNING = {"enabled": True, "n_startup_trials": 4, "n_warmup_steps": 1}


def _document(**optimize: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "data": {"start": "2008-01-02", "end": "2016-12-30"},
        "strategy": {"name": "simple_momentum", "params": {"skip_months": 0}},
        "optimize": {
            "params": SPACE,
            "sampler": "random",
            "seed": 5,
            "trials": 24,
            "windows": {"train_days": 504, "test_days": 252},
            **optimize,
        },
    }


@pytest.fixture(scope="module")
def data() -> Any:
    return build_optimization_data(load_market_data(load_scenario(_document()).data))


def _trials(folder: Path) -> list[FrozenTrial]:
    return study_trials(folder)


@pytest.fixture(params=SHARED_STORAGES)
def shared(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, str]]:
    yield from shared_storage(request.param, "pruning")


def test_pruning_is_off_by_default_and_leaves_the_fingerprint_as_it_was(
    data: Any, tmp_path: Path
) -> None:
    plain = load_scenario(_document())
    assert plain.optimize is not None and not plain.optimize.pruning.enabled
    assert "pruning" not in plain.model_dump()["optimize"]
    off = load_scenario(_document(pruning={"enabled": False, "n_startup_trials": 9}))
    assert off.fingerprint() == plain.fingerprint()
    on = load_scenario(_document(pruning=PRUNING))
    assert on.fingerprint() != plain.fingerprint()
    assert on.model_dump()["optimize"]["pruning"]["n_startup_trials"] == 4
    result = run_study(_document(trials=10), data, tmp_path)
    assert set(result.trial_states) == {"COMPLETE"}
    assert all(t.intermediate_values == {} for t in _trials(tmp_path))


@pytest.mark.parametrize(
    ("optimize", "expected"),
    [
        ({"mode": "walk_forward"}, "Use mode: cv"),
        (
            {"objectives": [{"metric": "Sharpe"}, {"metric": "CAGR"}]},
            "2 objectives are set",
        ),
        ({"pruning": {"enabled": True, "pruner": "hyperband"}}, "Input should be 'median'"),
        ({"pruning": {"enabled": True, "n_warmup_steps": -1}}, "greater than or equal to 0"),
    ],
)
def test_pruning_where_it_cannot_work_is_refused(optimize: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(_document(**{"pruning": PRUNING, **optimize}))


def test_a_pruned_trial_records_the_running_score_of_each_window_it_saw(
    data: Any, tmp_path: Path
) -> None:
    document = _document(pruning=PRUNING)
    result = run_study(document, data, tmp_path)
    scenario = load_scenario(document)
    windows = build_windows(scenario, data)
    trials = _trials(tmp_path)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert pruned and complete, result.trial_states
    assert spent_trials(trials) == 24, "pruned trials were evaluated: they spend the budget"
    assert all(t.number >= 4 for t in pruned), "the first trials finish unpruned"
    for trial in pruned:
        last = trial.last_step
        assert last is not None
        assert 1 <= last < len(windows) - 1, "not before the warm-up, not after the last window"
        # Reported where the pruner checks only: from the warm-up's end on.
        assert sorted(trial.intermediate_values) == list(range(1, last + 1))
        seen = windows[: last + 1]
        assert trial.value == pytest.approx(
            evaluate_params(scenario, data, trial.params, seen).values[0], abs=1e-12
        )
        window_values = trial_evaluation(trial)["window_values"]
        assert len(window_values) == last + 1
        running = np.cumsum([v[0] for v in window_values]) / np.arange(1, last + 2)
        np.testing.assert_allclose(
            [trial.intermediate_values[k] for k in range(1, last + 1)], running[1:], rtol=1e-12
        )
    for trial in complete:
        repeated = "duplicate_of" in trial_evaluation(trial)
        # A repeat reports nothing: the pruner's median counts a parameter set once.
        steps = [] if repeated else list(range(1, len(windows) - 1))
        assert sorted(trial.intermediate_values) == steps
        assert trial.value == pytest.approx(
            evaluate_params(scenario, data, trial.params, windows).values[0], abs=1e-12
        )
    best = max(complete, key=lambda t: t.values[0])
    assert result.best_params == best.params
    assert result.best_values[0] == best.values[0]
    # The statistics count every distinct parameter set tried, pruned ones rebuilt whole.
    distinct = [t for t in trials if "duplicate_of" not in trial_evaluation(t)]
    distinct_pruned = sum(t.state == TrialState.PRUNED for t in distinct)
    overfitting = result.overfitting["studies"][0]
    assert overfitting["n_pruned"] == distinct_pruned
    assert overfitting["n_trials"] == len(distinct)
    assert overfitting["rebuilt_trials"] == distinct_pruned
    frame = result.trials
    assert (frame["state"] == "PRUNED").sum() == len(pruned)


def test_a_check_every_few_windows_reports_only_there(data: Any, tmp_path: Path) -> None:
    pruning = {**PRUNING, "interval_steps": 2}
    result = run_study(_document(pruning=pruning, trials=12), data, tmp_path)
    n_windows = len(build_windows(load_scenario(_document()), data))
    checks = list(range(1, n_windows - 1, 2))
    assert "PRUNED" in result.trial_states
    for trial in _trials(tmp_path):
        if "duplicate_of" in trial_evaluation(trial):
            continue
        if trial.state == TrialState.COMPLETE:
            assert sorted(trial.intermediate_values) == checks
        else:
            assert trial.last_step is not None
            assert sorted(trial.intermediate_values) == checks[: checks.index(trial.last_step) + 1]


def test_the_same_seed_prunes_the_same_trials(data: Any, tmp_path: Path) -> None:
    document = _document(pruning=PRUNING, sampler="tpe", trials=20)
    runs = []
    for name in ("a", "b"):
        run_study(document, data, tmp_path / name)
        runs.append([(t.state, t.params, t.intermediate_values) for t in _trials(tmp_path / name)])
    assert runs[0] == runs[1]
    assert any(state == TrialState.PRUNED for state, _, _ in runs[0])


@pytest.mark.slow
def test_two_workers_prune_and_spend_exactly_the_budget(data: Any, tmp_path: Path) -> None:
    result = run_study(_document(pruning=PRUNING, trials=20), data, tmp_path, n_jobs=2)
    trials = _trials(tmp_path)
    assert result.n_jobs == 2
    assert spent_trials(trials) == 20
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    for trial in trials:
        if trial.state == TrialState.PRUNED:
            assert trial.last_step is not None
            assert trial.value == trial.intermediate_values[trial.last_step]
    assert result.best_params in [t.params for t in trials if t.state == TrialState.COMPLETE]
    assert multiprocessing.active_children() == []
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.slow
def test_two_workers_of_the_command_line_prune_on_a_shared_storage(
    tmp_path: Path, shared: tuple[str | None, str]
) -> None:
    url, study = shared
    process = start_cli(
        tmp_path, _document(pruning=PRUNING, trials=16), "--n-jobs", "2", study=study, storage=url
    )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "with 2 worker(s)" in out
    trials = study_trials(tmp_path, study, storage=url)
    assert spent_trials(trials) == 16
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    assert all(t.intermediate_values for t in trials if t.state == TrialState.PRUNED)


def test_a_pruned_trial_is_not_infeasible_for_the_trades_it_had_no_time_to_make(
    data: Any,
) -> None:
    """Trades only add up over the windows, so a pruned trial's count is no violation yet;
    its drawdown so far can only deepen, so that one stands."""
    scenario = load_scenario(
        _document(pruning=PRUNING, constraints={"min_trades": 10**6, "max_drawdown": 0.01})
    )
    windows = build_windows(scenario, data)
    params = {"lookback_months": 6, "top_n": 3}
    objective = Objective(scenario)
    full = objective.evaluate(data, params, windows)
    stopped = objective.evaluate(data, params, windows, report=lambda step, values: step == 1)
    assert stopped.pruned and not full.pruned
    assert len(stopped.window_values) == 2
    assert stopped.values == evaluate_params(scenario, data, params, windows[:2]).values
    drawdown, trades = stopped.constraint_violations
    assert trades == 0.0 and full.constraint_violations[1] > 0
    assert drawdown > 0, "a 1% drawdown limit is broken in the first two windows already"
