"""report.html from real run folders: every section, every image a real PNG, a real browser."""

from __future__ import annotations

import base64
import gc
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot
from matplotlib.image import imread

from portfolio_backtester import metrics
from portfolio_backtester.cli import main
from portfolio_backtester.errors import DataError
from portfolio_backtester.reporting.figures import monthly_table, worst_drawdowns
from portfolio_backtester.reporting.html import build_report

BACKTEST = [
    "Backtest",
    "Metrics",
    "Costs by kind",
    "Equity and drawdown",
    "Monthly returns",
    "Rolling 12-month return, volatility and Sharpe",
    "Holdings and turnover",
    "Exposure: gross, net and cash after drift",
    "Against the benchmark",
    "Distribution of returns",
    "Worst drawdowns",
]
OPTIMIZE = [
    "Is it overfit?",
    "Around the chosen parameters",
    "In-sample: backtest of the final parameters",
    *BACKTEST[1:],
    "Optimisation",
    "Run summary",
    "Optimisation history",
    "Parameter importance",
    "Contour of",
    "Top trials",
]
WALK_FORWARD = [
    "Out of sample: the honest estimate",
    "Chosen parameters over time",
    *OPTIMIZE,
    "Walk-forward: out of sample against in sample",
    "Scores per window",
    "Parameters chosen per window",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Headings and image sources of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def _assert_report(folder: Path, sections: list[str]) -> _Page:
    """Well-formed, every section present, every image an embedded PNG of real content."""
    text = (folder / "report.html").read_text(encoding="utf-8")
    ET.fromstring(text.removeprefix("<!DOCTYPE html>\n"))  # well-formed: every tag closed
    assert "<script" not in text and "http://" not in text and "https://" not in text
    page = _Page()
    page.feed(text)
    page.close()
    for section in sections:
        assert any(h.startswith(section) for h in page.headings), (section, page.headings)
    assert page.images
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        data = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 5_000
    pngs = sorted((folder / "figures").glob("*.png"))
    assert len(pngs) == len(page.images)
    return page


def test_backtest_report_has_every_section_and_figure(backtest_run: Path) -> None:
    _assert_report(backtest_run, BACKTEST)
    assert {p.stem for p in (backtest_run / "figures").iterdir()} == {
        "equity",
        "rolling",
        "holdings",
        "exposure",
        "relative",
        "distribution",
    }


def test_costs_are_split_by_kind_in_returns_csv_and_the_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    scenario = Path(__file__).resolve().parents[2] / "examples" / "costs_per_share.yaml"
    assert main(["backtest", "--scenario", str(scenario), "--output", str(out), "-q"]) == 0
    returns = pd.read_csv(out / "returns.csv", index_col=0)
    kinds = [c for c in returns.columns if c.startswith("cost_")]
    assert kinds == [
        "cost_bps",
        "cost_commission",
        "cost_per_share",
        "cost_spread",
        "cost_impact",
        "cost_borrow",
        "cost_financing",
    ]
    np.testing.assert_allclose(returns[kinds].sum(axis=1), returns["costs"], atol=1e-15)
    assert returns["cost_per_share"].sum() > 0 and returns["cost_spread"].sum() > 0
    text = (out / "report.html").read_text(encoding="utf-8")
    section = text[text.index("Costs by kind</h3>") : text.index("Equity and drawdown</h3>")]
    total = returns["costs"].sum()
    assert f"<td>all</td><td>{total:.2%}</td>" in section
    assert f"<td>per_share</td><td>{returns['cost_per_share'].sum():.2%}</td>" in section


def test_a_monte_carlo_run_shows_its_fan_and_percentiles(tmp_path: Path) -> None:
    """The section appears only for a --monte-carlo run, with the percentiles it recorded."""
    out = tmp_path / "run"
    argv = ["backtest", "--monte-carlo", "50", "--seed", "3", "--output", str(out), "-q"]
    assert main(argv) == 0
    page = _assert_report(out, [*BACKTEST[:-1], "Monte Carlo", "Worst drawdowns"])
    assert (out / "figures" / "monte_carlo.png").is_file()
    summary = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["monte_carlo"]
    text = (out / "report.html").read_text(encoding="utf-8")
    start = text.index("could have looked</h3>")
    section = text[start : text.index("Worst drawdowns</h3>")]
    assert f"{summary['paths']} paths resampled" in section
    cagr = summary["percentiles"]["CAGR"]
    row = re.search(r"<tr><td>CAGR</td>(.*?)</tr>", section)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    expected = [
        summary["observed"]["CAGR"],
        *(cagr[k] for k in ("p5", "p25", "p50", "p75", "p95")),
    ]
    assert cells == [f"{v * 100:.2f}%" for v in expected]
    assert len(page.headings) == len(BACKTEST) + 2  # the title and the Monte Carlo section


@pytest.mark.slow
def test_optimize_report_shows_history_importance_and_top_trials(optimize_run: Path) -> None:
    page = _assert_report(optimize_run, OPTIMIZE)
    assert "Pareto front" not in page.headings


@pytest.mark.slow
def test_walk_forward_report_shows_every_window(walk_forward_run: Path) -> None:
    page = _assert_report(walk_forward_run, WALK_FORWARD)
    # The honest result opens the report; in-sample figures come after, labelled.
    order = [
        h
        for h in page.headings
        if h
        in (
            "Out of sample: the honest estimate",
            "Is it overfit?",
            "In-sample: backtest of the final parameters",
        )
    ]
    assert order == [
        "Out of sample: the honest estimate",
        "Is it overfit?",
        "In-sample: backtest of the final parameters",
    ]
    windows = pd.read_csv(walk_forward_run / "windows.csv")
    text = (walk_forward_run / "report.html").read_text(encoding="utf-8")
    for row in windows.itertuples():
        assert f"{row.test_start} to {row.test_end}" in text


@pytest.mark.slow
def test_multi_objective_report_shows_the_pareto_front(multi_objective_run: Path) -> None:
    _assert_report(multi_objective_run, [*OPTIMIZE, "Pareto front"])
    figures = {p.stem for p in (multi_objective_run / "figures").iterdir()}
    assert {"importance_0", "importance_1", "pareto_front"} <= figures


@pytest.mark.parametrize("name", ["run.json", "metrics.json", "returns.csv", "weights.csv"])
def test_a_missing_file_is_a_clear_error(backtest_run: Path, tmp_path: Path, name: str) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(backtest_run, broken)
    (broken / name).unlink()
    message = rf"{re.escape(str(broken))}: missing {re.escape(name)} — is this the output folder"
    with pytest.raises(DataError, match=message):
        build_report(broken)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["trials.csv", "windows.csv", "oos_returns.csv"])
