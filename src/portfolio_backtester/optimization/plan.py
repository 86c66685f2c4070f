"""Studies of an optimisation: created, resumed or joined, each with its trial budget."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import optuna
import pandas as pd
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from ..config import OptimizeConfig, Scenario
from ..data import OptimizationData, WalkForwardWindow, trading_slice
from ..errors import OptimizationError, ScenarioError
from ..overlays import scenario_overlays, validate_overlay_space
from ..strategies import BaseStrategy, get_strategy
from ._fingerprint import data_fingerprint
from .attributes import trial_evaluation
from .objective import directions
from .recovery import recover_orphaned_trials
from .space import space_size, validate_space
from .windows import walk_forward_windows

__all__ = [
    "StudyPlan",
    "build_windows",
    "holdout_bounds",
    "joined_plans",
    "optimize_config",
    "plan_studies",
    "remaining_trials",
    "spent_trials",
    "validate_optimization",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StudyPlan:
    """One study to fill: its name, its total trial budget, and the windows it scores on.

    The budget counts the trials that spent it (:func:`spent_trials`): a parameter set
    already evaluated is recorded again without being evaluated, and costs nothing.
    """

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
    config = optimize_config(scenario)
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
    resumed = 0  # trials the studies had before this run
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
        existing = spent_trials(study.get_trials(deepcopy=False))
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
        resumed += existing
        study.set_user_attr("scenario_fingerprint", fingerprint)
        study.set_user_attr("data_fingerprint", data_print)
        study.set_user_attr("scenario", scenario.model_dump(mode="json"))
        plan = StudyPlan(name, budget, tuple(study_windows), period)  # type: ignore[arg-type]
        study.set_user_attr("budget", budget)
        study.set_user_attr("plan", plan.to_dict())
        plans.append(plan)
    if resumed and events is not None:
        adds = sum(plan.budget for plan in plans) - resumed
        which = f" ({len(plans)} window studies): they have" if len(plans) > 1 else ": it has"
        events.insert(
            0,
            f"resuming study {study_name!r}{which} {resumed} trial(s) from earlier runs; this "
            f"run adds {adds}, to {resumed + adds} in all (--fresh starts over, another "
            "--study-name starts a new study)",
        )
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
    config = optimize_config(scenario)
    strategy = get_strategy(scenario.strategy.name, scenario.strategy.folder)
    for name in config.params:
        if name.partition(".")[0] in ("stops", "portfolio"):
            raise ScenarioError(
                f"optimize.params.{name}: stops are not searched (the walk-forward's "
                "out-of-sample joins its windows into one simulation, with one set of "
                "stops); set them in portfolio.stops and compare runs, one per setting"
            )
    own = validate_overlay_space(scenario_overlays(scenario), config.params)
    validate_space(strategy, own, scenario.strategy.params)
    directions(config)
    _refuse_unwanted_shorts(scenario, strategy)
    return data.windows or build_windows(scenario, data)


def _refuse_unwanted_shorts(scenario: Scenario, strategy: type[BaseStrategy]) -> None:
    """A search that would make a long-only portfolio's strategy go short is refused up
    front: its trials would silently trade only the long leg."""
    if scenario.portfolio.allow_short:
        return
    config = optimize_config(scenario)
    fixed = dict(scenario.strategy.params)
    candidates = [("the strategy's parameters", fixed)]
    own = validate_overlay_space(scenario_overlays(scenario), config.params)
    for name, spec in own.items():
        for choice in spec.choices or []:
            candidates.append(
                (f"optimize.params.{name} choice {choice!r}", {**fixed, name: choice})
            )
    for where, params in candidates:
        if strategy.shorts(strategy.resolve_params(params)):
            raise ScenarioError(
                f"{where} makes strategy {strategy.name!r} take short positions but "
                "portfolio.allow_short is false; allow shorts, or leave that setting out"
            )


def remaining_trials(storage: BaseStorage, plans: tuple[StudyPlan, ...]) -> int:
    """Trials still to start across the studies of a plan."""
    left = 0
    for plan in plans:
        study = optuna.load_study(study_name=plan.name, storage=storage)
        left += max(plan.budget - spent_trials(study.get_trials(deepcopy=False)), 0)
    return left


def spent_trials(trials: Iterable[FrozenTrial]) -> int:
    """Trials that count toward a budget: every one but the repeats of a parameter set
    already evaluated (``duplicate_of``), which reuse its outcome instead of computing it.
    A running trial counts: it may be evaluating."""
    return sum(trial_evaluation(t).get("duplicate_of") is None for t in trials)


def build_windows(scenario: Scenario, data: OptimizationData) -> tuple[WalkForwardWindow, ...]:
    """Walk-forward windows over the scenario's period of the data, before any holdout."""
    config = optimize_config(scenario)
    period = trading_slice(
        pd.DatetimeIndex(data.daily.index), scenario.data.start, scenario.data.end
    )
    holdout = holdout_bounds(scenario, data)
    stop = period.stop if holdout is None else holdout[0]
    calendar = data.daily.index[period.start : stop]
    spec = config.windows
    return walk_forward_windows(
        pd.DatetimeIndex(calendar),
        train_days=spec.train_days,
        test_days=spec.test_days,
        step_days=spec.step_days,
        kind=spec.kind,
        embargo_days=spec.embargo_days,
    )


def holdout_bounds(scenario: Scenario, data: OptimizationData) -> tuple[int, int] | None:
    """Positions of the first and last day of the holdout, or None without one.

    The holdout is the end of the scenario's period: its last ``days`` trading days, or the
    days from ``start`` on. No window, and so no trial, ever scores a day of it.
    """
    holdout = optimize_config(scenario).holdout
    if holdout is None:
        return None
    index = pd.DatetimeIndex(data.daily.index)
    period = trading_slice(index, scenario.data.start, scenario.data.end)
    if holdout.days is not None:
        first = period.stop - holdout.days
    else:
        assert holdout.start is not None  # the config holds one of the two
        first = int(index.searchsorted(pd.Timestamp(holdout.start)))
    last = period.stop - 1
    if first <= period.start or first > last:
        span = f"{index[period.start]:%Y-%m-%d} to {index[last]:%Y-%m-%d}"
        raise ScenarioError(
            f"optimize.holdout leaves no data to optimise on, or none to hold out, in the "
            f"scenario's period {span} ({last + 1 - period.start} trading days); "
            "choose fewer holdout days or a later holdout start"
        )
    return first, last


def optimize_config(scenario: Scenario) -> OptimizeConfig:
    """The scenario's optimize section, or a clear error when it has none."""
    if scenario.optimize is None:
        raise OptimizationError("the scenario has no 'optimize' section")
    return scenario.optimize
