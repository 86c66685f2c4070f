"""A worker's loop: count under a lock, ask and tag a trial, beat, evaluate, tell.

A worker never exits between asking for a trial and tagging it with its name: an untagged
running trial could not be attributed to its worker, so nobody could fail it when the worker
dies. :class:`WorkerShutdown` holds that guard and the exit it defers.

A parameter set already evaluated is recorded again with the earlier outcome and does not
spend the budget (:func:`~.plan.spent_trials`), so a budget of N is N evaluations. The loop
still ends in a finite space: once every point is evaluated, or when the sampler keeps
proposing evaluated points (``repeat_limit`` in a row).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from ..config import ParamSpace, PruningConfig
from .attributes import EVALUATION, FAIL_REASON, WORKER, trial_evaluation
from .objective import Evaluation, StepReport
from .plan import StudyPlan, spent_trials
from .recovery import StaleTrials
from .space import space_size, suggest
from .storage import STORAGE_ERRORS, storage_heartbeat

__all__ = ["Evaluate", "TrialLock", "WorkerShutdown", "repeat_limit", "run_trials"]

logger = logging.getLogger(__name__)

_SCORED = (TrialState.COMPLETE, TrialState.PRUNED)
"""The states of a trial whose outcome a repeat of its parameters can reuse."""


class Evaluate(Protocol):
    """Scores a parameter set; with ``report``, tells it the running score after each
    window. Called with ``params`` alone while pruning is off, so a trivial evaluate (the
    storage benchmark's) may take nothing else."""

    def __call__(self, params: dict[str, Any], report: StepReport | None = None) -> Evaluation: ...


def repeat_limit(size: float) -> int:
    """Repeats in a row after which a worker stops asking: ten times the space's size, so
    that a random sampler looking for the last unevaluated point of a space (about ``size``
    asks) is almost never cut short (a chance of e^-10), while a sampler that converged on
    evaluated points is."""
    return max(100, 10 * int(size)) if math.isfinite(size) else 0


class TrialLock:
    """The lock under which a worker counts trials and asks for the next one.

    Counting and asking under one lock shared by all workers makes the budget exact:
    Optuna's MaxTrialsCallback checks after the fact and overshoots by up to N - 1.

    ``marker`` is a file of this worker's that exists exactly while it holds the lock: if the
    worker dies holding it (a SIGKILL inside ``study.ask()``), the file stays, and tells the
    parent that the dead worker may have left an untagged trial behind.
    """

    def __init__(self, lock: Any | None, marker: Path | None = None) -> None:
        self._lock = lock
        self._marker = marker

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        with self._lock:
            if self._marker is None:
                yield
                return
            self._marker.touch()
            try:
                yield
            finally:
                self._marker.unlink(missing_ok=True)


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
    evaluate: Evaluate,
    lock: TrialLock,
    *,
    space: Mapping[str, ParamSpace],
    tag: str,
    shutdown: WorkerShutdown,
    deadline: float | None = None,
    pruning: PruningConfig | None = None,
) -> int:
    """Pull trials until the study's budget is spent (or the deadline passes, or a finite
    space has no point left to evaluate); return how many this worker asked for.

    ``evaluate`` scores a parameter set (the objective on the plan's windows; the storage
    benchmark times the loop itself with a trivial one). With ``pruning``, it reports the
    running score to the trial at each check and the study's pruner may stop it there.
    """
    size = space_size(space)
    finite = math.isfinite(size)
    heartbeat = storage_heartbeat(study._storage)
    stale = StaleTrials()
    next_stale_check = 0.0
    ran = repeats = 0
    while deadline is None or time.time() < deadline:
        with lock.hold():
            if heartbeat is not None and time.monotonic() >= next_stale_check:
                # Trials of a host that died are failed here, so the budget is still met.
                # Once per heartbeat interval is enough: a trial turns stale only after the
                # grace period, several intervals long.
                stale.fail(study)
                next_stale_check = time.monotonic() + heartbeat.interval_s
            trials = study.get_trials(deepcopy=False)
            if finite and _scored_points(trials) >= size:
                logger.info(
                    "study %r: all %d parameter sets of the search space are evaluated; "
                    "stopping with %d trial(s) spent of a budget of %d",
                    plan.name,
                    size,
                    spent_trials(trials),
                    plan.budget,
                )
                break
            if spent_trials(trials) >= plan.budget:
                break
            trial = ask_tagged(study, tag, shutdown, heartbeat=heartbeat is not None)
        ran += 1
        if trial is None:
            continue  # failed by another process before it was tagged; it counts
        with _heartbeat(study, trial, None if heartbeat is None else heartbeat.interval_s):
            repeated = _run_trial(study, trial, space, evaluate, finite, pruning)
        repeats = repeats + 1 if repeated else 0
        if finite and repeats >= repeat_limit(size):
            logger.warning(
                "study %r: the sampler proposed %d parameter sets in a row that were already "
                "evaluated; stopping this worker with %d trial(s) spent of a budget of %d "
                "(a random sampler explores the rest of a finite space)",
                plan.name,
                repeats,
                spent_trials(study.get_trials(deepcopy=False)),
                plan.budget,
            )
            break
    return ran


