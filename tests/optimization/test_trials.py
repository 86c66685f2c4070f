"""The trial loop's bookkeeping: outcomes read back from older studies, and SIGTERM while a
trial is being asked."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from portfolio_backtester.optimization.attributes import trial_evaluation
from portfolio_backtester.optimization.recovery import fail_stale_trials
from portfolio_backtester.optimization.samplers import _constraints
from portfolio_backtester.optimization.trial_loop import WorkerShutdown, ask_tagged


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
    for _ in range(3):  # a live, tagged trial keeps beating
        storage.record_heartbeat(running._trial_id)
        fail_stale_trials(study)
        time.sleep(1)
    orphan, alive = study.trials
    assert orphan.state == TrialState.FAIL
    assert orphan.user_attrs["fail_reason"] == "its worker died while asking for it"
    assert alive.state == TrialState.RUNNING
