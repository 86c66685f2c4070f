"""Run an optimisation in this process or in N spawned workers that pull memory-mapped data.

The parent writes the data once (``write_data_context``) and gives each worker only the small
``OptimizationDataContext``; workers map the files read-only, so N workers cost about one copy
of the data, and take trials from the shared Optuna study until its budget is spent. The
parent never maps the files itself: it goes on with the data it was given, so that when it
deletes the files no process maps them (Windows refuses to delete a mapped file).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import optuna

from ..config import Scenario
from ..data import OptimizationData
from ..errors import OptimizationError, ScenarioError
from ._identity import worker_tag
from ._ownership import DIRECTORY_PREFIX, remove_orphaned_data_dirs, write_marker
from .capacity import check_memory, resolve_n_jobs
from .data_context import (
    open_data_context,
    remove_data_context,
    required_bytes,
    write_data_context,
)
from .locks import budget_lock
from .objective import Objective
from .outcome import summarize
from .plan import StudyPlan, plan_studies, validate_optimization
from .processes import (
    configure_worker_logging,
    single_threaded_children,
    stop_workers,
    watch_parent,
)
from .progress import Progress, ProgressReporter
from .recovery import await_other_hosts, fail_untagged_trials, mark_trials_failed
from .results import OptimizationDataContext, OptimizationResult
from .samplers import make_sampler
from .storage import HeartbeatSettings, open_storage
from .trial_loop import TrialLock, WorkerShutdown
from .trial_returns import TrialReturnsReader
from .worker_run import SamplerFactory, WorkerSettings, run_plans

__all__ = ["ParallelOptimizationRunner", "Progress", "SamplerFactory", "WorkerSettings"]

logger = logging.getLogger(__name__)


@dataclass
class ParallelOptimizationRunner:
    """Optimise a scenario's strategy parameters over its walk-forward windows.

    ``n_jobs == 1`` evaluates trials in this process on ``data``; ``n_jobs > 1`` spawns
    workers (the ``spawn`` start method on every OS) that share the data through memory-mapped
    files and the trial budget through the study storage and a lock. ``n_jobs`` is capped at
    the usable cores unless ``oversubscribe``, and a run whose workers would not fit in the
    available memory is refused before anything is written.
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
    oversubscribe: bool = False
    on_event: Callable[[str], None] | None = None
    """Called with each event as it happens (a resumed study, a worker lost), so that a
    user reads it before the run, not only in the result."""
    _announced: int = field(default=0, init=False, repr=False)
    sampler_factory: SamplerFactory = make_sampler
    """Builds each worker's sampler (a module-level function: workers import it by name)."""

    def run(
        self, plans: tuple[StudyPlan, ...] | None = None
    ) -> tuple[OptimizationResult, OptimizationData]:
        """Run to the budget; return the result and the data to use afterwards.

        ``plans`` are given when joining a study another host created; otherwise the studies
        are created or resumed here. The returned data are ``self.data``, the parent's only
        copy: the workers' mapped files are deleted when they have exited.
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
            n_jobs = self._n_jobs(trials)
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
            n_jobs = self._n_jobs(sum(plan.budget for plan in plans))
        self._announce()
        deadline = None
        timeout = self.timeout if self.timeout is not None else config.timeout
        if timeout is not None:
            deadline = time.time() + timeout
        data = self.data
        returns_dir = self._returns_dir(config.overfitting.enabled)
        try:
            return self._run_and_summarize(
                storage, plans, n_jobs, deadline, started, returns_dir
            ), data
        finally:
            if returns_dir is not None:
                shutil.rmtree(returns_dir, ignore_errors=True)

    def _returns_dir(self, enabled: bool) -> str | None:
        """A private folder for the trials' daily returns, recognised as an orphan (like a
        data folder) if this process is killed outright."""
        if not enabled:
            return None
        parent = self.data_dir if self.data_dir is not None else tempfile.gettempdir()
        path = Path(tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}returns-", dir=parent))
        write_marker(path)
        return str(path)

    def _run_and_summarize(
        self,
        storage: optuna.storages.BaseStorage,
        plans: tuple[StudyPlan, ...],
        n_jobs: int,
        deadline: float | None,
        started: float,
        returns_dir: str | None,
    ) -> OptimizationResult:
        config = self.scenario.optimize
        assert config is not None
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
                sampler_factory=self.sampler_factory,
                returns_dir=returns_dir,
            )
            with ProgressReporter(
                self.on_progress, storage, plans, started, self.progress_interval_s
            ).in_thread():
                run_plans(
                    settings, self.scenario, data, storage, TrialLock(None), WorkerShutdown()
                )
        else:
            self._run_workers(storage, plans, n_jobs, deadline, started, returns_dir)
        await_other_hosts(storage, [plan.name for plan in plans])
        recorded = TrialReturnsReader(returns_dir)
        try:
            return summarize(
                Objective(self.scenario),
                data,
                storage,
                plans,
                n_jobs=n_jobs,
                elapsed_s=time.monotonic() - started,
                events=tuple(self.events),
                recorded=recorded,
            )
        finally:
            recorded.close()  # the maps go before the folder does

    def _announce(self) -> None:
        """Pass the events not yet announced to ``on_event``."""
        if self.on_event is not None:
            for event in self.events[self._announced :]:
                self.on_event(event)
        self._announced = len(self.events)

    def _n_jobs(self, trials: int) -> int:
        """The workers this run gets, refused before anything is written if they do not fit
        in memory."""
        n_jobs = resolve_n_jobs(
            self.n_jobs, trials, oversubscribe=self.oversubscribe, events=self.events
        )
        in_memory = sum(frame.to_numpy().nbytes for frame in self.data.frames().values())
        check_memory(n_jobs, required_bytes(self.data), in_memory)
        return n_jobs

    def _run_workers(
        self,
        storage: optuna.storages.BaseStorage,
        plans: tuple[StudyPlan, ...],
        n_jobs: int,
        deadline: float | None,
        started: float,
        returns_dir: str | None,
    ) -> None:
        context_mp = multiprocessing.get_context("spawn")
        context: OptimizationDataContext | None = None
        workers: dict[multiprocessing.process.BaseProcess, WorkerSettings] = {}
        names = [plan.name for plan in plans]
        config = self.scenario.optimize
        assert config is not None
        try:
            context = write_data_context(self.data, self.data_dir)
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
                        sampler_factory=self.sampler_factory,
                        returns_dir=returns_dir,
                    )
                    process: multiprocessing.process.BaseProcess = context_mp.Process(
                        target=_optuna_worker,
                        args=(context, settings),
                        name=f"pbt-worker-{index}",
                    )
                    process.start()
                    workers[process] = settings
            logger.info("started %d workers (spawn)", n_jobs)
            self._supervise(storage, plans, workers, context, started)
        finally:
            stop_workers(list(workers))
            for process, settings in workers.items():
                if process.pid is None:
                    continue
                reason = "worker stopped before the trial finished"
                mark_trials_failed(
                    storage, names, worker_tag(process.pid, settings.worker_id), reason
                )
                if context is not None:
                    _fail_asked_trial(storage, names, context, settings.worker_id, reason)
            if context is not None:
                remove_data_context(context)
                logger.info("removed data directory %s", context.directory)

    def _supervise(
        self,
        storage: optuna.storages.BaseStorage,
        plans: tuple[StudyPlan, ...],
        workers: dict[multiprocessing.process.BaseProcess, WorkerSettings],
        context: OptimizationDataContext,
        started: float,
    ) -> None:
        """Wait for the workers, failing the trial of any that dies, until all have exited."""
        progress = ProgressReporter(
            self.on_progress, storage, plans, started, self.progress_interval_s
        )
        names = [plan.name for plan in plans]
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
                    worker_id = workers[process].worker_id
                    reason = f"worker {process.name} died (exit code {process.exitcode})"
                    tag = worker_tag(process.pid, worker_id)
                    lost = mark_trials_failed(storage, names, tag, reason)
                    lost += _fail_asked_trial(storage, names, context, worker_id, reason)
                    message = (
                        f"worker {process.name} (pid {process.pid}) exited with code "
                        f"{process.exitcode}; {lost} running trial(s) marked failed"
                    )
                    logger.warning(message)
                    self.events.append(message)
                    self._announce()
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


def _fail_asked_trial(
    storage: optuna.storages.BaseStorage,
    names: Sequence[str],
    context: OptimizationDataContext,
    worker_id: str,
    reason: str,
) -> int:
    """Fail the trial a dead worker was asking for when it died holding the budget lock.

    The system released the lock; the worker's marker file is what is left. Holding the lock,
    the parent knows no live worker is between asking and tagging, so the one untagged
    running trial is the dead worker's.
    """
    marker = _asking_marker(context.directory, worker_id)
    if not marker.exists():
        return 0
    try:
        with budget_lock(context.directory, timeout_s=60):
            lost = fail_untagged_trials(storage, names, f"{reason} while asking for a trial")
            marker.unlink(missing_ok=True)
    except filelock.Timeout:
        logger.warning("could not take the budget lock to fail the trial of %s", reason)
        return 0
    return lost


def _optuna_worker(context: OptimizationDataContext, settings: WorkerSettings) -> None:
    """Entry point of a spawned worker: map the data, then pull trials until the budget ends."""
    configure_worker_logging(settings.log_level)
    shutdown = WorkerShutdown()
    # The parent owns Ctrl-C. It stops workers with Process.terminate(): SIGTERM on POSIX,
    # which must still run `finally`; TerminateProcess on Windows, which runs nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sigterm = getattr(signal, "SIGTERM", None)
    if sigterm is not None:
        signal.signal(sigterm, lambda signum, _frame: shutdown.request_exit(128 + signum))
    watch_parent(shutdown)
    data = open_data_context(context)
    scenario = Scenario.model_validate(settings.scenario)
    storage = open_storage(settings.storage_url, settings.heartbeat)
    marker = _asking_marker(context.directory, settings.worker_id)
    local = TrialLock(budget_lock(context.directory), marker)
    run_plans(settings, scenario, data, storage, local, shutdown)


def _asking_marker(directory: str, worker_id: str) -> Path:
    return Path(directory) / f"asking-{worker_id}"
