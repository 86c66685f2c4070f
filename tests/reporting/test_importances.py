"""Parameter importances computed in a child process equal those computed in the report's
own, and the child never outlives the report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import psutil
import pytest

from portfolio_backtester.reporting import _importance_child
from portfolio_backtester.reporting.importances import Importances
from portfolio_backtester.reporting.run_folder import read_run_folder, rebuild_study

pytestmark = pytest.mark.slow


def _study(run: Path) -> optuna.Study:
    files = read_run_folder(run)
    study, note = rebuild_study(files, str(files.run["study_names"][-1]))
    assert study is not None, note
    return study


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("run", ["optimize_run", "multi_objective_run"])
def test_the_child_computes_what_the_report_would(
    run: str, request: pytest.FixtureRequest
) -> None:
    study = _study(request.getfixturevalue(run))
    before = _children()
    importances = Importances(study, in_child=True)
    assert importances._child is not None and importances._child.pid not in before
    for objective in range(len(study.directions)):
        notes: list[str] = []
        here, warned = _importance_child.importances(study, objective)
        assert importances.of(objective, notes) == here and notes == warned
        assert list(here) and abs(sum(here.values()) - 1.0) < 1e-9
    assert _children() <= before


def test_a_killed_child_leaves_the_importances_to_the_report(optimize_run: Path) -> None:
    study = _study(optimize_run)
    importances = Importances(study, in_child=True)
    assert importances._child is not None
    os.kill(importances._child.pid, signal.SIGKILL)
    notes: list[str] = []
    assert importances.of(0, notes) == _importance_child.importances(study, 0)[0]


def test_closing_kills_a_child_still_running(optimize_run: Path) -> None:
    importances = Importances(_study(optimize_run), in_child=True)
    child = importances._child
    assert child is not None
    importances.close()
    assert child.poll() is not None and child.pid not in _children()


def test_a_fresh_report_command_leaves_no_process_behind(
    multi_objective_run: Path, tmp_path: Path
) -> None:
    """In a new interpreter (as ``portfolio-backtester report`` is) the child is used."""
    done = subprocess.run(
        [sys.executable, "-m", "portfolio_backtester", "report", str(multi_objective_run)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = {p.stem for p in (multi_objective_run / "figures").iterdir()}
    assert {"importance_0", "importance_1"} <= figures
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if "_importance_child.py" in " ".join(p.info["cmdline"] or [])
    ]
