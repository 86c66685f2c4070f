"""The default sampler: Optuna's TPE on the best trials and the recent ones, seeded."""

from __future__ import annotations

import typing
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution, IntDistribution
from optuna.samplers._tpe.sampler import _split_trials, default_gamma
from optuna.trial import TrialState, create_trial

from portfolio_backtester.config import OptimizeConfig, load_scenario
from portfolio_backtester.optimization.samplers import BoundedTPESampler, make_sampler
from portfolio_backtester.optimization.space import suggest
from portfolio_backtester.scenarios import default_optimize_scenario

MEMORY = 250  # the smallest memory, so that a few hundred trials pass it

MIXED = {
    "fast": {"type": "int", "low": 5, "high": 50, "step": 5},
    "vol": {"type": "float", "low": 0.01, "high": 1.0, "log": True},
    "weight": {"type": "float", "low": 0.0, "high": 1.0},
    "mode": {"type": "categorical", "choices": ["a", "b", "c"]},
}


def _config(params: dict[str, Any] | None = None) -> OptimizeConfig:
    if params is None:
        config = default_optimize_scenario().optimize
    else:
        document = {"strategy": {"name": "sma_crossover"}, "optimize": {"params": params}}
        config = load_scenario(document).optimize
    assert config is not None
    return config


def _score(params: dict[str, Any]) -> float:
    """Cheap, with ties: a discrete space revisits points, so values repeat."""
    return -sum(
        (float(v) if not isinstance(v, str) else float(ord(v))) % 7 for v in params.values()
    )


def _optimise(sampler: optuna.samplers.BaseSampler, config: OptimizeConfig, n: int) -> Any:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, _score(suggest(trial, config.params)))
    return study


def _study_of(values: list[float], direction: Any = "maximize", **attrs: Any) -> Any:
    """A study of finished trials with the given values, added without sampling."""
    study = optuna.create_study(direction=direction)
    distribution: dict[str, BaseDistribution] = {"x": IntDistribution(0, 99)}
    for i, value in enumerate(values):
        system_attrs = attrs.get("constraints", {}).get(i, {})
        study.add_trial(
            create_trial(
                params={"x": i % 100},
                distributions=distribution,
                value=value,
                system_attrs=system_attrs,
            )
        )
    return study


def test_the_default_is_the_bounded_tpe_with_the_scenario_seed() -> None:
    config = _config()
    sampler = make_sampler(config, config.seed)
    assert isinstance(sampler, BoundedTPESampler)
    assert isinstance(make_sampler(config, config.seed, parallel=True), BoundedTPESampler)


def test_the_same_seed_proposes_the_same_trials_past_the_memory() -> None:
    config = _config(MIXED)
    n = MEMORY + 60

    def run(seed: int) -> list[dict[str, Any]]:
        sampler = BoundedTPESampler(seed=seed, constant_liar=False, memory=MEMORY)
        return [t.params for t in _optimise(sampler, config, n).trials]

    first = run(3)
    assert first == run(3)
    assert first != run(4)


def test_the_default_sampler_is_deterministic_with_its_seed() -> None:
    config = _config()

    def run() -> list[dict[str, Any]]:
        return [t.params for t in _optimise(make_sampler(config, 7), config, 40).trials]

    assert run() == run()


@pytest.mark.parametrize("params", [None, MIXED], ids=["default-space", "mixed-space"])
def test_proposals_stay_within_the_space(params: dict[str, Any] | None) -> None:
    config = _config(params)
    sampler = BoundedTPESampler(seed=1, constant_liar=False, memory=MEMORY)
    study = _optimise(sampler, config, MEMORY + 50)
    for trial in study.trials:
        for name, spec in config.params.items():
            value = trial.params[name]
            if spec.type == "categorical":
                assert value in (spec.choices or [])
                continue
            assert spec.low is not None and spec.high is not None
            assert spec.low <= value <= spec.high
            if spec.type == "int":
                assert isinstance(value, int)
                assert (value - spec.low) % (spec.step or 1) == 0


