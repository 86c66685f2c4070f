"""What the studies found: best parameters, the Pareto front, walk-forward results, trials."""

from __future__ import annotations

import collections
import json
import re
from typing import Any

import optuna
import pandas as pd
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from ..data import OptimizationData
from ..errors import OptimizationError
from ..metrics import metric
from .attributes import FAIL_REASON, WORKER, trial_evaluation
from .objective import Objective
from .out_of_sample import holdout_result, walk_forward_out_of_sample
from .overfitting import overfitting_report
from .plan import StudyPlan, holdout_bounds, spent_trials
from .results import OptimizationResult, WindowResult
from .trial_returns import TrialReturnsReader

__all__ = ["study_trials_frame", "summarize", "trial_distributions"]


def summarize(
    objective: Objective,
    data: OptimizationData,
    storage: BaseStorage,
    plans: tuple[StudyPlan, ...],
    *,
    n_jobs: int,
    elapsed_s: float,
    events: tuple[str, ...] = (),
    recorded: TrialReturnsReader | None = None,
) -> OptimizationResult:
    """Read the studies back: best parameters, the Pareto front, walk-forward outcomes, the
    out-of-sample and holdout results."""
    names = objective.names
    states: collections.Counter[str] = collections.Counter()
    studies = [optuna.load_study(study_name=p.name, storage=storage) for p in plans]
    repeats = 0
    for study in studies:
        trials = study.get_trials(deepcopy=False)
        states.update(t.state.name for t in trials)
        repeats += len(trials) - spent_trials(trials)
    if repeats:
        events = (
            *events,
            f"{repeats} trial(s) repeated a parameter set already evaluated: each reuses that "
            "outcome and does not count toward the budget",
        )
    best_per_study = [_best_trials(study) for study in studies]
    common: dict[str, Any] = {
        "study_names": tuple(p.name for p in plans),
        "objectives": names,
        "directions": objective.directions,
        "trial_states": dict(states),
        "n_jobs": n_jobs,
        "elapsed_s": elapsed_s,
        "events": events,
        "trials": pd.concat([study_trials_frame(s) for s in studies], ignore_index=True),
        "distributions": trial_distributions(studies[-1]),
        "overfitting": overfitting_report(
            objective,
            data,
            plans,
            studies,
            [front[0].number for front in best_per_study],
            recorded,
        ),
    }
    holdout = holdout_bounds(objective.scenario, data)
    if objective.config.mode == "cv":
        front = best_per_study[0]
        best = front[0]
        pareto = (
            tuple({"number": t.number, "params": t.params, "values": t.values} for t in front)
            if len(names) > 1
            else ()
        )
        return OptimizationResult(
            best_params=dict(best.params),
            best_values=tuple(best.values),
            pareto_front=pareto,
            holdout=None
            if holdout is None
            else holdout_result(objective, data, best.params, *holdout),
            **common,
        )
    windows = [plan.windows[0] for plan in plans]
    chosen = [dict(front[0].params) for front in best_per_study]
    oos = walk_forward_out_of_sample(objective, data, windows, chosen)
    rf = objective.scenario.portfolio.risk_free_rate
    window_results = []
    assert oos.window is not None
    for k, (plan, front) in enumerate(zip(plans, best_per_study, strict=True)):
        returns = oos.returns[oos.window.to_numpy() == k]
        out_values = tuple(metric(n, returns, risk_free_rate=rf) for n in names)
        window_results.append(
            WindowResult(plan.windows[0], plan.name, chosen[k], tuple(front[0].values), out_values)
        )
    last = window_results[-1]
    return OptimizationResult(
        best_params=last.params,
        best_values=last.in_sample,
        windows=tuple(window_results),
        out_of_sample=oos,
        holdout=None
        if holdout is None
        else holdout_result(objective, data, last.params, *holdout),
        **common,
    )


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


def trial_distributions(study: optuna.Study) -> dict[str, str]:
    """Each searched parameter's Optuna distribution as JSON, so that a report can rebuild
    the study from the run folder without opening its storage."""
    found: dict[str, str] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, distribution in trial.distributions.items():
            found.setdefault(name, optuna.distributions.distribution_to_json(distribution))
    return found


def _best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Best feasible complete trials (one, or the Pareto front), best first; a pruned trial
    was not scored on every window, so it is never one of them."""
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if trial_evaluation(t).get("feasible", True)
    ]
    if not complete:
        raise OptimizationError(f"study {study.study_name!r} has no usable trial{_why(study)}")
    if len(study.directions) == 1:
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        complete.sort(key=lambda t: t.values[0], reverse=maximize)
        return complete
    front = [t for t in study.best_trials if trial_evaluation(t).get("feasible", True)]
    front = front or complete
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
    return sorted(front, key=lambda t: -sign * t.values[0])


def _why(study: optuna.Study) -> str:
    """The most common failure; reasons that differ only in their numbers are the same."""
    failed = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.FAIL]
    examples: dict[str, str] = {}
    reasons: collections.Counter[str] = collections.Counter()
    for t in failed:
        reason = str(t.user_attrs.get(FAIL_REASON, "unknown"))
        key = re.sub(r"\d+(\.\d+)?", "#", reason)
        examples.setdefault(key, reason)
        reasons[key] += 1
    if reasons:
        key, count = reasons.most_common(1)[0]
        return f"; most common failure ({count} of {len(failed)} trials): {examples[key]}"
    if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return "; every finished trial violated the constraints"
    return ""
