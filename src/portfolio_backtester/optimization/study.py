"""Studies of an optimisation: planning budgets, pulling trials, and reading the outcome."""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import logging
import math
import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import optuna
import pandas as pd
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, Trial, TrialState

from ..config import OptimizeConfig, Scenario
from ..data import trading_slice
from ..errors import OptimizationError
from ..metrics import metric
from ..strategies import get_strategy
from .data_context import data_fingerprint, pid_alive
from .objective import (
    Evaluation,
    directions,
    evaluate_params,
    objective_names,
    simulate_window,
)
from .results import OptimizationData, OptimizationResult, WalkForwardWindow, WindowResult
from .space import grid_values, space_size, suggest, validate_space
from .storage import HEARTBEAT_INTERVAL_S, heartbeat_enabled, heartbeat_settings
from .windows import walk_forward_windows

__all__ = [
    "StudyPlan",
    "TrialLock",
    "await_other_hosts",
    "exit_or_defer",
    "joined_plans",
    "make_sampler",
    "mark_trials_failed",
    "plan_studies",
    "remaining_trials",
    "run_trials",
    "study_trials_frame",
    "summarize",
    "trial_evaluation",
    "validate_optimization",
]

logger = logging.getLogger(__name__)

FAIL_REASON = "fail_reason"
WORKER = "worker"
ASK_GUARD = threading.Lock()
"""Held while this process asks for a trial and tags it (see ``_ask_tagged``)."""
_deferred_exit: list[int] = []
EVALUATION = "evaluation"
"""One user attribute per trial holds its outcome (per-window values, trades, constraint
violations, feasibility, the trial it duplicates): on a database every attribute is its own
round trips, so one instead of four or five keeps the storage's share of a trial small."""


