"""Run an optimisation in this process or in N spawned workers that pull memory-mapped data.

The parent writes the data once (``write_data_context``) and gives each worker only the small
``OptimizationDataContext``; workers map the files read-only, so N workers cost about one copy
of the data, and take trials from the shared Optuna study until its budget is spent.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from ..config import Scenario
from ..data import OptimizationData
from ..errors import OptimizationError, ScenarioError
from ._ownership import remove_orphaned_data_dirs
from .data_context import open_data_context, remove_data_context, write_data_context
from .locks import AdvisoryLock
from .objective import Evaluation, Objective
from .outcome import summarize
from .plan import StudyPlan, plan_studies, validate_optimization
from .processes import (
    configure_worker_logging,
    single_threaded_children,
    stop_workers,
    watch_parent,
)
from .progress import Progress, ProgressReporter
from .recovery import await_other_hosts, mark_trials_failed
from .results import OptimizationDataContext, OptimizationResult
from .samplers import make_sampler
from .storage import HeartbeatSettings, is_shared_database, open_storage
from .trial_loop import TrialLock, WorkerShutdown, run_trials

__all__ = ["ParallelOptimizationRunner", "Progress", "WorkerSettings"]

logger = logging.getLogger(__name__)


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


@dataclass
class ParallelOptimizationRunner:
    """Optimise a scenario's strategy parameters over its walk-forward windows.

    ``n_jobs == 1`` evaluates trials in this process on ``data``; ``n_jobs > 1`` spawns
    workers (the ``spawn`` start method on every OS) that share the data through memory-mapped
    files and the trial budget through the study storage and a lock.
    """

    scenario: Scenario
    data: OptimizationData
    storage_url: str
    study_name: str
    n_jobs: int = 1
    trials: int | None = None
    fresh: bool = False
    data_dir: Path | None = None
    timeout: float | None = None
    on_progress: Callable[[Progress], None] | None = None
    progress_interval_s: float = 1.0
    heartbeat: HeartbeatSettings = field(default_factory=HeartbeatSettings)
    events: list[str] = field(default_factory=list)

    def run(
        self, plans: tuple[StudyPlan, ...] | None = None
    ) -> tuple[OptimizationResult, OptimizationData]:
        """Run to the budget; return the result and the data to use afterwards.

        ``plans`` are given when joining a study another host created; otherwise the studies
        are created or resumed here. With workers, the returned data are the parent's
        memory-mapped view: the caller should drop its own copy so the whole run holds
        about one copy of the data.
        """
        started = time.monotonic()
        config = self.scenario.optimize
        if config is None:
            raise ScenarioError("the scenario has no 'optimize' section to optimise")
        validate_optimization(self.scenario, self.data)
        # Files left by a run that was killed outright go first, whatever this run does.
        remove_orphaned_data_dirs(self.data_dir)
        trials = self.trials if self.trials is not None else config.trials
        if plans is None:
            n_jobs = resolve_n_jobs(self.n_jobs, trials)
        storage = open_storage(self.storage_url, self.heartbeat)
        if plans is None:
            plans = plan_studies(
                self.scenario,
                self.data,
                storage,
                self.study_name,
                trials,
                fresh=self.fresh,
                events=self.events,
            )
        else:
            n_jobs = resolve_n_jobs(self.n_jobs, sum(plan.budget for plan in plans))
        deadline = None
        timeout = self.timeout if self.timeout is not None else config.timeout
        if timeout is not None:
            deadline = time.time() + timeout
        data = self.data
        if n_jobs == 1:
            settings = WorkerSettings(
                storage_url=self.storage_url,
                plans=plans,
                scenario=self.scenario.model_dump(mode="json"),
                worker_index=0,
                seed=config.seed,
                deadline=deadline,
                log_level=logging.getLogger().getEffectiveLevel(),
                heartbeat=self.heartbeat,
                parallel=False,
            )
            with ProgressReporter(
                self.on_progress, storage, plans, started, self.progress_interval_s
            ).in_thread():
                _run_plans(settings, self.scenario, data, storage, None, WorkerShutdown())
        else:
            data = self._run_workers(storage, plans, n_jobs, deadline, started)
        await_other_hosts(storage, [plan.name for plan in plans])
        result = summarize(
            Objective(self.scenario),
            data,
            storage,
            plans,
            n_jobs=n_jobs,
            elapsed_s=time.monotonic() - started,
            events=tuple(self.events),
        )
        return result, data

    def _run_workers(
        self,
        storage: optuna.storages.BaseStorage,
        plans: tuple[StudyPlan, ...],
        n_jobs: int,
        deadline: float | None,
        started: float,
    ) -> OptimizationData:
        context_mp = multiprocessing.get_context("spawn")
        context: OptimizationDataContext | None = None
        workers: list[multiprocessing.process.BaseProcess] = []
        config = self.scenario.optimize
        assert config is not None
        try:
            context = write_data_context(self.data, self.data_dir)
            mapped = open_data_context(context)
            lock = context_mp.Lock()
            with single_threaded_children():
                for index in range(n_jobs):
                    settings = WorkerSettings(
                        storage_url=self.storage_url,
                        plans=plans,
                        scenario=self.scenario.model_dump(mode="json"),
                        worker_index=index,
                        seed=None if config.seed is None else config.seed + index,
                        deadline=deadline,
                        log_level=logging.getLogger().getEffectiveLevel(),
                        heartbeat=self.heartbeat,
                    )
                    process = context_mp.Process(
                        target=_optuna_worker,
                        args=(context, settings, lock),
                        name=f"pbt-worker-{index}",
                    )
                    process.start()
                    workers.append(process)
            logger.info("started %d workers (spawn)", n_jobs)
            self._supervise(storage, plans, workers, started)
            return mapped
        finally:
            stop_workers(workers)
            for worker in workers:
                if worker.pid is not None:
                    mark_trials_failed(
                        storage,
                        [plan.name for plan in plans],
                        _worker_tag(worker.pid),
                        "worker stopped before the trial finished",
                    )
            if context is not None:
                remove_data_context(context)
                logger.info("removed data directory %s", context.directory)

    def _supervise(
        self,
        storage: optuna.storages.BaseStorage,
        plans: tuple[StudyPlan, ...],
        workers: list[multiprocessing.process.BaseProcess],
        started: float,
    ) -> None:
        """Wait for the workers, failing the trial of any that dies, until all have exited."""
        progress = ProgressReporter(
            self.on_progress, storage, plans, started, self.progress_interval_s
        )
        alive = {process.sentinel: process for process in workers}
        failures: list[str] = []
        last_report = 0.0
        while alive:
            ready = multiprocessing.connection.wait(list(alive), timeout=0.25)
            for sentinel in ready:
                assert isinstance(sentinel, int)
                process = alive.pop(sentinel)
                process.join()
                if process.exitcode != 0:
                    assert process.pid is not None
                    lost = mark_trials_failed(
                        storage,
                        [plan.name for plan in plans],
                        _worker_tag(process.pid),
                        f"worker {process.name} died (exit code {process.exitcode})",
                    )
                    message = (
                        f"worker {process.name} (pid {process.pid}) exited with code "
                        f"{process.exitcode}; {lost} running trial(s) marked failed"
                    )
                    logger.warning(message)
                    self.events.append(message)
                    failures.append(message)
            now = time.monotonic()
            if now - last_report >= self.progress_interval_s:
                last_report = now
                progress.report()
        progress.report()
        if len(failures) == len(workers):
            raise OptimizationError(
                f"all {len(workers)} workers died before the budget was spent "
                f"(first: {failures[0]}); finished trials are kept in the study and the same "
                "command resumes it"
            )


def resolve_n_jobs(n_jobs: int, trials: int) -> int:
    """-1 means every core; 0, or more workers than trials, is a mistake worth saying."""
    if n_jobs == 0 or n_jobs < -1:
        raise ScenarioError(f"--n-jobs must be a positive number or -1 (all cores), got {n_jobs}")
    if n_jobs == -1:
        return max(1, min(os.cpu_count() or 1, trials))
    if n_jobs > trials:
        raise ScenarioError(
            f"--n-jobs {n_jobs} asks for more workers than the {trials} trials to run; "
            f"use at most {trials} workers"
        )
    return n_jobs


def _optuna_worker(
    context: OptimizationDataContext,
    settings: WorkerSettings,
    lock: Any,
) -> None:
    """Entry point of a spawned worker: map the data, then pull trials until the budget ends."""
    configure_worker_logging(settings.log_level)
    shutdown = WorkerShutdown()
    # The parent owns Ctrl-C; it stops workers with SIGTERM, which must still run `finally`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, _frame: shutdown.request_exit(128 + signum))
    watch_parent(shutdown)
    data = open_data_context(context)
    scenario = Scenario.model_validate(settings.scenario)
    storage = open_storage(settings.storage_url, settings.heartbeat)
    _run_plans(settings, scenario, data, storage, lock, shutdown)


def _run_plans(
    settings: WorkerSettings,
    scenario: Scenario,
    data: OptimizationData,
    storage: optuna.storages.BaseStorage,
    local_lock: Any | None,
    shutdown: WorkerShutdown,
) -> None:
    objective = Objective(scenario)  # metric names, directions and strategy checked once
    config = objective.config
    for plan in settings.plans:
        sampler = make_sampler(config, settings.seed, parallel=settings.parallel)
        study = optuna.load_study(study_name=plan.name, storage=storage, sampler=sampler)
        # Workers on other hosts share a database study: the database holds the lock then.
        shared = is_shared_database(settings.storage_url)
        lock = AdvisoryLock(settings.storage_url, plan.name) if shared else local_lock
        try:
            run_trials(
                study,
                plan,
                _evaluator(objective, data, plan),
                TrialLock(lock),
                space=config.params,
                tag=_worker_tag(os.getpid()),
                shutdown=shutdown,
                deadline=settings.deadline,
            )
        finally:
            if isinstance(lock, AdvisoryLock):
                lock.close()


def _evaluator(
    objective: Objective, data: OptimizationData, plan: StudyPlan
) -> Callable[[dict[str, Any]], Evaluation]:
    """The objective on one plan's windows and period."""
    windowed = replace(data, windows=plan.windows)

    def evaluate(params: dict[str, Any]) -> Evaluation:
        return objective.evaluate(windowed, params, plan.windows, plan.period)

    return evaluate


def _worker_tag(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"
