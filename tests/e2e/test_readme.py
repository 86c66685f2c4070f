"""The README's commands and examples work as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import types
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


@pytest.mark.slow
def test_python_examples_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every Python block of the README runs, and its strategy class backtests as written."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    # As in a notebook: the blocks run in one module, which the class can be found in.
    module = types.ModuleType("readme_blocks")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), module.__dict__)
    import portfolio_backtester as pb

    result = pb.run_backtest({"strategy": module.TopN})
    assert result.metrics["Trades"] > 0
    assert (tmp_path / "results" / "from-notebook" / "report.html").exists()


@pytest.mark.parametrize("path", sorted((REPO / "examples").rglob("*.yaml")), ids=lambda p: p.name)
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
