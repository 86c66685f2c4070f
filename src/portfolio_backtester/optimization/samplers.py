"""The Optuna sampler a scenario asks for, told about constraints where it can use them."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from ..config import OptimizeConfig
from .attributes import trial_evaluation
from .space import grid_values

__all__ = ["make_sampler"]


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
    return optuna.samplers.TPESampler(
        seed=seed, constraints_func=constraints, constant_liar=parallel
    )


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
