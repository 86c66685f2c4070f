"""The Optuna sampler and pruner a scenario asks for, told about constraints where it can."""

from __future__ import annotations

import bisect
import copy
from collections.abc import Container, Sequence
from typing import Any, cast

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers._tpe.sampler import (
    _get_infeasible_trial_score,
    _get_pruned_trial_score,
    default_gamma,
)
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ..config import OptimizeConfig
from .attributes import trial_evaluation
from .space import grid_values

__all__ = ["TPE_MEMORY", "BoundedTPESampler", "make_pruner", "make_sampler"]

TPE_MEMORY = 500
"""Finished trials, besides the best ones, that the default TPE fits its g(x) on."""

_BEST = default_gamma(10**9)
"""The most trials Optuna's default ``gamma`` puts in TPE's good group, l(x): 25."""

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def make_sampler(
    config: OptimizeConfig, seed: int | None, *, parallel: bool = False
) -> optuna.samplers.BaseSampler:
    """The configured sampler; with constraints, samplers that support them are told."""
    constraints = None
    if config.constraints.max_drawdown is not None or config.constraints.min_trades is not None:
        constraints = _constraints
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "grid":
        grid = {name: grid_values(spec) for name, spec in config.params.items()}
        # Every worker must shuffle the grid alike (the scenario's seed, not its own):
        # the grid sampler maps trial numbers to points through that order.
        return _GridSampler(grid, seed=config.seed)  # type: ignore[arg-type]
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
    return BoundedTPESampler(seed=seed, constraints_func=constraints, constant_liar=parallel)


def make_pruner(config: OptimizeConfig) -> optuna.pruners.BasePruner:
    """The configured pruner; Optuna's ``NopPruner`` while pruning is off.

    The median pruner draws no random numbers: given the same finished trials it makes the
    same decisions, so a seeded study in one process prunes the same trials every run.
    """
    pruning = config.pruning
    if not pruning.enabled:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=pruning.n_startup_trials,
        n_warmup_steps=pruning.n_warmup_steps,
        interval_steps=pruning.interval_steps,
    )


class BoundedTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPE, fitted on the best trials and the ``memory`` most recent others.

    Optuna's TPE reads every trial of the study at every trial, so its cost per trial grows
    with the study (about 40 ms per trial at 10,000 trials). This one hands TPE the trials
    its good group l(x) is made of (the best 25 by TPE's own order: feasible complete trials
    by value, then pruned, then infeasible ones; ties to the earlier trial, as TPE does),
    and the trials since the ``memory``-th most recent other finished one (running ones
    included, for the constant liar). l(x) is therefore exactly TPE's; g(x), the density
    of the rest, forgets trials older than the memory instead of weighting them down
    linearly as TPE does (TPE's ``weights``, Bergstra et al. 2013). Until a study has
    ``memory + 25`` trials, it proposes exactly what ``TPESampler`` with the same
    arguments proposes.

    Multi-objective studies are handed every trial: their good group is a Pareto ranking of
    all trials, with no fixed size to keep.
    """

    def __init__(self, *, memory: int = TPE_MEMORY, **kwargs: Any) -> None:
        if memory < 10 * _BEST:
            # Below 250 finished trials TPE's good group shrinks below 25 (gamma), and the
            # good group would no longer be the study's.
            raise ValueError(f"memory must be at least {10 * _BEST} trials, got {memory}")
        if "gamma" in kwargs:
            raise ValueError("BoundedTPESampler keeps TPE's default gamma")
        super().__init__(**kwargs)
        self._memory = memory
        self._study_key: tuple[int, int] | None = None
        self._settled = 0
        self._ranked: set[int] = set()
        self._best: list[tuple[tuple[int, float, float, int], FrozenTrial]] = []

    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        return super().sample_relative(self._bounded(study), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return super().sample_independent(
            self._bounded(study), trial, param_name, param_distribution
        )

    def _bounded(self, study: optuna.Study) -> optuna.Study:
        if study._is_multi_objective():
            return study
        return cast(optuna.Study, _BoundedStudy(study, self))

    def kept_trials(
        self,
        study: optuna.Study,
        trials: list[FrozenTrial],
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        """The trials (in study order) TPE is fitted on, out of ``trials`` (those of
        ``study`` in ``states``, in study order, as ``Study._get_trials`` lists them).

        Walks back from the newest trial only as far as the memory reaches: the cost does
        not grow with the study.
        """
        if len(trials) <= self._memory + _BEST:
            return trials
        best = self._best_trials(study)
        recent = 0
        first = len(trials)
        while first > 0 and recent < self._memory:
            first -= 1
            trial = trials[first]
            if trial.state in _FINISHED and trial.number not in best:
                recent += 1
        if recent < self._memory:
            return trials
        oldest = trials[first].number
        older_best = [
            t
            for number, t in sorted(best.items())
            if number < oldest and (states is None or t.state in states)
        ]
        return older_best + trials[first:]

    def _best_trials(self, study: optuna.Study) -> dict[int, FrozenTrial]:
        """The best 25 finished trials by number, ranked incrementally: a finished trial
        never changes, so each is ranked once, when it is first seen finished.

        The list of every trial is the one Optuna caches for the trial being sampled
        (TPE has just read it), so ranking reads no storage; ``_settled`` is how many
        leading trials are finished and ranked, ``_ranked`` the later ones already ranked.
        """
        key = (id(study._storage), study._study_id)
        if key != self._study_key:
            self._study_key, self._settled, self._ranked, self._best = key, 0, set(), []
        every = study._get_trials(deepcopy=False, states=None, use_cache=True)
        settled = self._settled
        while settled < len(every) and every[settled].state.is_finished():
            trial = every[settled]
            if trial.number in self._ranked:
                self._ranked.discard(trial.number)
            elif trial.state in _FINISHED:
                self._rank(study, trial)
            settled += 1
        self._settled = settled
        for trial in every[settled:]:  # after a running trial: the few in flight
            if trial.state in _FINISHED and trial.number not in self._ranked:
                self._ranked.add(trial.number)
                self._rank(study, trial)
        return {t.number: t for _, t in self._best}

    def _rank(self, study: optuna.Study, trial: FrozenTrial) -> None:
        rank = _rank(study, trial)
        if len(self._best) == _BEST and rank >= self._best[-1][0]:
            return
        bisect.insort(self._best, (rank, trial), key=lambda pair: pair[0])
        del self._best[_BEST:]


class _BoundedStudy:
    """A study as TPE sees it: every attribute the study's own, but fewer trials."""

    def __init__(self, study: optuna.Study, sampler: BoundedTPESampler) -> None:
        self._study = study
        self._sampler = sampler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=False, states=states, use_cache=use_cache)
        kept = self._sampler.kept_trials(self._study, trials, states)
        return copy.deepcopy(kept) if deepcopy else kept


def _rank(study: optuna.Study, trial: FrozenTrial) -> tuple[int, float, float, int]:
    """TPE's order for its good group (``_split_trials``): lower is better."""
    infeasible = _get_infeasible_trial_score(trial)
    if infeasible > 0:
        return (2, infeasible, 0.0, trial.number)
    if trial.state == TrialState.PRUNED:
        step, value = _get_pruned_trial_score(trial, study)
        return (1, step, value, trial.number)
    value = cast(float, trial.value)
    return (0, value if study.direction == StudyDirection.MINIMIZE else -value, 0.0, trial.number)


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` once the grid is covered.

    ``stop()`` only works inside ``Study.optimize``; our ask-and-tell loop stops at the
    budget, which is already capped at the grid's size.
    """

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def _constraints(trial: FrozenTrial) -> list[float]:
    return list(trial_evaluation(trial).get("constraint", [0.0]))