_SEPARATE_ATTRIBUTES = ("window_values", "n_trades", "constraint", "feasible", "duplicate_of")
"""Where studies written before the single ``evaluation`` attribute keep the outcome."""


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the running trials of workers that died, on a database with heartbeats.

    Optuna fails those whose heartbeat is older than the grace period, but skips trials with
    no heartbeat at all: those of a worker killed inside ``ask``, before ``_ask_tagged``
    recorded the first heartbeat and the worker tag. Such a trial is also failed here once it
    is older than the grace period (measured on the hosts' clocks).
    """
    with warnings.catch_warnings():
        # Optuna's heartbeat is experimental; we rely on it knowingly.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    _, grace = heartbeat_settings()
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=grace)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if WORKER not in trial.user_attrs and started is not None and started < cutoff:
            _fail_trial(study, trial, "its worker died while asking for it")


def trial_evaluation(trial: FrozenTrial) -> dict[str, Any]:
    """A trial's recorded outcome (empty for a failed or running trial)."""
    evaluation = trial.user_attrs.get(EVALUATION)
    if isinstance(evaluation, dict):
        return evaluation
    # A resumed older study: its infeasible trials must stay infeasible.
    return {k: trial.user_attrs[k] for k in _SEPARATE_ATTRIBUTES if k in trial.user_attrs}


@dataclass(frozen=True, slots=True)
class StudyPlan:
    """One study to fill: its name, its total trial budget, and the windows it scores on."""

    name: str
    budget: int
    windows: tuple[WalkForwardWindow, ...]
    period: Literal["train", "test"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "budget": self.budget,
            "period": self.period,
            "windows": [w.to_dict() for w in self.windows],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudyPlan:
        return cls(
            name=str(values["name"]),
            budget=int(values["budget"]),
            windows=tuple(WalkForwardWindow.from_dict(w) for w in values["windows"]),
            period=values["period"],
        )


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


def plan_studies(
    scenario: Scenario,
    data: OptimizationData,
    storage: BaseStorage,
    study_name: str,
    trials: int,
    *,
    fresh: bool = False,
    events: list[str] | None = None,
) -> tuple[StudyPlan, ...]:
    """Create or resume the studies and decide each one's budget.

    ``cv`` is one study scored on every window's test period; ``walk_forward`` is one study
    per window, scored on its train period. A resumed study must come from the same scenario.
    """
    config = _config(scenario)
    windows = validate_optimization(scenario, data)
    study_directions = directions(config)
    size = space_size(config.params)
    fingerprint = scenario.fingerprint()
    data_print = data_fingerprint(data)
    if config.mode == "cv":
        specs = [(study_name, windows, "test")]
    else:
        specs = [
            (f"{study_name}.window-{k:02d}", (window,), "train")
            for k, window in enumerate(windows)
        ]
    plans = []
    for name, study_windows, period in specs:
        if fresh:
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=name, storage=storage)
        study = optuna.create_study(
            storage=storage, study_name=name, directions=study_directions, load_if_exists=True
        )
        previous = study.user_attrs.get("scenario_fingerprint")
        if previous is not None and previous != fingerprint:
            raise OptimizationError(
                f"study {name!r} was created from a different scenario; resuming it would mix "
                "incomparable trials. Use --fresh to start it over, or another --study-name"
            )
        recover_orphaned_trials(study)
        existing = len(study.get_trials(deepcopy=False))
        budget = existing + trials
        if budget > size:
            message = (
                f"study {name!r}: the search space has only {int(size)} distinct parameter "
                f"sets; running {max(int(size) - existing, 0)} more trial(s) instead of {trials}"
            )
            logger.info(message)
            if events is not None:
                events.append(message)
            budget = max(int(size), existing)
        study.set_user_attr("scenario_fingerprint", fingerprint)
        study.set_user_attr("data_fingerprint", data_print)
        study.set_user_attr("scenario", scenario.model_dump(mode="json"))
        plan = StudyPlan(name, budget, tuple(study_windows), period)  # type: ignore[arg-type]
        study.set_user_attr("budget", budget)
        study.set_user_attr("plan", plan.to_dict())
        plans.append(plan)
    return tuple(plans)


def joined_plans(
    storage: BaseStorage, study_name: str
) -> tuple[Scenario, str, tuple[StudyPlan, ...]]:
    """What a host joining a study needs: its scenario, data fingerprint and plans.

    Everything comes from the study itself, so a joining host needs only the storage URL
    and the study name; the data never travel through the database.
    """
    names = sorted(
        summary.study_name
        # get_all_studies lists names only; study summaries would read every trial of every
        # study in the database.
        for summary in storage.get_all_studies()
        if summary.study_name == study_name
        or summary.study_name.startswith(f"{study_name}.window-")
    )
    if not names:
        raise OptimizationError(
            f"no study named {study_name!r} in the storage; start it with 'optimize' first"
        )
    plans = []
    attrs: dict[str, Any] = {}
    for name in names:
        attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
        if "plan" not in attrs or "scenario" not in attrs:
            raise OptimizationError(
                f"study {name!r} was not created by portfolio-backtester; cannot join it"
            )
        plans.append(StudyPlan.from_dict(attrs["plan"]))
    scenario = Scenario.model_validate(attrs["scenario"])
    return scenario, str(attrs["data_fingerprint"]), tuple(plans)


def validate_optimization(
    scenario: Scenario, data: OptimizationData
) -> tuple[WalkForwardWindow, ...]:
    """Check everything a study depends on before anything is written; return the windows."""
    config = _config(scenario)
    validate_space(get_strategy(scenario.strategy.name), config.params)
    directions(config)
    return data.windows or build_windows(scenario, data)


def await_other_hosts(storage: BaseStorage, plans: tuple[StudyPlan, ...]) -> None:
    """Wait until trials other hosts still run have finished or gone stale (then fail them).

    Without this, a host that died holding a trial would leave it running for good once the
    survivors had spent the budget.
    """
    interval, grace = heartbeat_settings()
    deadline = time.monotonic() + grace + 2 * interval
    while time.monotonic() < deadline:
        running = 0
        for plan in plans:
            study = optuna.load_study(study_name=plan.name, storage=storage)
            fail_stale_trials(study)
            running += len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if running == 0:
            return
        logger.info("waiting for %d trial(s) still running on other hosts", running)
        time.sleep(interval)


def remaining_trials(storage: BaseStorage, plans: tuple[StudyPlan, ...]) -> int:
    """Trials still to start across the studies of a plan."""
    left = 0
    for plan in plans:
        study = optuna.load_study(study_name=plan.name, storage=storage)
        left += max(plan.budget - len(study.get_trials(deepcopy=False)), 0)
    return left


def build_windows(scenario: Scenario, data: OptimizationData) -> tuple[WalkForwardWindow, ...]:
    """Walk-forward windows over the scenario's period of the data."""
    config = _config(scenario)
    calendar = data.daily.index[
        trading_slice(pd.DatetimeIndex(data.daily.index), scenario.data.start, scenario.data.end)
    ]
    spec = config.windows
    return walk_forward_windows(
        pd.DatetimeIndex(calendar),
        train_days=spec.train_days,
        test_days=spec.test_days,
        step_days=spec.step_days,
        kind=spec.kind,
    )


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


def run_trials(
    study: optuna.Study,
    plan: StudyPlan,
    scenario: Scenario,
    data: OptimizationData,
    lock: TrialLock,
    *,
    tag: str,
    deadline: float | None = None,
    evaluate: Callable[[dict[str, Any]], Evaluation] | None = None,
) -> int:
    """Pull trials until the study's budget is spent (or the deadline passes); return count.

    ``evaluate`` replaces the backtest of a parameter set (the storage benchmark times the
    loop itself with a trivial one); by default it is ``evaluate_params`` on the plan.
    """
    if evaluate is None:

        def evaluate(params: dict[str, Any]) -> Evaluation:
            return evaluate_params(scenario, data, params, plan.windows, plan.period)

    config = _config(scenario)
    finite = math.isfinite(space_size(config.params))
    heartbeat = heartbeat_enabled(study._storage)
    stale_check_s = 0.0
    if heartbeat:
        stale_check_s = float(study._storage.get_heartbeat_interval())  # type: ignore[attr-defined]
    next_stale_check = 0.0
    ran = 0
    while deadline is None or time.time() < deadline:
        with lock.hold():
            if heartbeat and time.monotonic() >= next_stale_check:
                # Trials of a host that died are failed here, so the budget is still met.
                # Once per heartbeat interval is enough: a trial turns stale only after the
                # grace period, several intervals long.
                fail_stale_trials(study)
                next_stale_check = time.monotonic() + stale_check_s
            if len(study.get_trials(deepcopy=False)) >= plan.budget:
                break
            trial = _ask_tagged(study, tag, heartbeat=heartbeat)
        with _heartbeat(study, trial, enabled=heartbeat):
            _run_trial(study, trial, scenario, evaluate, finite)
        ran += 1
    return ran


def _ask_tagged(study: optuna.Study, tag: str, *, heartbeat: bool) -> Trial:
    """A new trial, with its first heartbeat (on a database) and tagged with its worker, so
    that it can be failed whenever its worker dies.

    Optuna counts a running trial as stale only once it has a heartbeat, so the first one is
    recorded straight after the trial exists, not when the trial starts to run. Under
    ``ASK_GUARD``: a worker exiting because its parent died waits for it, and a SIGTERM
    arriving meanwhile is deferred (``exit_or_defer``) until the trial is tagged, then fails
    the trial. Only a SIGKILL inside Optuna's ``ask`` itself can still orphan a trial.
    """
    with ASK_GUARD:
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
    if _deferred_exit:
        with contextlib.suppress(Exception):
            trial.set_user_attr(FAIL_REASON, "interrupted")
            study.tell(trial, state=TrialState.FAIL)
        raise SystemExit(_deferred_exit.pop())
    return trial


def exit_or_defer(code: int) -> None:
    """Exit with ``code`` (a signal handler's job), unless a trial is being asked and tagged:
    then exit right after (see ``_ask_tagged``)."""
    if ASK_GUARD.locked():
        _deferred_exit.append(code)
        return
    raise SystemExit(code)


@contextlib.contextmanager
def _heartbeat(study: optuna.Study, trial: Trial, *, enabled: bool) -> Iterator[None]:
    """Record the trial's heartbeat while it runs (ask-and-tell gets none from Optuna); the
    first one was recorded when the trial was asked for."""
    if not enabled:
        yield
        return
    storage = study._storage
    interval = storage.get_heartbeat_interval() or HEARTBEAT_INTERVAL_S  # type: ignore[attr-defined]
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
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
    scenario: Scenario,
    evaluate: Callable[[dict[str, Any]], Evaluation],
    finite_space: bool,
) -> None:
    """Evaluate one trial; any failure is recorded on the trial with its reason."""
    config = _config(scenario)
    finished = False
    try:
        params = suggest(trial, config.params)
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


