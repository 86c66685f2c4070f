"""Optimisation in one process: known optima, resume, failures, Pareto fronts, reproducibility."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import OptimizationError, ScenarioError
from portfolio_backtester.optimization.attributes import trial_evaluation
from portfolio_backtester.optimization.objective import evaluate_params
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.plan import build_windows, spent_trials
from portfolio_backtester.optimization.storage import default_storage_url, open_storage

GRID = {
    "lookback_months": {"type": "int", "low": 3, "high": 6},
    "top_n": {"type": "int", "low": 2, "high": 4},
}


def _scenario(**optimize: Any) -> Any:
    document = {
        "name": "t",
        "data": {"start": "2008-01-02", "end": "2016-12-30"},
        "strategy": {"name": "simple_momentum", "params": {"skip_months": 0}},
        "optimize": {
            "params": GRID,
            "trials": 12,
            "windows": {"train_days": 504, "test_days": 252},
            **optimize,
        },
    }
    return load_scenario(document)


@pytest.fixture(scope="module")
def data() -> Any:
    return build_optimization_data(load_market_data(_scenario().data))


def _run(scenario: Any, data: Any, tmp_path: Path, **kwargs: Any) -> Any:
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=data,
        storage_url=default_storage_url(tmp_path),
        study_name=kwargs.pop("study_name", "s"),
        **kwargs,
    )
    return runner.run()[0]


def test_grid_search_finds_the_brute_force_optimum(data: Any, tmp_path: Path) -> None:
    scenario = _scenario(sampler="grid")
    result = _run(scenario, data, tmp_path)
    windows = build_windows(scenario, data)
    brute = {
        (lb, n): evaluate_params(
            scenario, data, {"lookback_months": lb, "top_n": n}, windows
        ).values[0]
        for lb, n in itertools.product(range(3, 7), range(2, 5))
    }
    best = max(brute, key=lambda k: brute[k])
    assert (result.best_params["lookback_months"], result.best_params["top_n"]) == best
    assert result.best_values[0] == pytest.approx(brute[best], abs=1e-12)
    assert result.trial_states == {"COMPLETE": 12}


def test_budget_is_capped_at_the_size_of_a_finite_space(data: Any, tmp_path: Path) -> None:
    """Repeats of evaluated points cost no budget, so the run evaluates every point once."""
    result = _run(_scenario(sampler="random"), data, tmp_path, trials=50)
    assert any("only 12 distinct parameter sets" in event for event in result.events)
    study = optuna.load_study(study_name="s", storage=open_storage(default_storage_url(tmp_path)))
    distinct = {tuple(sorted(t.params.items())) for t in study.trials}
    duplicates = [t for t in study.trials if "duplicate_of" in trial_evaluation(t)]
    assert len(distinct) == 12
    assert sum(result.trial_states.values()) == len(study.trials) == 12 + len(duplicates)


def test_resume_adds_trials_and_a_changed_scenario_is_refused(data: Any, tmp_path: Path) -> None:
    scenario = _scenario(
        params={
            "lookback_months": {"type": "int", "low": 2, "high": 24},
            "top_n": {"type": "int", "low": 1, "high": 10},
        },
        trials=4,
    )
    _run(scenario, data, tmp_path)
    _run(scenario, data, tmp_path, trials=3)
    # The resumed sampler, seeded alike, proposes the first run's points again: those repeats
    # reuse their outcomes, and the run still adds 3 evaluations.
    study = optuna.load_study(study_name="s", storage=open_storage(default_storage_url(tmp_path)))
    assert spent_trials(study.trials) == 7
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 7
    changed = load_scenario({**scenario.model_dump(mode="json"), "costs": {"cost_bps": 50}})
    with pytest.raises(OptimizationError, match=r"different scenario.*--fresh"):
        _run(changed, data, tmp_path, trials=2)
    fresh = _run(changed, data, tmp_path, trials=2, fresh=True)
    assert sum(fresh.trial_states.values()) == 2


def test_same_seed_gives_identical_trials(data: Any, tmp_path: Path) -> None:
    scenario = _scenario(
        params={
            "lookback_months": {"type": "int", "low": 2, "high": 24},
            "top_n": {"type": "int", "low": 1, "high": 10},
        },
        trials=8,
        seed=7,
    )
    runs = []
    for name in ("a", "b"):
        _run(scenario, data, tmp_path / name)
        study = optuna.load_study(
            study_name="s", storage=open_storage(default_storage_url(tmp_path / name))
        )
        runs.append([(t.params, t.values) for t in study.trials])
    assert runs[0] == runs[1]


def test_failing_trials_are_recorded_with_their_reason(data: Any, tmp_path: Path) -> None:
    scenario = load_scenario(
        {
            "name": "sma",
            "data": {"start": "2010-01-04", "end": "2016-12-30"},
            "strategy": {"name": "sma_crossover"},
            "optimize": {
                "params": {
                    "fast_days": {"type": "int", "low": 10, "high": 60, "step": 10},
                    "slow_days": {"type": "int", "low": 20, "high": 60, "step": 10},
                },
                "sampler": "grid",
                "trials": 30,
                "windows": {"train_days": 504, "test_days": 252},
            },
        }
    )
    sma_data = build_optimization_data(load_market_data(scenario.data))
    result = _run(scenario, sma_data, tmp_path)
    study = optuna.load_study(study_name="s", storage=open_storage(default_storage_url(tmp_path)))
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed, "fast >= slow must fail"
    assert all("ScenarioError" in t.user_attrs["fail_reason"] for t in failed)
    assert all(t.params["fast_days"] >= t.params["slow_days"] for t in failed)
    assert result.best_params["fast_days"] < result.best_params["slow_days"]
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]


def test_multi_objective_returns_a_non_dominated_front(data: Any, tmp_path: Path) -> None:
    scenario = _scenario(
        objectives=[{"metric": "CAGR"}, {"metric": "Annual Volatility"}], sampler="grid"
    )
    result = _run(scenario, data, tmp_path)
    assert result.directions == ("maximize", "minimize")
    front = [m["values"] for m in result.pareto_front]
    assert front
    for a in front:
        for b in front:
            dominates = b[0] >= a[0] and b[1] <= a[1] and (b[0] > a[0] or b[1] < a[1])
            assert not dominates


def test_walk_forward_chooses_per_window_and_stitches_out_of_sample(
    data: Any, tmp_path: Path
) -> None:
    result = _run(_scenario(mode="walk_forward", sampler="grid"), data, tmp_path, trials=12)
    assert len(result.windows) == len(build_windows(_scenario(), data))
    assert result.out_of_sample_returns is not None
    first_test = result.windows[0].window.test_start
    assert result.out_of_sample_returns.index[0] == first_test
    for window in result.windows:
        assert window.window.train_end < window.window.test_start


@pytest.mark.parametrize(
    ("optimize", "expected"),
    [
        (
            {"params": {"lookbak_months": {"type": "int", "low": 1, "high": 3}}},
            "did you mean 'lookback_months'",
        ),
        ({"params": {"top_n": {"type": "int", "low": 0, "high": 3}}}, "at least 1"),
        ({"params": GRID, "objectives": [{"metric": "Sharp"}]}, "did you mean 'Sharpe'"),
        ({"params": GRID, "windows": {"train_days": 5000, "test_days": 252}}, "do not fit"),
    ],
)
def test_bad_optimize_sections_are_refused_before_anything_is_written(
    optimize: dict[str, Any], expected: str, data: Any, tmp_path: Path
) -> None:
    scenario = load_scenario(
        {"data": {"start": "2008-01-02", "end": "2016-12-30"}, "optimize": optimize}
    )
    with pytest.raises(ScenarioError, match=expected):
        _run(scenario, data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_trial_scores_equal_backtests_of_each_window(data: Any) -> None:
    """Every metric an objective can use, scored per window by the optimiser's fast path,
    equals the same metric on a plain ``simulate`` of that window's rows alone."""
    from portfolio_backtester.metrics import METRIC_NAMES, metric
    from portfolio_backtester.simulation import simulate
    from portfolio_backtester.simulation.period import benchmark_period_returns
    from portfolio_backtester.strategies import get_strategy

    scenario = load_scenario(
        {
            **_scenario().model_dump(mode="json", exclude_none=True),
            "costs": {"cost_bps": 10, "commission": 1.0},
            "optimize": {
                "params": GRID,
                "objectives": [{"metric": name} for name in METRIC_NAMES],
                "windows": {"train_days": 504, "test_days": 252},
            },
        }
    )
    params = {"lookback_months": 4, "top_n": 3}
    windows = build_windows(scenario, data)
    evaluation = evaluate_params(scenario, data, params, windows)
    strategy_cls = get_strategy("simple_momentum")
    resolved = strategy_cls.resolve_params({"skip_months": 0, **params})
    weights = strategy_cls().generate_weights(data, resolved)
    index = data.daily.index
    for window, scores in zip(windows, evaluation.window_values, strict=True):
        rows = slice(
            index.searchsorted(window.test_start), index.searchsorted(window.test_end) + 1
        )
        before = weights.loc[: window.test_start].iloc[[-1]]
        entry = before.set_axis(pd.DatetimeIndex([index[rows.start]]), axis=0)
        inside = weights.loc[index[rows.start] : index[rows.stop - 1]]
        if len(inside) and inside.index[0] == index[rows.start]:
            entry = entry.iloc[:0]
        simulation = simulate(
            data.daily.iloc[rows], pd.concat([entry, inside]), cost_bps=10, commission=1.0
        )
        bench = benchmark_period_returns(data, pd.DatetimeIndex(simulation.returns.index))
        expected = [
            metric(name, simulation.returns, bench, turnover=simulation.turnover)
            for name in METRIC_NAMES
        ]
        np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=1e-15, equal_nan=True)
