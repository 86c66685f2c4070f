"""The runner's guarantees, one suite run over every storage: journal file, SQLite, PostgreSQL,
a Redis journal and the gRPC storage proxy in front of PostgreSQL.

Like Optuna's ``optuna/testing/pytest_storages.py``: each test takes the ``storage`` fixture,
so a storage passes only if it keeps every contract. Runs go through the real command line
in their own process group; faults come from ``tests/fault_strategy.py``, made deterministic
by its ``PBT_TEST_BARRIER`` and ``PBT_TEST_HANG_FILE`` switches instead of sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from portfolio_backtester.optimization.storage import open_storage
from processes import (
    alive,
    fault_scenario,
    group_pids,
    start_cli,
    start_worker,
    study_trials,
    wait_until,
)
from services import POSTGRES_URL, redis_keys_removed, redis_url, require_postgres
from services import storage_server as running_storage_server

pytestmark = pytest.mark.slow
TIMEOUT_S = 180


@dataclass(frozen=True, slots=True)
class Storage:
    """One storage under test: its URL, a study name of this test's own, and its folder."""

    kind: str
    url: str
    study: str
    folder: Path
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def optimize(
        self, document: dict[str, Any], *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """``optimize`` on this storage; the journal file is the default (no ``--storage``)."""
        storage = None if self.kind == "journal" else self.url
        process = start_cli(
            self.folder, document, *extra, study=self.study, storage=storage, env=env
        )
        self.started.append(process)
        return process

    def worker(self, *extra: str) -> subprocess.Popen[str]:
        """``worker`` joining this test's study."""
        process = start_worker(self.folder, self.url, *extra, study=self.study)
        self.started.append(process)
        return process

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        return study_trials(self.folder, self.study, storage=self.url)


@pytest.fixture(scope="module")
def storage_server() -> Iterator[str]:
    """One gRPC storage server over the PostgreSQL database for the module's proxy tests."""
    with running_storage_server(POSTGRES_URL) as url:
        yield url


@pytest.fixture(
    params=[
        "journal",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        "redis",
        pytest.param("grpc", marks=pytest.mark.postgres),
    ]
)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    study = f"contract-{uuid.uuid4().hex[:10]}"
    if request.param == "journal":
        url = f"journal://{(tmp_path / 'optuna-journal.log').resolve()}"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'studies.db'}"
    elif request.param == "redis":
        url = redis_url(prefix=study)  # a journal of this test's own in the shared server
    elif request.param == "grpc":
        url = request.getfixturevalue("storage_server")
    else:
        url = POSTGRES_URL
        require_postgres(url)
    storage = Storage(request.param, url, study, tmp_path)
    yield storage
    for process in storage.started:
        if process.poll() is None:  # a failed assertion left it running: kill its group
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    if request.param in ("postgresql", "grpc"):
        # One shared database for every test run: leave no study of ours behind.
        opened = open_storage(POSTGRES_URL)
        try:
            if any(s.study_name == study for s in opened.get_all_studies()):
                optuna.delete_study(study_name=study, storage=opened)
        finally:
            opened.engine.dispose()  # type: ignore[attr-defined]
    if request.param == "redis":
        redis_keys_removed(url)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for a run; return its exit code, stdout and stderr."""
    out, err = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, out, err


def assert_nothing_left(process: subprocess.Popen[str], storage: Storage) -> None:
    """No live process of the run's process group and no data directory remain."""
    wait_until(
        lambda: not [pid for pid in group_pids(process.pid) if alive(int(pid))],
        timeout=10,
        what="every process of the run exiting",
    )
    assert list((storage.folder / "data").iterdir()) == []


def states(trials: list[optuna.trial.FrozenTrial]) -> Counter[TrialState]:
    return Counter(t.state for t in trials)


