"""Trials left running by workers or hosts that died: found, failed with a reason, waited for."""

from __future__ import annotations

import datetime
import logging
import socket
import time
import warnings
from collections.abc import Sequence

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from ._ownership import pid_alive
from .attributes import FAIL_REASON, WORKER
from .storage import storage_heartbeat

__all__ = [
    "await_other_hosts",
    "fail_stale_trials",
    "fail_trial",
    "mark_trials_failed",
    "recover_orphaned_trials",
]

logger = logging.getLogger(__name__)


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the running trials of workers that died, on a database with heartbeats.

    Optuna fails those whose heartbeat is older than the grace period, but skips trials with
    no heartbeat at all: those of a worker killed inside ``ask``, before the trial loop
    recorded the first heartbeat and the worker tag. Such a trial is also failed here once it
    is older than the grace period (measured on the hosts' clocks).
    """
    heartbeat = storage_heartbeat(study._storage)
    if heartbeat is None:
        return
    with warnings.catch_warnings():
        # Optuna's heartbeat is experimental; we rely on it knowingly.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=heartbeat.grace_s)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if WORKER not in trial.user_attrs and started is not None and started < cutoff:
            fail_trial(study, trial, "its worker died while asking for it")


def recover_orphaned_trials(study: optuna.Study) -> int:
    """Fail running trials whose worker on this host no longer exists.

    Journal storage has no heartbeat, so a killed run leaves trials running forever;
    RDB storage with a heartbeat fails stale trials itself.
    """
    fail_stale_trials(study)
    host = socket.gethostname()
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get(WORKER, ""))
        worker_host, _, pid = worker.rpartition(":")
        if worker_host == host and pid.isdigit() and not pid_alive(int(pid)):
            count += fail_trial(study, trial, f"worker {worker} is gone")
    if count:
        logger.warning(
            "study %r: marked %d orphaned running trial(s) failed", study.study_name, count
        )
    return count


def mark_trials_failed(
    storage: BaseStorage, study_names: Sequence[str], tag: str, reason: str
) -> int:
    """Fail the running trials of one worker (a dead one: it cannot do it itself)."""
    count = 0
    for name in study_names:
        study = optuna.load_study(study_name=name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get(WORKER) == tag:
                count += fail_trial(study, trial, reason)
    return count


def await_other_hosts(storage: BaseStorage, study_names: Sequence[str]) -> None:
    """Wait until trials other hosts still run have finished or gone stale (then fail them).

    Without this, a host that died holding a trial would leave it running for good once the
    survivors had spent the budget. Nothing to wait for without heartbeats.
    """
    heartbeat = storage_heartbeat(storage)
    if heartbeat is None:
        return
    deadline = time.monotonic() + heartbeat.grace_s + 2 * heartbeat.interval_s
    while time.monotonic() < deadline:
        running = 0
        for name in study_names:
            study = optuna.load_study(study_name=name, storage=storage)
            fail_stale_trials(study)
            running += len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if running == 0:
            return
        logger.info("waiting for %d trial(s) still running on other hosts", running)
        time.sleep(heartbeat.interval_s)


def fail_trial(study: optuna.Study, trial: FrozenTrial, reason: str) -> int:
    """Fail one running trial with its reason; 0 if it finished meanwhile, else 1."""
    try:
        study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON, reason)
        study.tell(trial.number, state=TrialState.FAIL)
    except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
        return 0  # it finished meanwhile
    return 1
