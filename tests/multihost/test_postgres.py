"""One study, several hosts, on real servers: PostgreSQL, a Redis journal, and the gRPC
storage proxy in front of PostgreSQL.

Each "host" is a separate ``portfolio-backtester`` process tree with its own data directory.
PostgreSQL comes from ``PBT_POSTGRES_URL`` (``.ci/run`` creates a fresh database), Redis from
``PBT_REDIS_URL`` (each test has a journal of its own under a key prefix), the proxy is a
``storage_server.serve`` process started here; without a running server these tests fail,
they never skip.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from portfolio_backtester.optimization.recovery import StaleTrials
from portfolio_backtester.optimization.storage import database_now, open_storage
from processes import group_pids, wait_until
from services import POSTGRES_URL, redis_keys_removed, redis_url, storage_server

TESTS = Path(__file__).resolve().parents[1]
URL = POSTGRES_URL

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GRID = {"x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.05}}  # 21 points


def scenario(
    tmp_path: Path, *, sleep_s: float = 0.05, universe: list[str] | None = None, step: float = 0.05
) -> Path:
    document: dict[str, Any] = {
        "name": "multi",
        "data": {
            "universe": universe or ["AAPL", "KO", "XOM"],
            "start": "2012-01-03",
            "end": "2016-12-30",
        },
        "strategy": {"name": "fault_strategy:FaultStrategy", "params": {"sleep_s": sleep_s}},
        "optimize": {
            "params": {"x": {**GRID["x"], "step": step}},
            "sampler": "grid",
            "objectives": [{"metric": "CAGR"}],  # rises with x: one clear best
            "seed": 3,
            "trials": round(1 / step) + 1,
            "windows": {"train_days": 252, "test_days": 252},
        },
    }
    path = tmp_path / f"scenario-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def cli(
    tmp_path: Path, host: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    (tmp_path / host).mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "PBT_HEARTBEAT_INTERVAL": "1",
        "PBT_GRACE_PERIOD": "4",
        "PBT_TEST_PID_DIR": str(tmp_path / host),
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "portfolio_backtester", *args, "--data-dir", str(tmp_path / host)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=tmp_path,
    )
    _STARTED.append(process)
    return process


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_host_outlives_its_test() -> Any:
    """A test that fails half way leaves no host running: each is a process group."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        # The whole group, even when its leader has exited: its workers may not have.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=30)


_OPENED: list[Any] = []


def _storage(url: str) -> Any:
    """A storage for the test process, closed at the end of the module (see fixture)."""
    opened = open_storage(url)
    _OPENED.append(opened)
    return opened


@pytest.fixture(autouse=True, scope="module")
def _close_storages() -> Any:
    yield
    while _OPENED:
        opened = _OPENED.pop()
        if hasattr(opened, "engine"):
            opened.engine.dispose()
        else:
            opened.close()


@pytest.fixture(scope="module")
def proxy() -> Any:
    with storage_server(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["postgresql", "redis", "grpc"])
def shared(request: pytest.FixtureRequest, study_name: str) -> Any:
    """The URL of a shared storage; the test's study is removed afterwards."""
    if request.param == "redis":
        url = redis_url(prefix=study_name)
        yield url
        redis_keys_removed(url)
        return
    url = request.getfixturevalue("proxy") if request.param == "grpc" else URL
    yield url
    opened = _storage(URL)
    if any(s.study_name == study_name for s in opened.get_all_studies()):
        optuna.delete_study(study_name=study_name, storage=opened)


def start_two_hosts(
    tmp_path: Path, path: Path, study_name: str, url: str
) -> tuple[subprocess.Popen[str], subprocess.Popen[str]]:
    """Host A creates the study with one local worker; host B joins it with two.

    Every strategy call of either host waits until three processes have called (a shared
    barrier): host A has at most two (its parent and its worker), so host B certainly runs
    trials, however long its workers take to start.
    """
    (tmp_path / "barrier").mkdir()
    barrier = {"PBT_TEST_BARRIER_DIR": str(tmp_path / "barrier"), "PBT_TEST_BARRIER": "3"}
    host_a = cli(
        tmp_path,
        "a",
        "optimize",
        "--scenario",
        str(path),
        "--storage",
        url,
        "--study-name",
        study_name,
        "--output",
        str(tmp_path / "out"),
        "-q",
        "--no-report",
        env=barrier,
    )
    wait_for_study(study_name, url)
    host_b = cli(
        tmp_path,
        "b",
        "worker",
        "--storage",
        url,
        "--study-name",
        study_name,
        "--n-jobs",
        "2",
        env=barrier,
    )
    return host_a, host_b