def test_two_workers_spend_exactly_the_budget(storage: Storage) -> None:
    # Every call waits until both workers have run one: both certainly take trials.
    process = storage.optimize(
        fault_scenario(trials=6), "--n-jobs", "2", "-q", env={"PBT_TEST_BARRIER": "2"}
    )
    code, out, err = finish(process)
    assert code == 0, err
    assert "6 trials (complete 6) with 2 worker(s)" in out
    trials = storage.trials()
    assert states(trials) == {TrialState.COMPLETE: 6}
    assert sorted(t.number for t in trials) == list(range(6))
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, f"both workers took trials: {workers}"
    assert process.pid not in {int(w.rpartition(":")[2]) for w in workers}
    assert_nothing_left(process, storage)


def test_resuming_adds_exactly_the_new_trials(storage: Storage) -> None:
    document = fault_scenario(trials=12)
    code, _, err = finish(storage.optimize(document, "--trials", "4", "-q"))
    assert code == 0, err
    assert len(storage.trials()) == 4
    again = storage.optimize(document, "--trials", "3", "-q")
    code, out, err = finish(again)
    assert code == 0, err
    assert "7 trials (complete 7)" in out
    trials = storage.trials()
    assert states(trials) == {TrialState.COMPLETE: 7}
    assert sorted(t.number for t in trials) == list(range(7))
    assert_nothing_left(again, storage)


def test_a_killed_workers_trial_is_failed_and_the_budget_still_spent(storage: Storage) -> None:
    hang = storage.folder / "hang"
    # The first worker to run a trial writes its pid to `hang` and sleeps inside that trial.
    process = storage.optimize(
        fault_scenario(trials=6), "--n-jobs", "2", env={"PBT_TEST_HANG_FILE": str(hang)}
    )
    wait_until(hang.exists, timeout=60, what="a worker starting a trial")
    victim = int(hang.read_text())
    assert victim != process.pid
    os.kill(victim, signal.SIGKILL)
    code, out, err = finish(process)
    assert code == 0, err
    trials = storage.trials()
    assert states(trials) == {TrialState.COMPLETE: 5, TrialState.FAIL: 1}
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert failed.user_attrs["worker"].endswith(f":{victim}")
    reason = failed.user_attrs["fail_reason"]
    name = re.fullmatch(r"worker (\S+) died \(exit code -9\)", reason)
    assert name, reason
    assert f"worker {name[1]} (pid {victim}) exited with code -9" in out + err
    survivors = {t.user_attrs["worker"] for t in trials if t.state == TrialState.COMPLETE}
    assert len(survivors) == 1 and failed.user_attrs["worker"] not in survivors
    assert_nothing_left(process, storage)


def test_resuming_with_a_changed_scenario_is_refused(storage: Storage) -> None:
    code, _, err = finish(storage.optimize(fault_scenario(trials=2), "-q"))
    assert code == 0, err
    changed = fault_scenario(trials=2, params={"x": {"type": "float", "low": 0.0, "high": 0.5}})
    code, out, err = finish(storage.optimize(changed, "-q"))
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "different scenario" in errors[0] and "--fresh" in errors[0]
    assert "Traceback" not in err
    assert out == ""
    assert len(storage.trials()) == 2
    assert list((storage.folder / "data").iterdir()) == []


def test_a_finished_study_is_joined_and_left_at_once(storage: Storage) -> None:
    code, _, err = finish(storage.optimize(fault_scenario(trials=2), "-q"))
    assert code == 0, err
    assert states(storage.trials()) == {TrialState.COMPLETE: 2}
    callers = set((storage.folder / "pids").iterdir())  # every process that ran a trial

    joined = storage.worker("--n-jobs", "2")
    code, out, err = finish(joined)
    assert code == 0, err
    assert f"study {storage.study!r} has spent its budget" in out
    assert "Traceback" not in err
    assert set((storage.folder / "pids").iterdir()) == callers, "no trial was evaluated"
    assert states(storage.trials()) == {TrialState.COMPLETE: 2}
    assert_nothing_left(joined, storage)
