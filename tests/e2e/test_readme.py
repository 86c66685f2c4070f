"""The README's commands and examples work as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portfolio_backtester.cli import main

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.e2e


def test_quick_start_command_runs_the_default_backtest(tmp_path: Path) -> None:
    assert "pip install -e . && portfolio-backtester backtest" in README
    executable = shutil.which("portfolio-backtester") or str(
        Path(sys.executable).parent / "portfolio-backtester"
    )
    done = subprocess.run(
        [executable, "backtest", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Sharpe" in done.stdout
    assert (tmp_path / "results" / "scenario" / "report.html").exists()


def test_python_api_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    monkeypatch.chdir(REPO)
    exec(compile(block.group(1), "README.md", "exec"), {})


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_example_scenarios_run(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    command = "optimize" if "optimize:" in text else "backtest"
    extra = ["--trials", "3"] if command == "optimize" else []
    assert (
        main(
            [
                command,
                "--scenario",
                str(path),
                "--output",
                str(tmp_path),
                "-q",
                "--no-report",
                *extra,
            ]
        )
        == 0
    )