def wait_for_study(name: str, url: str, timeout: float = 60) -> None:
    storage = _storage(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.study_name == name for s in storage.get_all_studies()):
            study = optuna.load_study(study_name=name, storage=storage)
            if study.user_attrs.get("plan"):
                return
        time.sleep(0.2)
    raise AssertionError(f"study {name} was not created")


def trials(name: str, url: str) -> list[optuna.trial.FrozenTrial]:
    opened = open_storage(url)  # a fresh view: the Redis journal is read from the start
    try:
        return optuna.load_study(study_name=name, storage=opened).trials
    finally:
        if hasattr(opened, "engine"):
            opened.engine.dispose()
        else:
            opened.close()


@pytest.fixture
def study_name() -> str:
    return f"multi-{uuid.uuid4().hex[:10]}"


def test_server_is_reachable() -> None:
    import psycopg

    with psycopg.connect(URL) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_two_hosts_share_one_study_and_its_exact_budget(
    tmp_path: Path, study_name: str, shared: str
) -> None:
    # 41 points; the barrier holds host A's trials until host B's workers have started.
    path = scenario(tmp_path, sleep_s=0.1, step=0.025)
    host_a, host_b = start_two_hosts(tmp_path, path, study_name, shared)
    out_b, err_b = host_b.communicate(timeout=240)
    _out_a, err_a = host_a.communicate(timeout=240)
    assert host_a.returncode == 0, err_a
    assert host_b.returncode == 0, err_b
    done = trials(study_name, shared)
    assert len(done) == 41
    assert {t.state for t in done} == {TrialState.COMPLETE}
    assert len({round(t.params["x"], 6) for t in done}) == 41, "the grid is covered once"
    pids_a = {p.name for p in (tmp_path / "a").iterdir() if p.name.isdigit()}
    pids_b = {p.name for p in (tmp_path / "b").iterdir() if p.name.isdigit()}
    workers = {t.user_attrs["worker"].rpartition(":")[2] for t in done}
    assert workers & pids_a and workers & pids_b, f"both hosts ran trials: {out_b} {err_b[-800:]}"
    # The same grid on one host finds the same best parameters (without the sleep, which
    # changes nothing but the time).
    single = tmp_path / "single"
    path = scenario(tmp_path, sleep_s=0.0, step=0.025)
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "portfolio_backtester",
            "optimize",
            "--scenario",
            str(path),
            "--output",
            str(single),
            "-q",
            "--no-report",
        ],
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert one.returncode == 0, one.stderr
    multi_best = yaml.safe_load((tmp_path / "out" / "best_params.yaml").read_text())
    single_best = yaml.safe_load((single / "best_params.yaml").read_text())
    assert multi_best["params"]["x"] == single_best["params"]["x"]
    assert multi_best["objectives"] == pytest.approx(single_best["objectives"], abs=1e-12)


def test_a_killed_host_loses_only_its_running_trials(
    tmp_path: Path, study_name: str, shared: str
) -> None:
    # 41 points of 0.25 s (host B's trials last long enough to be seen running), the
    # barrier holding host A's until host B's workers have started.
    path = scenario(tmp_path, sleep_s=0.25, step=0.025)
    host_a, host_b = start_two_hosts(tmp_path, path, study_name, shared)
    deadline = time.monotonic() + 60
    b_pids: set[str] = set()
    while time.monotonic() < deadline:
        # Host B's processes: its parent and its workers, all in B's process group.
        b_pids |= group_pids(host_b.pid)
        running_b = [
            t
            for t in trials(study_name, shared)
            if t.state == TrialState.RUNNING
            and t.user_attrs.get("worker", "").rpartition(":")[2] in b_pids
        ]
        # Killed only once past the barrier: a host B killed before all three processes
        # had called would leave host A waiting at it.
        if running_b and len(list((tmp_path / "barrier").iterdir())) >= 3:
            break
        time.sleep(0.1)
    assert running_b, "host B never ran a trial"
    b_pids |= group_pids(host_b.pid)
    os.killpg(host_b.pid, signal.SIGKILL)
    host_b.communicate(timeout=30)
    _out_a, err_a = host_a.communicate(timeout=240)
    assert host_a.returncode == 0, err_a
    done = trials(study_name, shared)
    assert len(done) == 41
    assert not [t for t in done if t.state == TrialState.RUNNING]
    failed = [t for t in done if t.state == TrialState.FAIL]
    assert failed, "the killed host's running trials end up failed"
    # A trial with no worker recorded was created by a process killed before it could
    # record itself: host A's processes all lived, so it was one of B's.
    unowned = [
        (t.number, t.user_attrs)
        for t in failed
        if "worker" in t.user_attrs and t.user_attrs["worker"].rpartition(":")[2] not in b_pids
    ]
    assert not unowned, unowned