def ask_tagged(
    study: optuna.Study, tag: str, shutdown: WorkerShutdown, *, heartbeat: bool
) -> Trial | None:
    """A new trial, with its first heartbeat (on a database) and tagged with its worker, so
    that it can be failed whenever its worker dies; None if another process failed it first.

    Optuna counts a running trial as stale only once it has a heartbeat, so the first one is
    recorded straight after the trial exists, not when the trial starts to run. A worker
    exiting because its parent died waits for the tag, and a SIGTERM arriving meanwhile is
    deferred until the trial is tagged, then fails the trial. Only a SIGKILL inside Optuna's
    ``ask`` itself can still leave an untagged trial: the parent fails it (it finds the dead
    worker's lock marker), or on a shared database the stale check after the grace period.
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
        except optuna.exceptions.UpdateFinishedTrialError:
            logger.warning(
                "trial %d was failed by another process before this worker tagged it; "
                "asking for another",
                trial.number,
            )
            return None
        except BaseException:
            _record(study, trial, {}, None, TrialState.FAIL, "not tagged")
            raise
    code = shutdown.take_deferred()
    if code is not None:
        _record(study, trial, {FAIL_REASON: "interrupted"}, None, TrialState.FAIL, "interrupted")
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
        # One failed write (a database restart, a dropped connection) must not end the
        # beating: the trial would then be failed as stale while it runs.
        while not stop.wait(interval_s):
            try:
                storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
            except STORAGE_ERRORS as exc:
                logger.warning(
                    "heartbeat of trial %d failed (%s: %s); trying again in %d s",
                    trial.number,
                    type(exc).__name__,
                    exc,
                    interval_s,
                )

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
    evaluate: Evaluate,
    finite_space: bool,
    pruning: PruningConfig | None,
) -> bool:
    """Evaluate one trial and record its outcome, as Optuna's ``_run_trial`` does: only the
    objective is caught, and recording it survives a storage that refuses. True if the
    trial repeated a parameter set already evaluated."""
    try:
        values, outcome, state = _objective(study, trial, space, evaluate, finite_space, pruning)
    except Exception as exc:  # noqa: BLE001  # the trial boundary: record, never swallow
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("trial %d failed: %s", trial.number, reason)
        _record(study, trial, {FAIL_REASON: reason}, None, TrialState.FAIL, reason)
        return False
    except BaseException:
        # SystemExit from SIGTERM, KeyboardInterrupt: leave no trial running.
        _record(study, trial, {FAIL_REASON: "interrupted"}, None, TrialState.FAIL, "interrupted")
        raise
    what = "its values" if state is None else "pruned"
    _record(study, trial, {EVALUATION: outcome}, values, state, what)
    return "duplicate_of" in outcome


def _objective(
    study: optuna.Study,
    trial: Trial,
    space: Mapping[str, ParamSpace],
    evaluate: Evaluate,
    finite_space: bool,
    pruning: PruningConfig | None,
) -> tuple[list[float] | None, dict[str, Any], TrialState | None]:
    """The trial's values, recorded outcome and state (None: complete; pruned: no values,
    Optuna takes the last reported score); raises whatever the objective raises."""
    params = suggest(trial, space)
    earlier = _same_params(study, trial, params) if finite_space else None
    if earlier is not None:
        # A discrete space revisits points; reuse the outcome instead of recomputing it.
        first = trial_evaluation(earlier).get("duplicate_of", earlier.number)
        outcome = {**trial_evaluation(earlier), "duplicate_of": first}
        if earlier.state == TrialState.PRUNED:
            # Its scores as it was pruned: the last is its value and what TPE ranks it by.
            # A repeat of a complete trial reports none, so the pruner's median counts a
            # parameter set once.
            for step, value in sorted(earlier.intermediate_values.items()):
                trial.report(value, step)
            return None, outcome, TrialState.PRUNED
        assert earlier.values is not None  # a complete trial has its values
        return list(earlier.values), outcome, None
    if pruning is not None:
        evaluation = evaluate(params, _pruning_report(trial, pruning))
    else:
        evaluation = evaluate(params)  # a trivial evaluate may take the parameters alone
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
    if evaluation.pruned:
        logger.debug(
            "trial %d pruned after %d window(s)", trial.number, len(evaluation.window_values)
        )
        return None, outcome, TrialState.PRUNED
    return list(evaluation.values), outcome, None


def _pruning_report(trial: Trial, pruning: PruningConfig) -> StepReport:
    """Reports the running score at the windows the pruner checks (after the warm-up, every
    ``interval_steps``), and only there: each report is a write to the storage. True when
    the pruner stops the trial."""

    def report(step: int, values: tuple[float, ...]) -> bool:
        since = step - pruning.n_warmup_steps
        if since < 0 or since % pruning.interval_steps:
            return False
        if not math.isfinite(values[0]):
            return False  # undefined: the trial fails at the end, with the reason
        trial.report(values[0], step)
        return trial.should_prune()

    return report


def _record(
    study: optuna.Study,
    trial: Trial,
    attributes: Mapping[str, Any],
    values: list[float] | None,
    state: TrialState | None,
    what: str,
) -> None:
    """Write the trial's attributes, then tell its values or state.

    A trial already finished by another process (a stale-trial check, the parent) keeps the
    state recorded there: the worker logs what it would have recorded and goes on. So does a
    storage that cannot be written: the trial is failed later (stale, or by the parent).
    """
    try:
        for key, value in attributes.items():
            trial.set_user_attr(key, value)
        study.tell(trial, values, state=state, skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:
        logger.warning(
            "trial %d was already finished by another process (a stale-trial check or the "
            "parent); its recorded state stands, this worker's outcome (%s) is not recorded",
            trial.number,
            what,
        )
    except STORAGE_ERRORS as exc:
        logger.error(
            "could not record trial %d (%s) in the storage: %s: %s",
            trial.number,
            what,
            type(exc).__name__,
            exc,
        )


def _same_params(study: optuna.Study, trial: Trial, params: dict[str, Any]) -> FrozenTrial | None:
    # The snapshot the sampler read while this trial was asked (TPE does), if any: then the
    # storage is not read a second time.
    scored = study._get_trials(deepcopy=False, states=_SCORED, use_cache=True)
    for other in scored:
        if other.number != trial.number and other.params == params:
            return other
    return None


def _scored_points(trials: list[FrozenTrial]) -> int:
    """Distinct parameter sets with an outcome (complete or pruned)."""
    return len({tuple(sorted(t.params.items())) for t in trials if t.state in _SCORED})
