"""Trials left running by workers or hosts that died: found, failed with a reason, waited for."""

from __future__ import annotations

import datetime
import logging
import time
import warnings
from collections.abc import Sequence

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from ._identity import worker_gone
from .attributes import FAIL_REASON, WORKER
from .leases import LEASE_ATTR, LeasedStorage
from .storage import STORAGE_ERRORS, database_now, storage_heartbeat

__all__ = [
    "StaleTrials",
    "await_other_hosts",
    "fail_stale_trials",
    "fail_trial",
    "fail_untagged_trials",
    "mark_trials_failed",
    "recover_orphaned_trials",
]

logger = logging.getLogger(__name__)


class StaleTrials:
    """Fails the running trials of workers that died, on a storage with heartbeats or leases.

    On PostgreSQL, Optuna fails those whose heartbeat is older than the grace period, but
    skips trials with no heartbeat at all: those of a worker killed inside ``ask``, before the
    trial loop recorded the first heartbeat and the worker tag. Such a trial is failed here
    once it has been seen untagged for longer than the grace period, measured on the
    database's clock (the trial's own start time was written by its host's clock, which may
    differ). The check therefore remembers what it saw: keep one per loop, and call it
    repeatedly. On Redis and the gRPC proxy a trial names its creator's lease from the start,
    and is failed once that lease has lapsed (judged by the server's clock).
    """

    def __init__(self) -> None:
        self._untagged_since: dict[int, datetime.datetime] = {}
        self._unnamed_since: dict[int, float] = {}

    def fail(self, study: optuna.Study) -> None:
        if isinstance(study._storage, LeasedStorage):
            self._fail_lapsed(study, study._storage)
            return
        heartbeat = storage_heartbeat(study._storage)
        if heartbeat is None:
            return
        with warnings.catch_warnings():
            # Optuna's heartbeat is experimental; we rely on it knowingly.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        now = database_now(study._storage)
        assert now is not None  # heartbeats live in databases only
        seen: dict[int, datetime.datetime] = {}
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if WORKER in trial.user_attrs:
                continue
            since = self._untagged_since.get(trial._trial_id, now)
            if (now - since).total_seconds() > heartbeat.grace_s:
                fail_trial(study, trial, "its worker died while asking for it")
            else:
                seen[trial._trial_id] = since
        self._untagged_since = seen

    def _fail_lapsed(self, study: optuna.Study, storage: LeasedStorage) -> None:
        grace = storage.heartbeat.grace_s
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        named = {t._trial_id: t.system_attrs.get(LEASE_ATTR) for t in running}
        live = storage.live_leases({str(lease) for lease in named.values() if lease})
        now = time.monotonic()
        seen: dict[int, float] = {}
        for trial in running:
            lease = named[trial._trial_id]
            if lease:
                if lease not in live:
                    reason = (
                        f"its worker's lease lapsed ({grace} s without renewal: the worker or "
                        "its host died, or lost the storage server)"
                    )
                    fail_trial(study, trial, reason)
            elif WORKER not in trial.user_attrs:
                # Created without a lease by another client; failed like an untagged trial.
                since = self._unnamed_since.get(trial._trial_id, now)
                if now - since > grace:
                    fail_trial(study, trial, "it names no lease and no worker")
                else:
                    seen[trial._trial_id] = since
        self._unnamed_since = seen


def fail_stale_trials(study: optuna.Study, check: StaleTrials | None = None) -> None:
    """Fail stale trials now; without ``check``, only those Optuna's heartbeat finds."""
    (check or StaleTrials()).fail(study)


def recover_orphaned_trials(study: optuna.Study) -> int:
    """Fail running trials whose worker on this host's process table no longer exists.

    A journal file has no heartbeat, so a killed run leaves trials running forever; on the
    shared storages the stale check (heartbeats, leases) fails them too.
    """
    fail_stale_trials(study)
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get(WORKER, ""))
        if worker and worker_gone(worker, trial.datetime_start):
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


def fail_untagged_trials(storage: BaseStorage, study_names: Sequence[str], reason: str) -> int:
    """Fail the running trials that carry no worker tag.

    Call it holding the run's budget lock after a worker died holding it: every live worker
    of the run tags its trial before it lets go of the lock, so an untagged running trial is
    the dead worker's, created inside ``ask`` before it could be tagged.
    """
    count = 0
    for name in study_names:
        study = optuna.load_study(study_name=name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if WORKER not in trial.user_attrs:
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
    stale = StaleTrials()
    deadline = time.monotonic() + heartbeat.grace_s + 2 * heartbeat.interval_s
    while time.monotonic() < deadline:
        running = 0
        for name in study_names:
            study = optuna.load_study(study_name=name, storage=storage)
            stale.fail(study)
            running += len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if running == 0:
            return
        logger.info("waiting for %d trial(s) still running on other hosts", running)
        time.sleep(heartbeat.interval_s)


def fail_trial(study: optuna.Study, trial: FrozenTrial, reason: str) -> int:
    """Fail one running trial with its reason; 0 if it finished meanwhile, else 1."""
    try:
        study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON, reason)
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return 0  # it finished meanwhile
    except STORAGE_ERRORS as exc:
        logger.warning("could not fail trial %d (%s): %s", trial.number, reason, exc)
        return 0
    return 1