def test_a_host_with_different_data_is_refused(
    tmp_path: Path, study_name: str, shared: str
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text(
        "date,A,B\n" + "".join(f"2020-01-{d:02d},{d},{2 * d}\n" for d in range(1, 31)),
        encoding="utf-8",
    )
    document = {
        "name": "csvdata",
        "data": {"source": "csv", "path": str(prices), "benchmark": None},
        "strategy": {"name": "equal_weight", "params": {"rebalance": "weekly"}},
        "optimize": {
            "params": {"rebalance": {"type": "categorical", "choices": ["daily", "weekly"]}},
            "trials": 2,
            "windows": {"train_days": 20, "test_days": 5},
        },
    }
    path = tmp_path / "csv.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    first = cli(
        tmp_path,
        "a",
        "optimize",
        "--scenario",
        str(path),
        "--storage",
        shared,
        "--study-name",
        study_name,
        "--output",
        str(tmp_path / "out"),
        "-q",
        "--no-report",
    )
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    prices.write_text(prices.read_text().replace("2020-01-15,15,", "2020-01-15,16,"))
    other = cli(tmp_path, "b", "worker", "--storage", shared, "--study-name", study_name)
    _, err = other.communicate(timeout=120)
    assert other.returncode == 2
    assert "differ from the data the study was started with" in err
    assert "Traceback" not in err


# Joining a finished study: tests/optimization/test_storage_contract.py::
# test_a_finished_study_is_joined_and_left_at_once, on PostgreSQL among the other storages.


def test_stale_trials_are_judged_on_the_servers_clock() -> None:
    """A trial's start time is its host's clock; staleness is measured on the server's
    (``SELECT now()``): an untagged, never-beating trial from a host an hour ahead is failed
    after the grace period all the same."""
    storage = optuna.storages.RDBStorage(
        URL.replace("postgresql://", "postgresql+psycopg://", 1),
        heartbeat_interval=1,
        grace_period=2,
    )
    name = f"clock-{uuid.uuid4().hex[:10]}"
    try:
        study = optuna.create_study(storage=storage, study_name=name)
        import psycopg

        with psycopg.connect(URL) as connection:
            row = connection.execute("SELECT now()").fetchone()
        assert row is not None
        assert abs((database_now(storage) - row[0].replace(tzinfo=None)).total_seconds()) < 5
        template = optuna.trial.create_trial(state=TrialState.RUNNING)
        template.datetime_start = datetime.datetime.now() + datetime.timedelta(hours=1)
        storage.create_new_trial(study._study_id, template_trial=template)
        check = StaleTrials()
        check.fail(study)
        assert study.trials[0].state == TrialState.RUNNING
        wait_until(
            lambda: check.fail(study) or study.trials[0].state == TrialState.FAIL,
            timeout=30,
            what="the trial failing as stale",
        )
    finally:
        optuna.delete_study(study_name=name, storage=storage)
        storage.engine.dispose()


def test_joining_an_unknown_study_is_a_clear_error(tmp_path: Path, shared: str) -> None:
    late = cli(tmp_path, "b", "worker", "--storage", shared, "--study-name", "no-such-study")
    _, err = late.communicate(timeout=60)
    assert late.returncode == 2
    assert "no study named 'no-such-study'" in err
