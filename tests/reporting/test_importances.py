"""Parameter importances computed in a child process equal those computed in the report's
own, and the child never outlives the report."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
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
        assert importances._results is not None, "computed by the child, not here"
        assert list(here) and abs(sum(here.values()) - 1.0) < 1e-9
    assert _children() <= before


def test_a_killed_child_leaves_the_importances_to_the_report(optimize_run: Path) -> None:
    study = _study(optimize_run)
    importances = Importances(study, in_child=True)
    assert importances._child is not None
    importances._child.kill()
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
    mark = uuid.uuid4().hex  # inherited by every process the command starts
    done = subprocess.run(
        [sys.executable, "-m", "portfolio_backtester", "report", str(multi_objective_run)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PBT_TEST_MARK": mark},
    )
    assert done.returncode == 0, done.stderr
    figures = {p.stem for p in (multi_objective_run / "figures").iterdir()}
    assert {"importance_0", "importance_1"} <= figures
    assert not [p for p in psutil.process_iter() if _marked(p, mark)]


def _marked(process: psutil.Process, mark: str) -> bool:
    try:
        return process.environ().get("PBT_TEST_MARK") == mark
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def test_each_trial_keeps_its_own_distributions_in_the_child() -> None:
    """A resumed study may have searched other ranges before: the child's study is the same."""
    study = optuna.create_study()
    for i in range(24):
        high = 1.0 if i < 12 else 2.0  # the range of x widened half way
        x = optuna.distributions.FloatDistribution(0.0, high)
        k = optuna.distributions.IntDistribution(1, 5)
        params = {"x": high * ((i * 7) % 10) / 10, "k": 1 + i % 5}
        value = params["x"] ** 2 + 0.1 * params["k"]
        trial = optuna.trial.create_trial(
            params=params, distributions={"x": x, "k": k}, value=value
        )
        study.add_trial(trial)
    rebuilt = _importance_child.study_from_payload(_importance_child.study_payload(study))
    assert [t.distributions for t in rebuilt.trials] == [t.distributions for t in study.trials]
    assert [t.params for t in rebuilt.trials] == [t.params for t in study.trials]
    assert _importance_child.importances(rebuilt, 0) == _importance_child.importances(study, 0)
    importances = Importances(study, in_child=True)
    assert importances.of(0, []) == _importance_child.importances(study, 0)[0]
    assert importances._results is not None
