"""``report.html``: one self-contained page built only from a run folder's files.

Building from the files (not from objects in memory, nor from the study storage) means the
end of every run and ``portfolio-backtester report RUN_FOLDER`` share one code path, and a
finished run's report can be rebuilt, restyled or mailed at any time, anywhere.
"""

from __future__ import annotations

import calendar
import importlib.metadata
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import figures, optuna_figures, relative_figures
from ._run_files import COST_PREFIX
from .drawing import collector_paused
from .honest import honest_section
from .importances import Importances
from .monte_carlo_section import monte_carlo_section
from .page import Page, cell, escape, heatmap_table, number, table
from .run_folder import RunFolder, read_run_folder, rebuild_study
from .tables import format_metric

if TYPE_CHECKING:
    import optuna

__all__ = ["build_report"]

logger = logging.getLogger(__name__)

HEADLINE = ("CAGR", "Sharpe", "Max Drawdown", "Annual Volatility", "Calmar", "Turnover")
TOP_TRIALS = 10
TOP_PER_WINDOW = 3


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (figures embedded) and ``run_dir/figures/*.png``.

    Every file is read and checked before anything is drawn, so a folder with a missing or
    unreadable file fails at once with a ``DataError`` naming the folder and the file.
    Returns the path of the report.
    """
    with collector_paused():
        return _build_report(run_dir)


def _build_report(run_dir: Path) -> Path:
    started = time.perf_counter()
    files = read_run_folder(Path(run_dir))
    page = Page(files.run_dir / "figures")
    metrics, run = files.metrics, files.run
    scenario = run.get("scenario") or {}
    title = f"{scenario.get('name', files.run_dir.name)}: {metrics.get('strategy', '')}"
    params = ", ".join(f"{k} = {v}" for k, v in (metrics.get("params") or {}).items())
    optimize = files.trials is not None
    kind = f"optimisation ({run.get('mode', '?')})" if optimize else "backtest"
    page.add(
        f"<header><h1>{escape(title)}</h1><p class='sub'>{escape(kind)} · "
        f"{escape(metrics.get('start'))} to {escape(metrics.get('end'))} "
        f"({len(files.returns)} trading days){' · best ' if optimize else ' · '}parameters "
        f"{escape(params or 'defaults')}</p></header>"
    )
    page.notes([f"warning: {w}" for w in metrics.get("warnings") or []])
    study, note = _last_study(files)
    # Started first: the importances are computed beside the sections before them.
    plotted = study is not None and optuna_figures.completed(study) >= 2
    importances = Importances(study) if study is not None and plotted else None
    try:
        if files.trials is not None:
            honest_section(page, files, [str(o) for o in run.get("objectives", [])])
        _backtest_section(page, files)
        if files.trials is not None:
            _optimization_section(page, files, files.trials, (study, note, importances))
    finally:
        if importances is not None:
            importances.close()
    elapsed_s = time.perf_counter() - started
    page.add(
        f"<footer>Built from the files in <code>{escape(files.run_dir.resolve())}</code> by "
        f"portfolio-backtester {escape(_version())} on {datetime.now():%Y-%m-%d %H:%M} in "
        f"{elapsed_s:.1f} s. Rebuild with <code>portfolio-backtester report "
        f"{escape(files.run_dir)}</code>.</footer>"
    )
    path = files.run_dir / "report.html"
    path.write_text(page.render(title), encoding="utf-8")
    logger.info("report written to %s in %.2f s", path, time.perf_counter() - started)
    return path


def _backtest_section(page: Page, files: RunFolder) -> None:
    metrics, returns, weights = files.metrics, files.returns, files.weights
    optimize = files.trials is not None
    strategy = metrics.get("strategy_metrics") or {}
    benchmark = metrics.get("benchmark_metrics") or {}
    page.add("<section>")
    page.heading(2, "In-sample: backtest of the final parameters" if optimize else "Backtest")
    if optimize:
        page.notes(
            [
                "In-sample: these parameters were chosen with much of this period's data, so "
                "these figures overstate what they would have earned; the out-of-sample and "
                "holdout results above do not."
            ]
        )
    page.add("<div class='cards'>")
    for name in (n for n in HEADLINE if n in strategy):
        versus = (
            f"benchmark {format_metric(name, number(benchmark[name]))}"
            if name in benchmark
            else ""
        )
        value = format_metric(name, number(strategy[name]))
        page.add(
            f"<div class='card'><span>{escape(name)}</span>"
            f"<b>{escape(value)}</b><i>{escape(versus)}</i></div>"
        )
    page.add("</div>")
    page.heading(3, "Metrics")
    header = ["Metric", "Strategy", *(["Benchmark"] if benchmark else [])]
    rows = [
        [
            name,
            format_metric(name, number(strategy[name])),
            *([format_metric(name, number(benchmark.get(name)))] if benchmark else []),
        ]
        for name in strategy
    ]
    half = (len(rows) + 1) // 2
    page.add(f"<div class='cols'>{table(header, rows[:half])}{table(header, rows[half:])}</div>")
    _costs_by_kind(page, returns)
    series = returns[[c for c in ("portfolio", "benchmark") if c in returns.columns]]
    series = series.rename(columns={"portfolio": "strategy"})
    page.heading(3, "Equity and drawdown")
    page.figure(
        "equity", figures.equity_drawdown_figure(series, "Growth of 1 and drawdown"), "equity"
    )
    page.heading(3, "Monthly returns (%)")
    months = figures.monthly_table(series["strategy"]) * 100
    months.columns = [*calendar.month_abbr[1:], "Year"]
    page.add(heatmap_table(months, [calendar.month_abbr[1:], ["Year"]]))
    page.heading(3, "Rolling 12-month return, volatility and Sharpe")
    page.figure("rolling", figures.rolling_figure(series), "rolling statistics")
    page.heading(3, "Holdings and turnover")
    if weights.empty:
        page.notes(["weights.csv has no rebalance dates: the strategy never traded."])
    else:
        holdings = figures.holdings_figure(weights, returns["turnover"])
        page.figure("holdings", holdings, "holdings")
    if files.holdings is not None and not files.holdings.empty:
        page.heading(3, "Exposure: gross, net and cash after drift")
        page.figure("exposure", relative_figures.exposure_figure(files.holdings), "exposure")
    if "benchmark" in series.columns:
        page.heading(3, "Against the benchmark")
        relative = relative_figures.relative_figure(series["strategy"], series["benchmark"])
        page.figure("relative", relative, "relative to the benchmark")
    page.heading(3, "Distribution of returns")
    page.figure("distribution", figures.distribution_figure(series), "return distributions")
    summary = metrics.get("monte_carlo")
    if files.monte_carlo is not None and isinstance(summary, dict):
        monte_carlo_section(page, summary, files.monte_carlo, series["strategy"])
    page.heading(3, "Worst drawdowns")
    worst = figures.worst_drawdowns(series["strategy"])
    page.add(
        table(
            ["Peak", "Trough", "Recovery", "Depth", "Trading days below peak"],
            [
                [
                    r["start"],
                    r["trough"],
                    r["recovery"],
                    f"{r['depth']:.2%}",
                    str(r["length_days"]),
                ]
                for r in worst.to_dict("records")
            ],
        )
    )
    page.add("</section>")


def _costs_by_kind(page: Page, returns: pd.DataFrame) -> None:
    """What the costs were, by kind, when the run folder records them and any were paid."""
    kinds = [c for c in returns.columns if str(c).startswith(COST_PREFIX)]
    paid = returns[kinds].sum() if kinds else pd.Series(dtype=float)
    total = float(paid.sum())
    if total <= 0:
        return
    page.heading(3, "Costs by kind")
    rows = [
        [str(kind).removeprefix(COST_PREFIX), f"{value:.2%}", f"{value / total:.0%}"]
        for kind, value in paid.items()
        if value != 0
    ]
    rows.append(["all", f"{total:.2%}", "100%"])
    page.add(table(["Kind", "Sum of daily costs (% of value)", "Share"], rows))


def _last_study(files: RunFolder) -> tuple[optuna.Study | None, str]:
    """The last study of an optimisation's run folder (None for a backtest), or why not."""
    if files.trials is None:
        return None, ""
    names = [str(n) for n in files.run.get("study_names", [])]
    return rebuild_study(files, names[-1]) if names else (None, "run.json names no study")


def _optimization_section(
    page: Page,
    files: RunFolder,
    trials: pd.DataFrame,
    last: tuple[optuna.Study | None, str, Importances | None],
) -> None:
    run, best = files.run, files.best or {}
    objectives = [str(o) for o in run.get("objectives", [])]
    directions = [str(d) for d in run.get("directions", [])]
    done = trials[trials["state"] == "COMPLETE"]
    page.add("<section>")
    page.heading(2, "Optimisation")
    page.heading(3, "Run summary")
    page.add(_run_summary(run, trials, best, objectives, directions))
    page.notes([f"event: {event}" for event in run.get("events", [])])
    if done.empty or not objectives:
        page.notes(["No trial completed: there is no history, importance or top trial to show."])
        page.add("</section>")
        return
    page.heading(3, "Optimisation history")
    page.figure(
        "history",
        figures.optimization_history_figure(trials, objectives, directions),
        "optimisation history",
    )
    study, note, importances = last
    if study is None:
        page.notes([f"{note}: parameter importance and the parameter plots are left out."])
    else:
        walk_forward = run.get("mode") == "walk_forward"
        optuna_figures.study_figures(
            page, study, importances, objectives, walk_forward=walk_forward
        )
    if files.windows is not None and files.oos_returns is not None:
        _walk_forward(page, files.windows, files.oos_returns, files.returns, objectives)
    several = done["study"].nunique() > 1
    page.heading(3, f"Top trials{' of each window (in-sample train scores)' if several else ''}")
    page.add(_top_trials(done, objectives, directions))
    page.add("</section>")


def _run_summary(
    run: Mapping[str, Any],
    trials: pd.DataFrame,
    best: Mapping[str, Any],
    objectives: Sequence[str],
    directions: Sequence[str],
) -> str:
    states = run.get("trial_states") or trials["state"].value_counts().to_dict()
    workers = trials["worker"].dropna().astype(str).value_counts() if "worker" in trials else None
    names = [str(n) for n in run.get("study_names", [])]
    elapsed_s = float(run.get("elapsed_s") or 0.0)
    best_values = best.get("objectives") or {}
    rows = [
        ["Mode", str(run.get("mode"))],
        [
            "Objectives",
            ", ".join(f"{o} ({d})" for o, d in zip(objectives, directions, strict=False)),
        ],
        [
            "Best values",
            ", ".join(f"{k} {format_metric(k, number(v))}" for k, v in best_values.items()),
        ],
        ["Trials", ", ".join(f"{n} {str(s).lower()}" for s, n in states.items()) or "none"],
        [
            "Workers",
            f"n_jobs {run.get('n_jobs', '?')}"
            + (
                ""
                if workers is None
                else "; " + ", ".join(f"{w} ({n} trials)" for w, n in workers.items())
            ),
        ],
        ["Elapsed", f"{elapsed_s:.1f} s"],
        [
            "Best parameters",
            ", ".join(f"{k} = {v}" for k, v in (best.get("params") or {}).items()),
        ],
        [
            "Studies",
            ", ".join(names) if len(names) < 4 else f"{len(names)}: {names[0]} … {names[-1]}",
        ],
        ["Storage", str(run.get("storage_url", ""))],
    ]
    return table(["", ""], rows, cls="summary")


def _walk_forward(
    page: Page,
    windows: pd.DataFrame,
    oos: pd.Series,
    returns: pd.DataFrame,
    objectives: Sequence[str],
) -> None:
    page.heading(3, "Walk-forward: out of sample against in sample")
    page.figure(
        "walk_forward",
        figures.walk_forward_figure(oos, returns["portfolio"]),
        "walk-forward equity",
    )
    scored = [
        o for o in objectives if f"in_sample_{o}" in windows and f"out_of_sample_{o}" in windows
    ]
    if scored:
        page.heading(3, "Scores per window")
        for i, objective in enumerate(scored):
            page.figure(
                f"window_scores_{i}",
                figures.window_scores_figure(windows, objective),
                f"{objective} per window",
            )
    page.heading(3, "Parameters chosen per window")
    params = [c for c in windows.columns if c.startswith("param_")]
    header = ["Train", "Test", *(c.removeprefix("param_") for c in params)]
    header += [f"{o} {side}" for o in scored for side in ("in sample", "out of sample")]
    rows = [
        [
            f"{r['train_start']} to {r['train_end']}",
            f"{r['test_start']} to {r['test_end']}",
            *(cell(r[c]) for c in params),
            *(
                format_metric(o, number(r[f"{side}_{o}"]))
                for o in scored
                for side in ("in_sample", "out_of_sample")
            ),
        ]
        for r in windows.to_dict("records")
    ]
    page.add(table(header, rows))


def _top_trials(done: pd.DataFrame, objectives: Sequence[str], directions: Sequence[str]) -> str:
    """The best trials, ranked within their study: a walk-forward window's train scores are
    never ranked against another window's, which scored other days."""
    ordered = done.sort_values("value_0", ascending=directions[0] != "maximize", kind="stable")
    several = done["study"].nunique() > 1
    if several:
        ranked = ordered.groupby("study", sort=False).head(TOP_PER_WINDOW)
        order = {name: i for i, name in enumerate(dict.fromkeys(done["study"]))}
        ranked = ranked.sort_values("study", key=lambda s: s.map(order), kind="stable")
    else:
        ranked = ordered.head(TOP_TRIALS)
    params = [c for c in done.columns if c.startswith("param_")]
    header = [
        *(["Study"] if several else []),
        "Trial",
        *(c.removeprefix("param_") for c in params),
    ]
    header += [*objectives, "Seconds", "Worker"]
    rows = [
        [
            *([str(r["study"])] if several else []),
            str(r["number"]),
            *(cell(r[c]) for c in params),
            *(format_metric(o, number(r.get(f"value_{i}"))) for i, o in enumerate(objectives)),
            cell(r.get("duration_s")),
            cell(r.get("worker")),
        ]
        for r in ranked.to_dict("records")
    ]
    return table(header, rows)


def _version() -> str:
    try:
        return importlib.metadata.version("portfolio-backtester")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
