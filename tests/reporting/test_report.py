"""report.html from real runs: every section present, every image a real PNG, a real browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from portfolio_backtester.backtest import run_backtest
from portfolio_backtester.cli import main
from portfolio_backtester.errors import DataError
from portfolio_backtester.reporting.html import build_report

BACKTEST_SECTIONS = [
    "Backtest",
    "Metrics",
    "Equity and drawdown",
    "Monthly returns",
    "Rolling 12-month return, volatility and Sharpe",
    "Holdings and turnover",
    "Distribution of returns",
    "Worst drawdowns",
]
OPTIMIZE_SECTIONS = [
    "Optimisation",
    "Optimisation history",
    "Parameter importance",
    "Contour of",
    "Top trials",
]
WALK_FORWARD_SECTIONS = [
    "Walk-forward: out of sample against in sample",
    "Scores per window",
    "Parameters chosen per window",
]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3"):
            self._in_heading = True
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings.append(data.strip())


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    collector.close()
    return collector


def _assert_report(path: Path, sections: list[str]) -> None:
    page = _parse(path)
    for section in sections:
        assert any(h.startswith(section) for h in page.headings), (section, page.headings)
    assert page.images
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), "images are embedded"
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5_000


@pytest.fixture(scope="module")
def backtest_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backtest")
    result = run_backtest({"data": {"start": "2010-01-04"}})
    result.save(folder)
    build_report(folder)
    return folder


def test_backtest_report_has_every_section(backtest_run: Path) -> None:
    _assert_report(backtest_run / "report.html", BACKTEST_SECTIONS)
    assert {p.name for p in (backtest_run / "figures").iterdir()} >= {
        "equity.png",
        "monthly_returns.png",
        "rolling.png",
        "holdings.png",
        "distribution.png",
    }


def _optimize(tmp_path: Path, write_scenario: Any, **optimize: Any) -> Path:
    scenario = write_scenario(
        {
            "name": "rep",
            "data": {"start": "2004-01-02"},
            "strategy": {"name": "simple_momentum"},
            "optimize": {
                "params": {
                    "lookback_months": {"type": "int", "low": 3, "high": 12},
                    "top_n": {"type": "int", "low": 2, "high": 6},
                },
                "trials": 6,
                "windows": {"train_days": 756, "test_days": 504},
                **optimize,
            },
        }
    )
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(scenario), "--output", str(out), "-q"]) == 0
    return out


@pytest.mark.slow
def test_walk_forward_report_shows_windows(tmp_path: Path, write_scenario: Any) -> None:
    out = _optimize(tmp_path, write_scenario, mode="walk_forward")
    _assert_report(
        out / "report.html", BACKTEST_SECTIONS + OPTIMIZE_SECTIONS + WALK_FORWARD_SECTIONS
    )


@pytest.mark.slow
def test_multi_objective_report_shows_the_pareto_front(
    tmp_path: Path, write_scenario: Any
) -> None:
    out = _optimize(
        tmp_path, write_scenario, objectives=[{"metric": "Sharpe"}, {"metric": "Max Drawdown"}]
    )
    _assert_report(out / "report.html", [*BACKTEST_SECTIONS, "Optimisation", "Pareto front"])


def test_report_of_a_folder_with_a_missing_file_is_a_clear_error(
    backtest_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(backtest_run, broken)
    (broken / "returns.csv").unlink()
    with pytest.raises(DataError, match=r"missing returns\.csv"):
        build_report(broken)
    assert main(["report", str(broken)]) == 2
    assert "missing returns.csv" in capsys.readouterr().err


def test_report_command_rebuilds_without_rerunning(backtest_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(backtest_run, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy), "-q"]) == 0
    _assert_report(copy / "report.html", BACKTEST_SECTIONS)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(backtest_run: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium is not None, "Debian's chromium is required (.ci/run installs it)"
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
            f"--screenshot={shot}",
            (backtest_run / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    console_errors = re.findall(r".*(?:CONSOLE|Uncaught).*", done.stderr)
    assert not console_errors, console_errors
    pixels = imread(shot)
    assert pixels.shape[0] >= 1000
    assert float(np.std(pixels[..., :3])) > 0.05, "the screenshot is blank"
