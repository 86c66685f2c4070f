"""Helpers for tests that run the real command line in its own process group and signal it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
import yaml

from portfolio_backtester.optimization.storage import default_storage_url, open_storage

TESTS = Path(__file__).resolve().parent


def fault_scenario(
    mode: str = "ok", sleep_s: float = 0.0, trials: int = 12, **optimize: Any
) -> dict[str, Any]:
    """A small optimisation of the fault-injection strategy over one searched value ``x``."""
    return {
        "name": "fault",
        "data": {"universe": ["AAPL", "KO", "XOM"], "start": "2012-01-03", "end": "2016-12-30"},
        "strategy": {
            "name": "fault_strategy:FaultStrategy",
            "params": {"mode": mode, "sleep_s": sleep_s},
        },
        "optimize": {
            "params": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
            "sampler": "random",
            "trials": trials,
            "windows": {"train_days": 252, "test_days": 252},
            **optimize,
        },
    }


def start_cli(
    folder: Path,
    document: dict[str, Any],
    *extra: str,
    study: str = "s",
    storage: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """``optimize`` in a new session, with its output, study and data directory in ``folder``.

    The study lives in the journal file in ``folder`` unless ``storage`` names another URL;
    ``env`` adds variables (the fault strategy's ``PBT_TEST_*`` switches).
    """
    scenario = folder / f"scenario-{study}-{uuid.uuid4().hex[:6]}.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    args = ["optimize", "--scenario", str(scenario), "--output", str(folder)]
    args += ["--study-name", study, "--no-report"]
    if storage is not None:
        args += ["--storage", storage]
    return _start(folder, [*args, *extra], env)


def start_worker(
    folder: Path,
    storage: str,
    *extra: str,
    study: str = "s",
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """``worker`` joining ``study`` in ``storage``, in a new session, its data in ``folder``."""
    return _start(folder, ["worker", "--storage", storage, "--study-name", study, *extra], env)


def _start(folder: Path, args: list[str], env: Mapping[str, str] | None) -> subprocess.Popen[str]:
    (folder / "pids").mkdir(exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    variables = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "PBT_TEST_PID_DIR": str(folder / "pids"),
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "portfolio_backtester", *args, "--data-dir", str(folder / "data")],
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def worker_pids(folder: Path, parent: int, n: int, timeout: float = 60) -> list[int]:
    """PIDs of the first ``n`` worker processes that ran a trial (not the parent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(p.name) for p in (folder / "pids").iterdir() if int(p.name) != parent]
        if len(pids) >= n:
            return pids
        time.sleep(0.05)
    raise AssertionError("workers did not start")


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def group_pids(pgid: int) -> set[str]:
    """The process ids (as strings) of every live process in a process group."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # state, ppid, pgrp
            pids.add(stat.parent.name)
    return pids


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def study_trials(
    folder: Path, study: str = "s", storage: str | None = None
) -> list[optuna.trial.FrozenTrial]:
    """The trials of the study kept in ``storage`` (default: ``folder``'s journal file)."""
    opened = open_storage(storage or default_storage_url(folder))
    try:
        return optuna.load_study(study_name=study, storage=opened).trials
    finally:
        engine = getattr(opened, "engine", None)  # an RDB storage: close its connections
        if engine is not None:
            engine.dispose()
