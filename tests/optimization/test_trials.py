"""The trial loop's bookkeeping: outcomes read back from older studies, SIGTERM while a trial
is being asked, a trial failed by another process mid-run, a heartbeat that hits a busy
database, and stale trials judged on the database's clock."""

from __future__ import annotations

import datetime
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from portfolio_backtester.config import ParamSpace
from portfolio_backtester.optimization.attributes import trial_evaluation
from portfolio_backtester.optimization.objective import Evaluation
from portfolio_backtester.optimization.plan import StudyPlan
from portfolio_backtester.optimization.recovery import StaleTrials, fail_stale_trials, fail_trial
from portfolio_backtester.optimization.samplers import _constraints
from portfolio_backtester.optimization.storage import open_storage
from portfolio_backtester.optimization.trial_loop import (
    TrialLock,
    WorkerShutdown,
    ask_tagged,
    run_trials,
)
from processes import wait_until


def test_outcomes_of_studies_written_with_separate_attributes_are_still_read() -> None:
    """A study resumed from an older version keeps its infeasible trials infeasible."""
    old = create_trial(
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0.0, 1.0)},
        value=1.0,
        user_attrs={"feasible": False, "constraint": [0.25], "n_trades": 3},
    )
    assert trial_evaluation(old) == {"feasible": False, "constraint": [0.25], "n_trades": 3}
    assert _constraints(old) == [0.25]
    new = create_trial(
        value=1.0, user_attrs={"evaluation": {"feasible": True, "constraint": [-0.1]}}
    )
    assert _constraints(new) == [-0.1]
    assert trial_evaluation(create_trial(value=1.0)) == {}


class SignallingSampler(optuna.samplers.RandomSampler):
    """Sends this process SIGTERM while Optuna is creating the trial."""

    def before_trial(self, study: optuna.Study, trial: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        super().before_trial(study, trial)


@pytest.fixture
def shutdown() -> Iterator[WorkerShutdown]:
    """A worker's shutdown state, wired to SIGTERM as ``_optuna_worker`` wires it."""
    state = WorkerShutdown()
    previous = signal.signal(
        signal.SIGTERM, lambda signum, frame: state.request_exit(128 + signum)
    )
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_while_a_trial_is_asked_fails_the_tagged_trial_then_exits(
    shutdown: WorkerShutdown,
) -> None:
    study = optuna.create_study(sampler=SignallingSampler(seed=1))
    with pytest.raises(SystemExit) as stopped:
        ask_tagged(study, "host:123", shutdown, heartbeat=False)
    assert stopped.value.code == 128 + signal.SIGTERM
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs == {"worker": "host:123", "fail_reason": "interrupted"}
    assert shutdown.take_deferred() is None
    # The guard is released: a later exit request exits at once.
    with pytest.raises(SystemExit):
        shutdown.request_exit(3)


@pytest.mark.usefixtures("shutdown")
def test_sigterm_outside_the_ask_exits_at_once() -> None:
    with pytest.raises(SystemExit) as stopped:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this returns
    assert stopped.value.code == 128 + signal.SIGTERM


def test_a_trial_abandoned_right_after_it_is_asked_turns_stale(tmp_path: Path) -> None:
    """A host killed before its trial starts to run must not leave the trial running for good:
    Optuna only fails running trials that have a heartbeat, so asking records the first."""
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1, grace_period=2
    )
    study = optuna.create_study(storage=storage)
    trial = ask_tagged(study, "host:123", WorkerShutdown(), heartbeat=True)  # no beat after
    assert trial is not None
    time.sleep(3)
    fail_stale_trials(study)
    (frozen,) = study.trials
    assert frozen.number == trial.number
    assert frozen.state == TrialState.FAIL


def test_a_trial_whose_worker_died_inside_ask_is_failed_after_the_grace_period(
    tmp_path: Path,
) -> None:
    """Killed inside Optuna's ``ask``, a worker leaves a trial with neither heartbeat nor tag,
    which Optuna's own stale check never fails (the grace period is the storage's own)."""
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1, grace_period=2
    )
    study = optuna.create_study(storage=storage)
    with pytest.warns(UserWarning, match="Heartbeat of storage"):
        study.ask()  # the worker dies here: no heartbeat, no tag
    running = ask_tagged(study, "host:123", WorkerShutdown(), heartbeat=True)
    assert running is not None
    check = StaleTrials()

    def orphan_failed() -> bool:
        storage.record_heartbeat(running._trial_id)  # a live, tagged trial keeps beating
        check.fail(study)
        return study.trials[0].state == TrialState.FAIL

    wait_until(orphan_failed, timeout=30, what="the untagged trial failing")
    orphan, alive = study.trials
    assert orphan.user_attrs["fail_reason"] == "its worker died while asking for it"
    assert alive.state == TrialState.RUNNING


