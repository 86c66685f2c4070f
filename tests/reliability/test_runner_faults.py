"""Faults of the runner itself: a worker killed holding the budget lock, files mapped when they
are deleted, more workers than the machine has cores or memory for.

Real spawned workers, real files, real signals; the faults come from ``tests/fault_strategy.py``
(a sampler that hangs inside ``study.ask()``, a strategy that hangs inside a trial).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from optuna.trial import TrialState

from fault_strategy import ask_blocking_sampler
from portfolio_backtester._platform import available_memory_bytes, usable_cores
from portfolio_backtester.cli import main
from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.storage import default_storage_url
from processes import (
    TESTS,
    alive,
    fault_scenario,
    group_pids,
    start_cli,
    study_trials,
    wait_until,
    worker_pids,
)

pytestmark = pytest.mark.slow


def _flock_holders(path: Path) -> set[int]:
    """PIDs holding a flock on ``path``, from /proc/locks (Linux)."""
    inode = path.stat().st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "FLOCK" in fields and int(fields[-3].rpartition(":")[2]) == inode:
            holders.add(int(fields[-4]))
    return holders


def test_a_worker_killed_holding_the_budget_lock_loses_only_its_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OOM killer's SIGKILL inside ``study.ask()``: the system releases the file lock,
    the other worker spends the budget, and the parent fails the untagged trial."""
    hang = tmp_path / "ask-hang"
    monkeypatch.setenv("PBT_TEST_ASK_HANG_FILE", str(hang))
    (tmp_path / "data").mkdir()
    scenario = load_scenario(fault_scenario(trials=6))
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=build_optimization_data(load_market_data(scenario.data)),
        storage_url=default_storage_url(tmp_path),
        study_name="s",
        n_jobs=2,
        data_dir=tmp_path / "data",
        sampler_factory=ask_blocking_sampler,
    )
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(_run(runner)), daemon=True)
    thread.start()
    wait_until(hang.exists, timeout=120, what="a worker hanging inside study.ask()")
    victim = int(hang.read_text())
    (lock,) = (tmp_path / "data").glob("pbt-data-*/budget.lock")
    assert _flock_holders(lock) == {victim}, "the victim holds the budget lock"
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=180)
    assert not thread.is_alive(), "the run finished"
    (result,) = outcome
    assert not isinstance(result, BaseException), result
    trials = study_trials(tmp_path)
    assert Counter(t.state for t in trials) == {TrialState.COMPLETE: 5, TrialState.FAIL: 1}
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert "worker" not in failed.user_attrs, "killed before it could tag its trial"
    reason = failed.user_attrs["fail_reason"]
    assert reason.startswith("worker pbt-worker-") and reason.endswith(
        "died (exit code -9) while asking for a trial"
    ), reason
    assert any(f"(pid {victim}) exited with code -9" in event for event in runner.events)
    assert list((tmp_path / "data").iterdir()) == []


def _run(runner: ParallelOptimizationRunner) -> Any:
    try:
        return runner.run()
    except BaseException as exc:  # noqa: BLE001  # handed to the test thread
        return exc


# --- no process maps a data file when the data directory is removed ----------------------

DRIVER = """
import json, os, sys
from pathlib import Path

report, data_dir, pid_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])


def children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def maps_inside(pid, directory):
    try:
        text = Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # exited
        return []
    return [line for line in text.splitlines() if directory in line]


def on_event(event, args):
    # Runs synchronously in the parent just before shutil.rmtree deletes anything.
    if event != "shutil.rmtree" or not str(args[0]).startswith(data_dir):
        return
    directory = str(args[0])
    workers = [int(p.name) for p in pid_dir.iterdir() if p.name.isdigit()]
    pids = sorted({os.getpid(), *children(os.getpid()), *workers})
    entry = {"directory": directory, "maps": {pid: maps_inside(pid, directory) for pid in pids}}
    with report.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\\n")


sys.addaudithook(on_event)
from portfolio_backtester.cli import main

sys.exit(main(sys.argv[4:]))
"""


