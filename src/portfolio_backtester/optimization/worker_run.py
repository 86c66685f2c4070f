"""What a worker does with its settings: each study's trials, its returns recorded.

The same code runs in a spawned worker (``_optuna_worker``) and, with ``n_jobs == 1``, in
the parent itself, so that one process and N processes score trials identically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import optuna

from ..config import OptimizeConfig, Scenario
from ..data import OptimizationData
from ..strategies import check_importable_by_workers
from ._identity import new_worker_id, worker_tag
from .locks import AdvisoryLock
from .objective import Evaluation, Objective, StepReport
from .plan import StudyPlan
from .samplers import make_pruner, make_sampler
from .storage import HeartbeatSettings, is_shared_database
from .trial_loop import Evaluate, TrialLock, WorkerShutdown, run_trials
from .trial_returns import TrialReturnsWriter

__all__ = ["SamplerFactory", "WorkerSettings", "run_plans"]


class SamplerFactory(Protocol):
    """What builds a worker's sampler: :func:`~.samplers.make_sampler`'s signature."""

    def __call__(
        self, config: OptimizeConfig, seed: int | None, *, parallel: bool = False
    ) -> optuna.samplers.BaseSampler: ...


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The small settings a worker needs besides the data context."""

    storage_url: str
    plans: tuple[StudyPlan, ...]
    scenario: dict[str, Any]
    worker_index: int
    seed: int | None
    deadline: float | None
    log_level: int
    heartbeat: HeartbeatSettings = field(default_factory=HeartbeatSettings)
    parallel: bool = True
    worker_id: str = field(default_factory=new_worker_id)
    sampler_factory: SamplerFactory = make_sampler
    returns_dir: str | None = None
    """Where the worker records each trial's daily returns (``trial_returns``), if anywhere."""

    def __post_init__(self) -> None:
        if self.parallel:  # refused in the parent: a worker could only die on it
            check_importable_by_workers(str(self.scenario["strategy"]["name"]))


def run_plans(
    settings: WorkerSettings,
    scenario: Scenario,
    data: OptimizationData,
    storage: optuna.storages.BaseStorage,
    local_lock: TrialLock,
    shutdown: WorkerShutdown,
) -> None:
    """Every plan's trials, with the objective checked once and the returns recorded."""
    objective = Objective(scenario)  # metric names, directions and strategy checked once
    writer = None if settings.returns_dir is None else TrialReturnsWriter(settings.returns_dir)
    try:
        _run_studies(settings, objective, data, storage, local_lock, shutdown, writer)
    finally:
        if writer is not None:
            writer.close()


def _run_studies(
    settings: WorkerSettings,
    objective: Objective,
    data: OptimizationData,
    storage: optuna.storages.BaseStorage,
    local_lock: TrialLock,
    shutdown: WorkerShutdown,
    writer: TrialReturnsWriter | None,
) -> None:
    config = objective.config
    for plan in settings.plans:
        sampler = settings.sampler_factory(config, settings.seed, parallel=settings.parallel)
        study = optuna.load_study(
            study_name=plan.name, storage=storage, sampler=sampler, pruner=make_pruner(config)
        )
        # Workers on other hosts share a database study: the database holds the lock then.
        shared = is_shared_database(settings.storage_url)
        advisory = AdvisoryLock(settings.storage_url, plan.name) if shared else None
        try:
            run_trials(
                study,
                plan,
                _evaluator(objective, data, plan, writer),
                local_lock if advisory is None else TrialLock(advisory),
                space=config.params,
                tag=worker_tag(os.getpid(), settings.worker_id),
                shutdown=shutdown,
                deadline=settings.deadline,
                pruning=config.pruning if config.pruning.enabled else None,
            )
        finally:
            if advisory is not None:
                advisory.close()


def _evaluator(
    objective: Objective,
    data: OptimizationData,
    plan: StudyPlan,
    writer: TrialReturnsWriter | None,
) -> Evaluate:
    """The objective on one plan's windows and period; its daily returns recorded (a pruned
    trial's cover only the windows it was scored on, and the statistics rebuild them)."""
    windowed = replace(data, windows=plan.windows)

    def evaluate(params: dict[str, Any], report: StepReport | None = None) -> Evaluation:
        evaluation = objective.evaluate(windowed, params, plan.windows, plan.period, report)
        if writer is not None and evaluation.daily_returns is not None and not evaluation.pruned:
            writer.append(plan.name, params, evaluation.daily_returns)
        return evaluation

    return evaluate
