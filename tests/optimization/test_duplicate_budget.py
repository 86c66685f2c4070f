"""A parameter set already evaluated is recorded again with its outcome and spends no budget:
N trials asked for are N evaluations, in one process and across workers, and a finite space
still ends the run once every point is evaluated or the sampler only repeats itself."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState
from study_runs import SHARED_STORAGES, run_study, shared_storage

from portfolio_backtester.config import OptimizeConfig, load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.optimization.attributes import trial_evaluation
from portfolio_backtester.optimization.plan import spent_trials
from portfolio_backtester.optimization.trial_loop import repeat_limit
from processes import start_cli, study_trials

WIDE = {  # 230 points
    "lookback_months": {"type": "int", "low": 2, "high": 24},
    "top_n": {"type": "int", "low": 1, "high": 10},
}
SMALL = {  # 12 points
    "lookback_months": {"type": "int", "low": 3, "high": 6},
    "top_n": {"type": "int", "low": 2, "high": 4},
}


class RepeatingSampler(optuna.samplers.BaseSampler):
    """Even trials propose a new point of ``WIDE`` (point ``number // 2``); odd ones repeat
    point 0, so that half the trials asked repeat an evaluated parameter set."""

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        k = trial.number // 2 if trial.number % 2 == 0 else 0
        return {"lookback_months": 2 + k % 23, "top_n": 1 + k // 23}[param_name]


class StuckSampler(RepeatingSampler):
    """Proposes the first point for ever, as a sampler that has converged does."""

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return {"lookback_months": 3, "top_n": 2}[param_name]


def repeating_sampler(
    config: OptimizeConfig, seed: int | None, *, parallel: bool = False
) -> optuna.samplers.BaseSampler:
    return RepeatingSampler()


def stuck_sampler(
    config: OptimizeConfig, seed: int | None, *, parallel: bool = False
) -> optuna.samplers.BaseSampler:
    return StuckSampler()


def _document(params: dict[str, Any], **optimize: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "data": {"start": "2008-01-02", "end": "2016-12-30"},
        "strategy": {"name": "simple_momentum", "params": {"skip_months": 0}},
        "optimize": {
            "params": params,
            "windows": {"train_days": 504, "test_days": 252},
            "overfitting": {"enabled": False},
            **optimize,
        },
    }


@pytest.fixture(scope="module")
def data() -> Any:
    return build_optimization_data(load_market_data(load_scenario(_document(WIDE)).data))


def _trials(folder: Path) -> list[FrozenTrial]:
    return study_trials(folder)


@pytest.fixture(params=SHARED_STORAGES)
def shared(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, str]]:
    yield from shared_storage(request.param, "repeats")


def _repeats(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if "duplicate_of" in trial_evaluation(t)]


def _assert_repeats_reuse_their_outcome(trials: list[FrozenTrial]) -> None:
    by_number = {t.number: t for t in trials}
    for repeat in _repeats(trials):
        original = by_number[trial_evaluation(repeat)["duplicate_of"]]
        assert "duplicate_of" not in trial_evaluation(original)
        assert (repeat.params, repeat.values) == (original.params, original.values)


def test_repeats_do_not_spend_the_budget(data: Any, tmp_path: Path) -> None:
    result = run_study(
        _document(WIDE, trials=6), data, tmp_path, sampler_factory=repeating_sampler
    )
    trials = _trials(tmp_path)
    assert spent_trials(trials) == 6
    assert len(trials) == 11, "6 new points at the even trials, 5 repeats between them"
    assert [t.number for t in _repeats(trials)] == [1, 3, 5, 7, 9]
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6
    _assert_repeats_reuse_their_outcome(trials)
    assert any("5 trial(s) repeated a parameter set" in event for event in result.events)


def test_resuming_adds_exactly_the_new_evaluations(data: Any, tmp_path: Path) -> None:
    document = _document(WIDE, trials=3)
    run_study(document, data, tmp_path, sampler_factory=repeating_sampler)
    assert spent_trials(_trials(tmp_path)) == 3
    run_study(document, data, tmp_path, sampler_factory=repeating_sampler, trials=2)
    assert spent_trials(_trials(tmp_path)) == 5


@pytest.mark.slow
def test_two_workers_spend_exactly_the_budget_in_evaluations(data: Any, tmp_path: Path) -> None:
    result = run_study(
        _document(WIDE, trials=8), data, tmp_path, n_jobs=2, sampler_factory=repeating_sampler
    )
    trials = _trials(tmp_path)
    assert result.n_jobs == 2
    # A repeat asked while its original still runs in the other worker is evaluated (and
    # counted); that can only happen while trial 0 runs, so most repeats are recognised.
    # (That both workers take trials is the storage contract's test, with a barrier.)
    assert spent_trials(trials) == 8
    assert len(_repeats(trials)) >= 4
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    _assert_repeats_reuse_their_outcome(trials)
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_two_workers_of_the_command_line_evaluate_a_small_space_once_on_a_shared_storage(
    tmp_path: Path, shared: tuple[str | None, str]
) -> None:
    """A random sampler on 12 points with a budget of 50: the budget is capped at 12, the
    repeats on the way cost nothing, and the run ends when every point is evaluated."""
    url, study = shared
    document = _document(SMALL, sampler="random", seed=3, trials=50)
    process = start_cli(tmp_path, document, "--n-jobs", "2", study=study, storage=url)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "with 2 worker(s)" in out
    assert "only 12 distinct parameter sets" in err
    trials = study_trials(tmp_path, study, storage=url)
    # Exactly the 12 evaluations. A point handed to both workers while neither has finished
    # it is evaluated twice, and both count (the budget stays exact), so each such pair,
    # whose runs overlap in time, leaves one point out.
    assert spent_trials(trials) == 12
    evaluated = [t for t in trials if "duplicate_of" not in trial_evaluation(t)]
    by_point: dict[tuple[Any, ...], list[FrozenTrial]] = {}
    for t in evaluated:
        by_point.setdefault(tuple(sorted(t.params.items())), []).append(t)
    doubles = 0
    for twice in (runs for runs in by_point.values() if len(runs) > 1):
        first, *others = sorted(twice, key=lambda t: t.datetime_start)
        assert all(o.datetime_start < first.datetime_complete for o in others)
        doubles += len(others)
    assert len(by_point) == 12 - doubles
    _assert_repeats_reuse_their_outcome(trials)


def test_an_exhausted_space_stops_once_every_point_is_evaluated(
    data: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portfolio_backtester")
    result = run_study(_document(SMALL, sampler="random", seed=3, trials=50), data, tmp_path)
    trials = _trials(tmp_path)
    assert any("only 12 distinct parameter sets" in event for event in result.events)
    assert spent_trials(trials) == 12
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 12
    assert len(trials) > 12, "the random sampler repeated points on the way"
    _assert_repeats_reuse_their_outcome(trials)
    assert "all 12 parameter sets of the search space are evaluated" in caplog.text


def test_a_sampler_that_only_repeats_is_stopped(
    data: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = run_study(_document(SMALL, trials=5), data, tmp_path, sampler_factory=stuck_sampler)
    trials = _trials(tmp_path)
    assert spent_trials(trials) == 1
    assert len(trials) == 1 + repeat_limit(12)
    assert result.best_params == {"lookback_months": 3, "top_n": 2}
    assert "proposed 120 parameter sets in a row that were already evaluated" in caplog.text