def _start_driver(folder: Path, document: dict[str, Any], env: dict[str, str]) -> Any:
    """``optimize --n-jobs 2`` run by a parent that records, at each removal of a data
    directory, every line of its own and every worker's /proc/<pid>/maps inside it."""
    for name in ("data", "pids"):
        (folder / name).mkdir()
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    args = ["optimize", "--scenario", str(scenario), "--output", str(folder / "out")]
    args += ["--study-name", "s", "--no-report", "--n-jobs", "2"]
    args += ["--data-dir", str(folder / "data")]
    driver = [folder / "removals.jsonl", folder / "data", folder / "pids"]
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, *map(str, driver), *args],
        env={
            **os.environ,
            "PYTHONPATH": str(TESTS),
            "PBT_TEST_PID_DIR": str(folder / "pids"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("ending", ["success", "failed trial", "killed worker", "ctrl-c"])
def test_no_process_maps_a_data_file_when_the_directory_is_removed(
    tmp_path: Path, ending: str
) -> None:
    """Windows refuses to delete a mapped file; Linux deletes it and the map lives on. So on
    Linux the maps of the parent and of every worker are read at the moment of removal."""
    hang = tmp_path / "hang"
    document = fault_scenario(trials=8, seed=3)
    env: dict[str, str] = {}
    if ending == "failed trial":
        document = fault_scenario(mode="raise_high_x", trials=8, seed=3)
    if ending in ("killed worker", "ctrl-c"):
        env["PBT_TEST_HANG_FILE"] = str(hang)
    process = _start_driver(tmp_path, document, env)
    try:
        if ending == "killed worker":
            wait_until(hang.exists, timeout=120, what="a worker hanging in its trial")
            os.kill(int(hang.read_text()), signal.SIGKILL)
        if ending == "ctrl-c":
            wait_until(hang.exists, timeout=120, what="a worker hanging in its trial")
            worker_pids(tmp_path, process.pid, 2)
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == (130 if ending == "ctrl-c" else 0), err
    assert "Traceback" not in err
    removals = [
        json.loads(line)
        for line in (tmp_path / "removals.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert removals, "the data directory was removed through shutil.rmtree"
    assert len(removals[0]["maps"]) >= 3, "the parent and both workers were looked at"
    for removal in removals:
        mapped = {pid: lines for pid, lines in removal["maps"].items() if lines}
        assert mapped == {}, f"mapped while {removal['directory']} was removed: {mapped}"
    assert list((tmp_path / "data").iterdir()) == []
    wait_until(
        lambda: not [pid for pid in group_pids(process.pid) if alive(int(pid))],
        timeout=10,
        what="every process of the run exiting",
    )


# --- more workers than cores or memory -----------------------------------------------------


def test_more_workers_than_cores_are_capped_unless_oversubscribed(tmp_path: Path) -> None:
    cores = usable_cores()
    asked = cores + 1
    document = fault_scenario(trials=asked + 1)
    for name in ("capped", "insisted"):
        (tmp_path / name).mkdir()
    capped = start_cli(tmp_path / "capped", document, "--n-jobs", str(asked), "-q")
    out, err = capped.communicate(timeout=180)
    assert capped.returncode == 0, err
    assert f"--n-jobs {asked} asks for more workers than the {cores} core(s)" in err
    assert "--oversubscribe" in err
    assert f"with {cores} worker(s)" in out
    insisted = start_cli(
        tmp_path / "insisted", document, "--n-jobs", str(asked), "--oversubscribe", "-q"
    )
    out, err = insisted.communicate(timeout=180)
    assert insisted.returncode == 0, err
    assert "core(s)" not in err
    assert f"with {asked} worker(s)" in out


def test_workers_that_would_not_fit_in_memory_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every worker counts for at least 100 MB: at 50 MB each the machine would have room.
    n_jobs = math.ceil(available_memory_bytes() / (50 * 2**20))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(fault_scenario(trials=n_jobs)), encoding="utf-8")
    out = tmp_path / "out"
    (tmp_path / "data").mkdir()
    args = ["optimize", "--scenario", str(scenario), "--output", str(out), "--no-report"]
    args += ["--n-jobs", str(n_jobs), "--oversubscribe", "--data-dir", str(tmp_path / "data")]
    assert main(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert f"{n_jobs} workers would need about" in errors[0] and "GB are available" in errors[0]
    assert "Traceback" not in err
    assert not out.exists(), "nothing is written"
    assert list((tmp_path / "data").iterdir()) == []
