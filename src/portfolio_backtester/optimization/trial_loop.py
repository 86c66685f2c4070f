"""A worker's loop: count under a lock, ask and tag a trial, beat, evaluate, tell.

A worker never exits between asking for a trial and tagging it with its name: an untagged
running trial could not be attributed to its worker, so nobody could fail it when the worker
dies. :class:`WorkerShutdown` holds that guard and the exit it defers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from ..config import ParamSpace
from .attributes import EVALUATION, FAIL_REASON, WORKER, trial_evaluation
from .objective import Evaluation
from .plan import StudyPlan
from .recovery import fail_stale_trials
from .space import space_size, suggest
from .storage import storage_heartbeat

__all__ = ["TrialLock", "WorkerShutdown", "run_trials"]

logger = logging.getLogger(__name__)


class TrialLock:
    """The lock under which a worker counts trials and asks for the next one.

    Counting and asking under one lock shared by all workers makes the budget exact:
    Optuna's MaxTrialsCallback checks after the fact and overshoots by up to N - 1.
    """

    def __init__(self, lock: Any | None) -> None:
        self._lock = lock

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        with self._lock:
            yield


class WorkerShutdown:
    """A worker's exit requests, deferred while it asks for a trial and tags it.

    The worker creates one and hands it to its signal handler, its parent watch and its
    trial loop; nothing about shutting down lives in module state.
    """

    def __init__(self) -> None:
        self._asking = threading.Lock()
        self._deferred: int | None = None

    def request_exit(self, code: int) -> None:
        """Exit with ``code`` (a signal handler's job), unless a trial is being asked and
        tagged: then exit right after it is tagged, failing it."""
        if self._asking.locked():
            self._deferred = code
            return
        raise SystemExit(code)

    def wait_until_tagged(self, timeout_s: float) -> None:
        """Block until no trial is between ask and tag (the parent watch exits after it)."""
        self._asking.acquire(timeout=timeout_s)

    @contextlib.contextmanager
    def asking(self) -> Iterator[None]:
        with self._asking:
            yield

    def take_deferred(self) -> int | None:
        code, self._deferred = self._deferred, None
        return code


def run_trials(
    study: optuna.Study,
    plan: StudyPlan,
    evaluate: Callable[[dict[str, Any]], Evaluation],
    lock: TrialLock,
    *,
    space: Mapping[str, ParamSpace],
    tag: str,
    shutdown: WorkerShutdown,
    deadline: float | None = None,
) -> int:
    """Pull trials until the study's budget is spent (or the deadline passes); return count.

    ``evaluate`` scores a parameter set (the objective on the plan's windows; the storage
    benchmark times the loop itself with a trivial one).
    """
    finite = math.isfinite(space_size(space))
    heartbeat = storage_heartbeat(study._storage)
    next_stale_check = 0.0
    ran = 0
    while deadline is None or time.time() < deadline:
        with lock.hold():
            if heartbeat is not None and time.monotonic() >= next_stale_check:
                # Trials of a host that died are failed here, so the budget is still met.
                # Once per heartbeat interval is enough: a trial turns stale only after the
                # grace period, several intervals long.
                fail_stale_trials(study)
                next_stale_check = time.monotonic() + heartbeat.interval_s
            if len(study.get_trials(deepcopy=False)) >= plan.budget:
                break
            trial = ask_tagged(study, tag, shutdown, heartbeat=heartbeat is not None)
        with _heartbeat(study, trial, None if heartbeat is None else heartbeat.interval_s):
            _run_trial(study, trial, space, evaluate, finite)
        ran += 1
    return ran


def ask_tagged(
    study: optuna.Study, tag: str, shutdown: WorkerShutdown, *, heartbeat: bool
) -> Trial:
    """A new trial, with its first heartbeat (on a database) and tagged with its worker, so
    that it can be failed whenever its worker dies.

    Optuna counts a running trial as stale only once it has a heartbeat, so the first one is
    recorded straight after the trial exists, not when the trial starts to run. A worker
    exiting because its parent died waits for the tag, and a SIGTERM arriving meanwhile is
    deferred until the trial is tagged, then fails the trial. Only a SIGKILL inside Optuna's
    ``ask`` itself can still orphan a trial (the stale check fails it after the grace period).
    """
    with shutdown.asking():
        with warnings.catch_warnings():
            # Optuna expects heartbeats only under Study.optimize; _heartbeat records them.
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        try:
            if heartbeat:
                study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
            trial.set_user_attr(WORKER, tag)
        except BaseException:
            with contextlib.suppress(Exception):
                study.tell(trial, state=TrialState.FAIL)
            raise
    code = shutdown.take_deferred()
    if code is not None:
        with contextlib.suppress(Exception):
            trial.set_user_attr(FAIL_REASON, "interrupted")
            study.tell(trial, state=TrialState.FAIL)
        raise SystemExit(code)
    return trial


@contextlib.contextmanager
def _heartbeat(study: optuna.Study, trial: Trial, interval_s: int | None) -> Iterator[None]:
    """Record the trial's heartbeat while it runs (ask-and-tell gets none from Optuna); the
    first one was recorded when the trial was asked for."""
    if interval_s is None:
        yield
        return
    storage = study._storage
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval_s):
            storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run_trial(
    study: optuna.Study,
    trial: Trial,
    space: Mapping[str, ParamSpace],
    evaluate: Callable[[dict[str, Any]], Evaluation],
    finite_space: bool,
) -> None:
    """Evaluate one trial; any failure is recorded on the trial with its reason."""
    finished = False
    try:
        params = suggest(trial, space)
        earlier = _same_params(study, trial, params) if finite_space else None
        if earlier is not None:
            # A discrete space revisits points; reuse the value instead of recomputing it.
            outcome = {**trial_evaluation(earlier), "duplicate_of": earlier.number}
            trial.set_user_attr(EVALUATION, outcome)
            study.tell(trial, earlier.values)
            finished = True
            return
        evaluation = evaluate(params)
        bad = [v for v in evaluation.values if not math.isfinite(v)]
        if bad:
            raise ValueError(
                f"objective is {bad[0]} (the metric is undefined for these parameters, "
                "e.g. no trades or no variation in returns)"
            )
        outcome = {
            "window_values": [list(v) for v in evaluation.window_values],
            "n_trades": evaluation.n_trades,
            "constraint": list(evaluation.constraint_violations) or [0.0],
            "feasible": evaluation.feasible,
        }
        trial.set_user_attr(EVALUATION, outcome)
        study.tell(trial, list(evaluation.values))
        finished = True
    except Exception as exc:  # noqa: BLE001  # the trial boundary: record, never swallow
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("trial %d failed: %s", trial.number, reason)
        trial.set_user_attr(FAIL_REASON, reason)
        study.tell(trial, state=TrialState.FAIL)
        finished = True
    finally:
        if not finished:
            # SystemExit from SIGTERM, KeyboardInterrupt: leave no trial running.
            with contextlib.suppress(Exception):
                trial.set_user_attr(FAIL_REASON, "interrupted")
                study.tell(trial, state=TrialState.FAIL)


def _same_params(study: optuna.Study, trial: Trial, params: dict[str, Any]) -> FrozenTrial | None:
    # The snapshot the sampler read while this trial was asked (TPE does), if any: then the
    # storage is not read a second time.
    complete = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
    for other in complete:
        if other.number != trial.number and other.params == params:
            return other
    return None