def test_a_missing_optimization_file_fails_before_drawing(
    walk_forward_run: Path, tmp_path: Path, name: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(walk_forward_run, broken, ignore=shutil.ignore_patterns("figures"))
    (broken / name).unlink()
    with pytest.raises(DataError, match=rf"missing {re.escape(name)}"):
        build_report(broken)
    assert not (broken / "figures").exists()


def test_the_garbage_collector_is_back_after_a_report_built_or_refused(
    backtest_run: Path, tmp_path: Path
) -> None:
    assert gc.isenabled()
    build_report(backtest_run)
    assert gc.isenabled()
    broken = tmp_path / "broken"
    shutil.copytree(backtest_run, broken)
    (broken / "returns.csv").unlink()
    with pytest.raises(DataError):
        build_report(broken)
    assert gc.isenabled()
    gc.disable()  # a caller that had it off keeps it off
    try:
        build_report(backtest_run)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_unreadable_file_is_a_clear_error(backtest_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(backtest_run, broken)
    (broken / "metrics.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken: metrics\.json is not valid JSON"):
        build_report(broken)
    (broken / "metrics.json").write_text("{}", encoding="utf-8")
    (broken / "returns.csv").write_text("date,costs\n2020-01-01,0.0\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"returns\.csv lacks column\(s\) portfolio, turnover"):
        build_report(broken)


def test_the_report_command_gives_one_error_line(
    backtest_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(backtest_run, broken)
    (broken / "returns.csv").unlink()
    assert main(["report", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "missing returns.csv" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_run_folder_without_its_study_storage_is_rebuilt_with_its_study(
    optimize_run: Path, tmp_path: Path
) -> None:
    """The report reads the run folder only: with the journal deleted and run.json naming a
    storage that does not exist, the study's plots are still drawn and nothing is created."""
    moved = tmp_path / "moved"
    shutil.copytree(
        optimize_run,
        moved,
        ignore=shutil.ignore_patterns("report.html", "figures", "optuna-journal.log"),
    )
    run = json.loads((moved / "run.json").read_text(encoding="utf-8"))
    gone = tmp_path / "elsewhere" / "optuna-journal.log"
    run["storage_url"] = f"journal://{gone}"
    (moved / "run.json").write_text(json.dumps(run), encoding="utf-8")
    style = dict(matplotlib.rcParams)
    assert main(["report", str(moved), "-q"]) == 0
    _assert_report(moved, OPTIMIZE)
    assert (moved / "figures" / "importance_0.png").is_file()
    assert not gone.parent.exists()
    assert not (moved / "optuna-journal.log").exists()
    # Optuna's plots switch pyplot to ggplot and register figures: neither may leak.
    assert dict(matplotlib.rcParams) == style
    assert pyplot.get_fignums() == []


def test_worst_drawdowns_by_hand() -> None:
    dates = pd.bdate_range("2024-01-01", periods=8)
    returns = pd.Series([0.10, -0.20, 0.10, 0.20, -0.10, -0.10, 0.05, 0.0], index=dates)
    # Equity 1.1, .88, .968, 1.1616 (new peak), 1.04544, .940896, .98794, .98794.
    table = worst_drawdowns(returns)
    assert table.to_dict("list") == {
        "start": ["2024-01-01", "2024-01-04"],
        "trough": ["2024-01-02", "2024-01-08"],
        "recovery": ["2024-01-04", "not recovered"],
        "depth": pytest.approx([-0.2, -0.19]),
        "length_days": [2, 4],
    }


def test_drawdowns_and_months_agree_with_the_metrics(backtest_run: Path) -> None:
    returns = pd.read_csv(backtest_run / "returns.csv", index_col=0, parse_dates=True)
    strategy = returns["portfolio"]
    every = worst_drawdowns(strategy, n=len(strategy))
    assert every["depth"].iloc[0] == pytest.approx(metrics.max_drawdown(strategy))
    assert every["length_days"].max() == metrics.max_drawdown_duration(strategy)
    months = monthly_table(strategy).drop(columns="Year").to_numpy()
    assert np.nanmax(months) == pytest.approx(metrics.best_month(strategy))
    assert np.nanmin(months) == pytest.approx(metrics.worst_month(strategy))


def test_the_monthly_table_shows_every_month_of_the_returns(backtest_run: Path) -> None:
    returns = pd.read_csv(backtest_run / "returns.csv", index_col=0, parse_dates=True)
    expected = monthly_table(returns["portfolio"]) * 100
    text = (backtest_run / "report.html").read_text(encoding="utf-8")
    heat = text[text.index("<table class='heat'>") :]
    heat = heat[: heat.index("</table>")]
    rows = re.findall(r"<tr><th>(\d{4})</th>(.*?)</tr>", heat)
    assert [int(year) for year, _ in rows] == list(expected.index)
    for (_, cells), (_, values) in zip(rows, expected.iterrows(), strict=True):
        shown = re.findall(r"<td(?: style='([^']*)')?>([^<]*)</td>", cells)
        assert len(shown) == 13
        for (style, number_text), value in zip(shown, values, strict=True):
            if np.isnan(value):
                assert (style, number_text) == ("", "")
            else:
                assert number_text == f"{value:.1f}".replace("-0.0", "0.0") and style.startswith(
                    "background:#"
                )
    # Red for the worst month, green for the best: the scale runs through the colormap.
    worst = expected.iloc[:, :12].stack().idxmin()
    best = expected.iloc[:, :12].stack().idxmax()
    for (year, month), channel in ((worst, 1), (best, 0)):
        row = dict(rows)[str(year)]
        style = re.findall(r"<td(?: style='([^']*)')?>", row)[month - 1]
        rgb = [int(style[12 + 2 * k : 14 + 2 * k], 16) for k in range(3)]
        assert rgb[channel] < 100 < rgb[1 - channel], (year, month, style)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(walk_forward_run: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
    assert chromium is not None, "chromium is required: apt-get install -y chromium"
    shot = tmp_path / "shot.png"
    done = subprocess.run(  # a fixed browser on a file we wrote
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
            (walk_forward_run / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    console = [
        line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console, console
    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert float(np.std(pixels[..., :3])) > 0.05, "the screenshot is blank"