def test_staleness_is_measured_on_the_database_clock(tmp_path: Path) -> None:
    """Trials carry their host's clock: one created by a host an hour behind is not stale at
    once, and one created by a host an hour ahead still turns stale after the grace period."""
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1, grace_period=2
    )
    study = optuna.create_study(storage=storage)
    now = datetime.datetime.now()
    for skew in (-3600, 3600):  # untagged, never beating: their workers died inside ask
        template = create_trial(state=TrialState.RUNNING)
        template.datetime_start = now + datetime.timedelta(seconds=skew)
        storage.create_new_trial(study._study_id, template_trial=template)
    check = StaleTrials()
    check.fail(study)
    assert {t.state for t in study.trials} == {TrialState.RUNNING}, "not stale at first sight"
    first_seen = time.monotonic()
    wait_until(
        lambda: check.fail(study) or {t.state for t in study.trials} == {TrialState.FAIL},
        timeout=30,
        what="both trials failing",
    )
    assert time.monotonic() - first_seen >= 2, "failed only after the grace period"


# --- the trial boundary ---------------------------------------------------------------------

SPACE = {"x": ParamSpace(type="float", low=0.0, high=1.0)}


def _evaluation(value: float = 1.0) -> Evaluation:
    return Evaluation(
        values=(value,), window_values=((value,),), constraint_violations=(), n_trades=1
    )


@pytest.fixture(params=["journal", "sqlite"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "journal":
        return f"journal://{tmp_path / 'journal.log'}"
    return f"sqlite:///{tmp_path / 'study.db'}"


def _study(url: str) -> optuna.Study:
    storage = open_storage(url)
    optuna.create_study(storage=storage, study_name="s")
    return optuna.load_study(
        study_name="s", storage=storage, sampler=optuna.samplers.RandomSampler(0)
    )


@pytest.mark.parametrize("objective_raises", [False, True])
def test_a_trial_failed_by_another_process_mid_run_keeps_that_state_and_the_worker_goes_on(
    storage_url: str, objective_raises: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A stale-trial check or the parent can fail a trial while its worker still evaluates
    it: the worker's own writes then raise UpdateFinishedTrialError. The worker logs what it
    would have recorded (its failure's reason too) and takes the next trial."""
    study = _study(storage_url)
    other = optuna.load_study(study_name="s", storage=open_storage(storage_url))
    calls = []

    def evaluate(params: dict[str, Any]) -> Evaluation:
        calls.append(params)
        if len(calls) == 1:
            (running,) = other.get_trials(states=(TrialState.RUNNING,))
            assert fail_trial(other, running, "failed elsewhere") == 1
            if objective_raises:
                raise ValueError("injected after the trial was failed elsewhere")
        return _evaluation()

    ran = run_trials(
        study,
        StudyPlan("s", 3, (), "test"),
        evaluate,
        TrialLock(None),
        space=SPACE,
        tag="host:abcdef12:1",
        shutdown=WorkerShutdown(),
    )
    assert ran == 3
    first, *rest = study.trials
    assert first.state == TrialState.FAIL
    assert first.user_attrs["fail_reason"] == "failed elsewhere"
    assert [t.state for t in rest] == [TrialState.COMPLETE] * 2
    assert "trial 0 was already finished by another process" in caplog.text
    if objective_raises:
        assert "trial 0 failed: ValueError: injected after the trial was failed" in caplog.text


def test_a_trial_failed_elsewhere_before_it_was_tagged_is_skipped(storage_url: str) -> None:
    study = _study(storage_url)
    other = optuna.load_study(study_name="s", storage=open_storage(storage_url))

    class FailingElsewhere(optuna.samplers.RandomSampler):
        def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            if trial.number == 0:
                fail_trial(other, trial, "failed while being asked")

    study.sampler = FailingElsewhere(seed=1)
    ran = run_trials(
        study,
        StudyPlan("s", 2, (), "test"),
        lambda params: _evaluation(),
        TrialLock(None),
        space=SPACE,
        tag="host:abcdef12:1",
        shutdown=WorkerShutdown(),
    )
    assert ran == 2
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.COMPLETE]


def test_the_heartbeat_survives_a_busy_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One failed heartbeat (here: the database locked by another connection) is logged and
    the beating goes on; the trial completes instead of turning stale."""
    path = tmp_path / "study.db"
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{path}",
        engine_kwargs={"connect_args": {"timeout": 0.2}},
        heartbeat_interval=1,
        grace_period=30,
    )
    optuna.create_study(storage=storage, study_name="s")
    study = optuna.load_study(study_name="s", storage=storage)
    caplog.set_level(logging.WARNING)

    def heartbeat(connection: sqlite3.Connection) -> Any:
        return connection.execute("SELECT heartbeat FROM trial_heartbeats").fetchone()

    def evaluate(params: dict[str, Any]) -> Evaluation:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")  # readers and writers wait, then give up
            wait_until(
                lambda: "heartbeat of trial 0 failed" in caplog.text,
                timeout=30,
                what="a heartbeat failing on the locked database",
            )
            other.execute("ROLLBACK")
            failed_at = heartbeat(other)
            wait_until(
                lambda: heartbeat(other) != failed_at,
                timeout=30,
                what="a heartbeat recorded after the failure",
            )
        finally:
            other.close()
        return _evaluation()

    ran = run_trials(
        study,
        StudyPlan("s", 1, (), "test"),
        evaluate,
        TrialLock(None),
        space=SPACE,
        tag="host:abcdef12:1",
        shutdown=WorkerShutdown(),
    )
    assert ran == 1
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