def mark_trials_failed(
    storage: BaseStorage, plans: tuple[StudyPlan, ...], tag: str, reason: str
) -> int:
    """Fail the running trials of one worker (a dead one: it cannot do it itself)."""
    count = 0
    for plan in plans:
        study = optuna.load_study(study_name=plan.name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get(WORKER) == tag:
                count += _fail_trial(study, trial, reason)
    return count


def recover_orphaned_trials(study: optuna.Study) -> int:
    """Fail running trials whose worker on this host no longer exists.

    Journal storage has no heartbeat, so a killed run leaves trials running forever;
    RDB storage with a heartbeat fails stale trials itself.
    """
    if heartbeat_enabled(study._storage):
        fail_stale_trials(study)
    host = socket.gethostname()
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get(WORKER, ""))
        worker_host, _, pid = worker.rpartition(":")
        if worker_host == host and pid.isdigit() and not pid_alive(int(pid)):
            count += _fail_trial(study, trial, f"worker {worker} is gone")
    if count:
        logger.warning(
            "study %r: marked %d orphaned running trial(s) failed", study.study_name, count
        )
    return count


def _fail_trial(study: optuna.Study, trial: FrozenTrial, reason: str) -> int:
    try:
        study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON, reason)
        study.tell(trial.number, state=TrialState.FAIL)
    except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
        return 0  # it finished meanwhile
    return 1


