"""The Redis journal is Optuna's own format: what optuna-dashboard and Optuna's
``JournalRedisBackend`` read, on a real Redis server."""

from __future__ import annotations

import uuid
import warnings

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalRedisBackend
from optuna.trial import TrialState

from portfolio_backtester.optimization.storage import open_storage
from services import REDIS_URL, redis_keys_removed, redis_url


def test_a_study_written_here_is_read_by_optunas_own_redis_journal() -> None:
    prefix = f"dash-{uuid.uuid4().hex[:8]}"
    url = redis_url(prefix=prefix)
    ours = open_storage(url)
    try:
        study = optuna.create_study(storage=ours, study_name="readable", direction="maximize")
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            theirs = JournalStorage(JournalRedisBackend(REDIS_URL, prefix=prefix))
        read = optuna.load_study(study_name="readable", storage=theirs)
        assert [t.params for t in read.trials] == [t.params for t in study.trials]
        assert {t.state for t in read.trials} == {TrialState.COMPLETE}
        assert read.best_value == study.best_value
    finally:
        ours.close()  # stops this process's lease
        redis_keys_removed(url)
