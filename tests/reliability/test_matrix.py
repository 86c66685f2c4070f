"""The reliability matrix (docs/reliability.md): one test per row, real processes and signals.

Rows 1 and 15 onwards live beside it: row 1 in the storage contract suite
(tests/optimization/test_storage_contract.py), the runner's own faults in
tests/reliability/test_runner_faults.py. Each run of the command line gets its own process
group (``start_new_session``); faults come from the test-only strategy in
``tests/fault_strategy.py``: sleeping, raising, crashing the interpreter, writing into shared
data.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from optuna.trial import TrialState

from portfolio_backtester.cli import main
from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import DataError
from portfolio_backtester.optimization.data_context import (
    open_data_context,
    remove_data_context,
    write_data_context,
)
from processes import alive, fault_scenario, start_cli, study_trials, worker_pids

pytestmark = pytest.mark.slow


def _states(trials: list[Any]) -> dict[TrialState, int]:
    counts: dict[TrialState, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    return counts


# Row 1 (a worker killed mid-trial) is the storage contract's
# tests/optimization/test_storage_contract.py::
# test_a_killed_workers_trial_is_failed_and_the_budget_still_spent, run on every storage;
# a worker killed inside study.ask(), holding the budget lock, is row 15
# (tests/reliability/test_runner_faults.py).


def test_row_02_when_every_worker_dies_the_run_stops_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    process = start_cli(
        tmp_path, fault_scenario(mode="crash_high_x", trials=60, seed=5), "--n-jobs", "2"
    )
    _, err = process.communicate(timeout=120)
    elapsed = time.monotonic() - started
    assert process.returncode == 2, err
    assert "all 2 workers died" in err and "Traceback" not in err
    assert elapsed < 60
    trials = study_trials(tmp_path)
    assert _states(trials).get(TrialState.RUNNING, 0) == 0
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert complete, "trials finished before the crashes stay in the study"
    assert all(t.params["x"] <= 0.5 for t in complete)
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_row_03_interrupting_the_parent_stops_everything_and_the_study_resumes(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    document = fault_scenario(sleep_s=0.3, trials=40)
    process = start_cli(tmp_path, document, "--n-jobs", "2")
    workers = worker_pids(tmp_path, process.pid, 2)
    time.sleep(1.0)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert not [pid for pid in workers if alive(pid)]
    assert list((tmp_path / "data").iterdir()) == []
    trials = study_trials(tmp_path)
    assert _states(trials).get(TrialState.RUNNING, 0) == 0
    finished = len(trials)
    assert 0 < finished < 40
    again = start_cli(tmp_path, document, "--n-jobs", "2", "--trials", "5")
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert len(study_trials(tmp_path)) == finished + 5


def test_row_04_after_the_parent_is_killed_the_next_run_cleans_up(tmp_path: Path) -> None:
    document = fault_scenario(sleep_s=2.0, trials=20)
    process = start_cli(tmp_path, document, "--n-jobs", "2")
    workers = worker_pids(tmp_path, process.pid, 2)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)], "workers exit when the parent dies"
    assert [p.name for p in (tmp_path / "data").iterdir()], "the killed run left its files"
    orphaned = [t for t in study_trials(tmp_path) if t.state == TrialState.RUNNING]
    assert orphaned
    again = start_cli(tmp_path, fault_scenario(sleep_s=2.0, trials=20), "--trials", "1")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "orphaned" in err
    assert list((tmp_path / "data").iterdir()) == []
    trials = {t.number: t for t in study_trials(tmp_path)}
    for trial in orphaned:
        assert trials[trial.number].state == TrialState.FAIL
        assert "is gone" in trials[trial.number].user_attrs["fail_reason"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("raise", "ValueError: injected failure"),
        ("nan", "DataError: target_weights must be finite"),
    ],
)
def test_row_05_failing_trials_are_recorded_and_all_failing_names_the_reason(
    tmp_path: Path, mode: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(fault_scenario(mode=mode, trials=4)), encoding="utf-8")
    code = main(
        ["optimize", "--scenario", str(scenario), "--output", str(tmp_path), "-q", "--no-report"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(r"most common failure \(4 of 4 trials\): " + f"({reason})", err), err
    trials = study_trials(tmp_path, "fault")
    assert _states(trials) == {TrialState.FAIL: 4}
    assert all(re.search(reason, t.user_attrs["fail_reason"]) for t in trials)


def _optimization_data() -> Any:
    scenario = load_scenario(fault_scenario())
    return build_optimization_data(load_market_data(scenario.data))


def test_row_06_a_disk_too_small_is_refused_before_writing(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        with pytest.raises(DataError, match=r"not enough free space.* needs .* MB are free"):
            write_data_context(_optimization_data(), mount)
        assert list(mount.iterdir()) == [], "nothing is written"
        scenario = tmp_path / "small-disk.yaml"
        scenario.write_text(yaml.safe_dump(fault_scenario(trials=2)), encoding="utf-8")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "portfolio_backtester",
                "optimize",
                "--scenario",
                str(scenario),
                "--output",
                str(tmp_path / "out"),
                "--n-jobs",
                "2",
                "--data-dir",
                str(mount),
            ],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2
        assert "not enough free space" in done.stderr and "Traceback" not in done.stderr
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _open_in_spawned_worker(context: Any) -> str:
    try:
        open_data_context(context)
    except DataError as exc:
        return str(exc)
    return "opened"


def test_row_07_a_modified_or_truncated_data_file_is_refused(tmp_path: Path) -> None:
    context = write_data_context(_optimization_data(), tmp_path)
    try:
        path = Path(context.array_paths["daily"])
        stat = path.stat()
        data = bytearray(path.read_bytes())
        data[-8:] = np.float64(123.0).tobytes()
        path.write_bytes(bytes(data))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time
        with pytest.raises(DataError, match="does not match its fingerprint"):
            open_data_context(context, verify="checksum")
        path.write_bytes(bytes(data[:-64]))  # truncated
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(1) as pool:
            message = pool.apply(_open_in_spawned_worker, (context,))
        assert "truncated or rewritten" in message
    finally:
        remove_data_context(context)


def test_row_08_a_crafted_metadata_file_cannot_run_code(tmp_path: Path) -> None:
    context = write_data_context(_optimization_data(), tmp_path)
    marker = tmp_path / "pwned"
    try:
        payload = pickle.dumps(_Exploit(str(marker)))
        Path(context.metadata_path).write_bytes(payload)
        with pytest.raises(DataError):
            open_data_context(context)
        assert not marker.exists()
        Path(context.metadata_path).write_text('{"frames": 7}', encoding="utf-8")
        with pytest.raises(DataError):
            open_data_context(context)
    finally:
        remove_data_context(context)


class _Exploit:
    """Unpickling this would create a file: loading metadata must never unpickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Path.touch, (self.path,))  # type: ignore[return-value]