def summarize(
    scenario: Scenario,
    data: OptimizationData,
    storage: BaseStorage,
    plans: tuple[StudyPlan, ...],
    *,
    n_jobs: int,
    elapsed_s: float,
    events: tuple[str, ...] = (),
) -> OptimizationResult:
    """Read the studies back: best parameters, the Pareto front, walk-forward outcomes."""
    config = _config(scenario)
    names = tuple(objective_names(config))
    study_directions = tuple(directions(config))
    states: collections.Counter[str] = collections.Counter()
    studies = [optuna.load_study(study_name=p.name, storage=storage) for p in plans]
    for study in studies:
        states.update(t.state.name for t in study.get_trials(deepcopy=False))
    best_per_study = [_best_trials(study) for study in studies]
    if config.mode == "cv":
        front = best_per_study[0]
        best = front[0]
        pareto = (
            tuple({"number": t.number, "params": t.params, "values": t.values} for t in front)
            if len(names) > 1
            else ()
        )
        return OptimizationResult(
            study_names=tuple(p.name for p in plans),
            objectives=names,
            directions=study_directions,
            best_params=dict(best.params),
            best_values=tuple(best.values),
            trial_states=dict(states),
            n_jobs=n_jobs,
            elapsed_s=elapsed_s,
            pareto_front=pareto,
            events=events,
        )
    window_results = []
    pieces = []
    strategy = get_strategy(scenario.strategy.name)
    for plan, front in zip(plans, best_per_study, strict=True):
        best = front[0]
        params = strategy.resolve_params({**scenario.strategy.params, **best.params})
        weights = strategy().generate_weights(replace(data, windows=plan.windows), params)
        simulation = simulate_window(scenario, data, weights, plan.windows[0], "test")
        out_values = tuple(
            metric(n, simulation.returns, risk_free_rate=scenario.portfolio.risk_free_rate)
            for n in names
        )
        window_results.append(
            WindowResult(
                plan.windows[0], plan.name, dict(best.params), tuple(best.values), out_values
            )
        )
        pieces.append(simulation.returns)
    stitched = pd.concat(pieces)
    stitched = stitched[~stitched.index.duplicated(keep="first")]
    last = window_results[-1]
    return OptimizationResult(
        study_names=tuple(p.name for p in plans),
        objectives=names,
        directions=study_directions,
        best_params=last.params,
        best_values=last.in_sample,
        trial_states=dict(states),
        n_jobs=n_jobs,
        elapsed_s=elapsed_s,
        windows=tuple(window_results),
        events=events,
        out_of_sample_returns=stitched,
    )


def _best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Best feasible complete trials (one, or the Pareto front), best first."""
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if trial_evaluation(t).get("feasible", True)
    ]
    if not complete:
        failed = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.FAIL]
        # Reasons that differ only in their numbers are the same failure.
        examples: dict[str, str] = {}
        reasons: collections.Counter[str] = collections.Counter()
        for t in failed:
            reason = str(t.user_attrs.get(FAIL_REASON, "unknown"))
            key = re.sub(r"\d+(\.\d+)?", "#", reason)
            examples.setdefault(key, reason)
            reasons[key] += 1
        detail = ""
        if reasons:
            key, count = reasons.most_common(1)[0]
            detail = f"; most common failure ({count} of {len(failed)} trials): {examples[key]}"
        elif study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            detail = "; every finished trial violated the constraints"
        raise OptimizationError(f"study {study.study_name!r} has no usable trial{detail}")
    if len(study.directions) == 1:
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        complete.sort(key=lambda t: t.values[0], reverse=maximize)
        return complete
    front = [t for t in study.best_trials if trial_evaluation(t).get("feasible", True)]
    front = front or complete
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
    return sorted(front, key=lambda t: -sign * t.values[0])


def _config(scenario: Scenario) -> OptimizeConfig:
    if scenario.optimize is None:
        raise OptimizationError("the scenario has no 'optimize' section")
    return scenario.optimize


def study_trials_frame(study: optuna.Study) -> pd.DataFrame:
    """Every trial: number, state, parameters, values, duration, worker, failure reason."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {
            "study": study.study_name,
            "number": trial.number,
            "state": trial.state.name,
        }
        row.update({f"param_{k}": v for k, v in trial.params.items()})
        for i, value in enumerate(trial.values or []):
            row[f"value_{i}"] = value
        duration = trial.duration
        row["duration_s"] = duration.total_seconds() if duration is not None else None
        row["worker"] = trial.user_attrs.get(WORKER)
        row["fail_reason"] = trial.user_attrs.get(FAIL_REASON)
        evaluation = trial_evaluation(trial)
        row["duplicate_of"] = evaluation.get("duplicate_of")
        row["n_trades"] = evaluation.get("n_trades")
        row["feasible"] = evaluation.get("feasible")
        row["window_values"] = json.dumps(evaluation.get("window_values"))
        rows.append(row)
    return pd.DataFrame(rows)