def test_below_the_memory_it_proposes_what_optuna_tpe_proposes() -> None:
    config = _config()
    n = 120
    bounded = _optimise(BoundedTPESampler(seed=5, constant_liar=False), config, n)
    plain = _optimise(optuna.samplers.TPESampler(seed=5, constant_liar=False), config, n)
    assert [t.params for t in bounded.trials] == [t.params for t in plain.trials]


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_tpe_keeps_the_best_trials_of_the_whole_study_and_the_recent_ones(
    direction: str,
) -> None:
    # Values that repeat (ties, as duplicates of a discrete space give) and whose best ones
    # are among the oldest trials, so that only the best group keeps them.
    values = [float((i * 37) % 101) for i in range(900)]
    study = _study_of(values, direction)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sampler = BoundedTPESampler(seed=0, memory=MEMORY)
    kept = sampler.kept_trials(study, trials)

    below_all, _ = _split_trials(study, trials, default_gamma(len(trials)))
    below_kept, _ = _split_trials(study, kept, default_gamma(len(kept)))
    assert [t.number for t in below_kept] == [t.number for t in below_all]
    assert len(below_all) == 25
    best = {t.number for t in below_all}
    assert any(number < len(values) - MEMORY - 25 for number in best)
    recent = [t.number for t in kept if t.number not in best]
    assert recent == [t.number for t in trials if t.number not in best][-MEMORY:]
    assert [t.number for t in kept] == sorted(t.number for t in kept)


def test_infeasible_trials_rank_after_feasible_ones_as_in_tpe() -> None:
    values = [float(i % 50) for i in range(600)]
    # The highest values are infeasible: TPE's good group must skip them.
    constraints = {i: {"constraints": [1.0]} for i in range(600) if i % 50 >= 45}
    study = _study_of(values, constraints=constraints)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    kept = BoundedTPESampler(seed=0, memory=MEMORY).kept_trials(study, trials)
    below_all, _ = _split_trials(study, trials, 25)
    below_kept, _ = _split_trials(study, kept, default_gamma(len(kept)))
    assert [t.number for t in below_kept] == [t.number for t in below_all]
    assert {t.value for t in below_all} == {44.0, 43.0, 42.0}  # 12 of each value


def test_running_trials_are_all_kept_for_the_constant_liar() -> None:
    study = _study_of([float(i) for i in range(400)])
    running = [study.ask() for _ in range(3)]
    trials = study.get_trials(deepcopy=False)
    kept = BoundedTPESampler(seed=0, memory=MEMORY).kept_trials(study, trials)
    assert {t.number for t in running} <= {t.number for t in kept}
    assert len(kept) == MEMORY + 25 + len(running)


def test_a_sampler_reused_on_another_study_ranks_that_study_afresh() -> None:
    sampler = BoundedTPESampler(seed=0, memory=MEMORY)
    good_early = _study_of([1000.0 - i for i in range(400)])
    good_late = _study_of([float(i) for i in range(400)])
    for study in (good_early, good_late):
        trials = study.get_trials(deepcopy=False)
        kept = sampler.kept_trials(study, trials)
        below_all, _ = _split_trials(study, trials, 25)
        assert {t.number for t in below_all} <= {t.number for t in kept}


def test_multi_objective_studies_are_given_every_trial() -> None:
    config = _config()
    sampler = BoundedTPESampler(seed=0, memory=MEMORY)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    for _ in range(MEMORY + 40):
        trial = study.ask()
        params = suggest(trial, config.params)
        study.tell(trial, [_score(params), float(params["top_n"])])
    assert sampler._bounded(study) is study
    assert len(study.trials) == MEMORY + 40


def test_a_memory_too_small_for_tpe_s_good_group_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 250"):
        BoundedTPESampler(memory=100)


FINITE = {
    "fast": {"type": "int", "low": 5, "high": 50, "step": 5},
    "weight": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25},
    "mode": {"type": "categorical", "choices": ["a", "b", "c"]},
}


@pytest.mark.parametrize(
    "name", typing.get_args(OptimizeConfig.model_fields["sampler"].annotation)
)
def test_every_sampler_a_scenario_can_name_runs(name: str) -> None:
    # Each choice's own dependencies are installed with the package (cmaes for CMA-ES).
    document = {
        "strategy": {"name": "sma_crossover"},
        "optimize": {"params": FINITE, "sampler": name},
    }
    config = load_scenario(document).optimize
    assert config is not None
    study = _optimise(make_sampler(config, seed=1), config, 30)
    assert len(study.trials) == 30
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