def test_row_09_writing_into_shared_data_fails_loudly(tmp_path: Path) -> None:
    context = write_data_context(_optimization_data(), tmp_path)
    try:
        before = Path(context.array_paths["daily"]).read_bytes()
        data = open_data_context(context)
        with pytest.raises(ValueError, match="read-only"):
            data.daily.iloc[0, 0] = -1.0
        with pytest.raises(ValueError, match="read-only"):
            data.daily.to_numpy()[0, 0] = -1.0
        assert Path(context.array_paths["daily"]).read_bytes() == before
    finally:
        remove_data_context(context)


def test_row_10_two_optimisations_on_one_storage(tmp_path: Path) -> None:
    first = start_cli(
        tmp_path, fault_scenario(sleep_s=0.05, trials=12), "--n-jobs", "2", study="one"
    )
    second = start_cli(
        tmp_path, fault_scenario(sleep_s=0.05, trials=9), "--n-jobs", "2", study="two"
    )
    for process in (first, second):
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    assert len(study_trials(tmp_path, "one")) == 12
    assert len(study_trials(tmp_path, "two")) == 9
    # The same name twice at once: they share one budget instead of each running theirs.
    document = fault_scenario(sleep_s=0.1, trials=10)
    runs = [start_cli(tmp_path, document, study="shared") for _ in range(2)]
    for process in runs:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    trials = study_trials(tmp_path, "shared")
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, "both runs took trials"
    assert 10 <= len(trials) < 20
    assert _states(trials) == {TrialState.COMPLETE: len(trials)}


BAD_DATA = [
    ("date,A\n2021-01-04,1\n2021-01-04,2\n", "duplicate date 2021-01-04"),
    ("date,A\n2021-01-05,1\n2021-01-04,2\n", "not sorted: 2021-01-04"),
    ("date,A\n2021-01-04,1\n2021-01-05,x\n", "non-numeric value 'x' in column 'A' at date"),
    ("date,A\n2021-01-04,1\n2021-01-05,0\n", "column 'A' at 2021-01-05 is not positive"),
    ("date,A,B\n2021-01-04,1,\n2021-01-05,2,\n", "column 'B' has no prices"),
    ("date,A\n2021-01-04,1\n2021-05-04,2\n", "gap of 120 days"),
    ("date,A\n2021-01-04,1\n", "need at least 2 rows"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_DATA)
def test_row_11_bad_market_data_names_file_column_and_row(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.csv").write_text(text, encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "csv", "path": "p.csv", "benchmark": None},
                "strategy": {"name": "equal_weight"},
            }
        )
    )
    assert main(["backtest", "--scenario", str(scenario), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "p.csv" in err and expected in err, err
    assert not (tmp_path / "out").exists()


def test_row_11_a_ticker_listed_later_is_normal(tmp_path: Path) -> None:
    rows = "".join(f"2021-01-{d:02d},{10 + d},{'' if d < 12 else 5 + d}\n" for d in range(4, 29))
    (tmp_path / "p.csv").write_text("date,A,B\n" + rows, encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "csv", "path": "p.csv", "benchmark": None},
                "strategy": {"name": "equal_weight", "params": {"rebalance": "daily"}},
            }
        )
    )
    assert (
        main(
            [
                "backtest",
                "--scenario",
                str(scenario),
                "--output",
                str(tmp_path / "o"),
                "-q",
                "--no-report",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--n-jobs", "0"], "--n-jobs must be a positive number"),
        (["--n-jobs", "9", "--trials", "4"], "more workers than the 4 trials"),
    ],
)
def test_row_12_bad_worker_counts_are_user_errors(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(fault_scenario()), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(scenario), "--output", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists(), "nothing is written"


def test_row_13_worker_memory_stays_flat_over_2000_trials(tmp_path: Path) -> None:
    document = fault_scenario(trials=2000, windows={"train_days": 504, "test_days": 252})
    document["data"]["start"] = "2014-01-02"
    process = start_cli(tmp_path, document, "--n-jobs", "2", "-q")
    early: dict[str, int] = {}
    while process.poll() is None:
        files = {p.name: p for p in (tmp_path / "pids").iterdir() if p.name != str(process.pid)}
        if not early and len(files) == 2 and len(study_trials(tmp_path)) >= 200:
            early = {name: int(path.read_text() or 0) for name, path in files.items()}
        time.sleep(0.5)
    _, err = process.communicate()
    assert process.returncode == 0, err
    assert len(study_trials(tmp_path)) == 2000
    assert len(early) == 2, "memory was sampled in both workers after 200 trials"
    late = {name: int((tmp_path / "pids" / name).read_text()) for name in early}
    growth_mb = {name: (late[name] - early[name]) / 1024 for name in early}
    # Expected: Optuna's in-memory copy of the study grows about 3 kB per trial (~6 MB over
    # 1,800 trials) plus allocator noise; a leak of 10 kB per trial more would exceed this.
    assert max(growth_mb.values()) < 20, growth_mb


def test_row_14_same_seed_gives_identical_trials_through_the_cli(tmp_path: Path) -> None:
    results = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        process = start_cli(folder, fault_scenario(trials=8, seed=11), "-q")
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append([(t.params, t.values) for t in study_trials(folder)])
    assert results[0] == results[1]
    # Mapped data scoring equal to in-memory data: tests/optimization/test_parallel.py
    # (test_a_trial_in_a_worker_scores_exactly_as_in_the_parent).
