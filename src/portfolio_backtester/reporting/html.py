"""``report.html``: one self-contained page built only from a run folder's files.

Building from the files (not from objects in memory) means a finished run's report can be
rebuilt at any time (``portfolio-backtester report RUN_FOLDER``) by the same code path.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..errors import DataError
from . import figures
from .tables import format_metric

__all__ = ["build_report"]

logger = logging.getLogger(__name__)

STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;
background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{margin:0 0 4px;font-size:26px}h2{margin:36px 0 8px;font-size:20px;border-bottom:2px solid
#d8dce3;padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}
.sub{color:#5b6475;margin-bottom:16px}
section{background:#fff;border-radius:8px;padding:8px 20px 20px;margin:18px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{padding:4px 10px;border-bottom:1px solid #e4e7ec;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f2f5}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:8px}
.card{background:#f0f4fa;border-radius:6px;padding:8px 12px}
.card b{display:block;font-size:20px}.card span{color:#5b6475;font-size:12px}
.note{color:#8a5a00}
"""

HEADLINE = ("CAGR", "Sharpe", "Max Drawdown", "Annual Volatility", "Calmar", "Turnover")


def build_report(run_dir: Path) -> Path:
    """Write ``report.html`` and the figures as PNG files in ``run_dir/figures``."""
    started = time.perf_counter()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run folder")
    run = _read_json(run_dir, "run.json")
    metrics = _read_json(run_dir, "metrics.json")
    returns = _read_csv(run_dir, "returns.csv")
    weights = _read_csv(run_dir, "weights.csv")
    page = _Page(run_dir / "figures")
    scenario = run.get("scenario", {})
    title = f"{scenario.get('name', run_dir.name)}: {metrics.get('strategy', '')}"
    page.add(f"<h1>{_e(title)}</h1>")
    params = ", ".join(f"{k}={v}" for k, v in (metrics.get("params") or {}).items())
    page.add(
        f"<div class='sub'>{_e(metrics.get('start', ''))} to {_e(metrics.get('end', ''))}"
        f" · {len(returns)} trading days · {_e(params)}</div>"
    )
    _backtest_section(page, metrics, returns, weights)
    if run.get("kind") == "optimize":
        _optimization_section(page, run_dir, run, returns)
    path = run_dir / "report.html"
    path.write_text(page.render(title), encoding="utf-8")
    logger.info("report written to %s in %.2f s", path, time.perf_counter() - started)
    return path


class _Page:
    """Collects HTML pieces; figures are saved as PNG and embedded as data URIs."""

    def __init__(self, figure_dir: Path) -> None:
        self.parts: list[str] = []
        self.figure_dir = figure_dir
        figure_dir.mkdir(parents=True, exist_ok=True)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def figure(self, name: str, figure: Figure, alt: str) -> None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        data = buffer.getvalue()
        (self.figure_dir / f"{name}.png").write_bytes(data)
        encoded = base64.b64encode(data).decode("ascii")
        self.add(f"<img alt='{_e(alt)}' src='data:image/png;base64,{encoded}'>")

    def render(self, title: str) -> str:
        body = "\n".join(self.parts)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n"
        )


def _backtest_section(
    page: _Page, metrics: Mapping[str, Any], returns: pd.DataFrame, weights: pd.DataFrame
) -> None:
    strategy = metrics.get("strategy_metrics") or {}
    benchmark = metrics.get("benchmark_metrics") or {}
    page.add("<section><h2>Backtest</h2><div class='grid'>")
    for name in HEADLINE:
        if name in strategy:
            page.add(
                f"<div class='card'><b>{_e(format_metric(name, _num(strategy[name])))}</b>"
                f"<span>{_e(name)}</span></div>"
            )
    page.add("</div><h3>Metrics</h3>")
    columns = {"Strategy": strategy}
    if benchmark:
        columns["Benchmark"] = benchmark
    rows = [
        [name, *(format_metric(name, _num(values.get(name))) for values in columns.values())]
        for name in strategy
    ]
    page.add(_table(["Metric", *columns], rows))
    series = returns[[c for c in ("portfolio", "benchmark") if c in returns.columns]]
    series = series.rename(columns={"portfolio": "strategy"})
    page.add("<h3>Equity and drawdown</h3>")
    page.figure("equity", figures.equity_drawdown_figure(series, "Growth of 1"), "equity curve")
    page.add("<h3>Monthly returns</h3>")
    page.figure(
        "monthly_returns",
        figures.monthly_heatmap_figure(series["strategy"]),
        "monthly returns heatmap",
    )
    page.add("<h3>Rolling 12-month return, volatility and Sharpe</h3>")
    page.figure("rolling", figures.rolling_figure(series), "rolling statistics")
    page.add("<h3>Holdings and turnover</h3>")
    turnover = returns["turnover"] if "turnover" in returns.columns else series["strategy"] * 0
    page.figure("holdings", figures.holdings_figure(weights, turnover), "holdings over time")
    page.add("<h3>Distribution of returns</h3>")
    page.figure("distribution", figures.distribution_figure(series), "return distributions")
    page.add("<h3>Worst drawdowns</h3>")
    worst = figures.worst_drawdowns(series["strategy"])
    page.add(
        _table(
            ["Start", "Trough", "Recovery", "Depth", "Length (days)"],
            [
                [
                    r["start"],
                    r["trough"],
                    r["recovery"],
                    f"{r['depth'] * 100:.2f}%",
                    str(r["length_days"]),
                ]
                for r in worst.to_dict("records")
            ],
        )
    )
    page.add("</section>")


def _optimization_section(
    page: _Page, run_dir: Path, run: Mapping[str, Any], returns: pd.DataFrame
) -> None:
    trials = _read_csv(run_dir, "trials.csv", index=False)
    objectives = list(run.get("objectives", []))
    directions = list(run.get("directions", []))
    page.add("<section><h2>Optimisation</h2>")
    states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(run.get("trial_states", {}).items()))
    page.add(
        f"<p>{sum(run.get('trial_states', {}).values())} trials ({_e(states)}) with "
        f"{run.get('n_jobs', 1)} worker(s) in {run.get('elapsed_s', 0):.1f} s · mode "
        f"{_e(str(run.get('mode')))} · objectives {_e(', '.join(objectives))}</p>"
    )
    for event in run.get("events", []):
        page.add(f"<p class='note'>{_e(event)}</p>")
    if objectives:
        page.add("<h3>Optimisation history</h3>")
        page.figure(
            "history",
            figures.optimization_history_figure(trials, directions[0] == "maximize"),
            "optimisation history",
        )
    study = _load_study(run)
    if study is not None:
        _optuna_figures(page, study, multi=len(objectives) > 1)
    if run.get("mode") == "walk_forward":
        _walk_forward(page, run_dir, returns, objectives[0] if objectives else "")
    page.add("<h3>Top trials</h3>")
    done = trials[trials["state"] == "COMPLETE"]
    if not done.empty and objectives:
        done = done.sort_values("value_0", ascending=directions[0] != "maximize").head(10)
        columns = [c for c in done.columns if c.startswith(("param_", "value_"))]
        page.add(
            _table(
                ["Study", "Trial", *columns],
                [
                    [str(r["study"]), str(r["number"]), *(_cell(r[c]) for c in columns)]
                    for _, r in done.iterrows()
                ],
            )
        )
    page.add("</section>")


def _optuna_figures(page: _Page, study: Any, *, multi: bool) -> None:
    """Parameter importance, the two most important parameters, and the Pareto front."""
    import optuna
    from matplotlib import pyplot

    complete = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    names = sorted({name for t in complete for name in t.params})
    if len(complete) < 2 or not names:
        return
    target: Callable[[Any], float] | None = (lambda t: t.values[0]) if multi else None
    with warnings.catch_warnings():
        # Optuna's matplotlib plots are marked experimental, and its importance evaluator
        # warns whenever a target is given (here: the first objective of several).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator")
        ranked = names
        if len(names) > 1:
            try:
                importances = optuna.importance.get_param_importances(study, target=target)
                ranked = list(importances)
                axes: Any = optuna.visualization.matplotlib.plot_param_importances(
                    study, target=target, target_name="objective"
                )
                page.add("<h3>Parameter importance</h3>")
                page.figure("importance", _owning_figure(axes), "parameter importance")
                pyplot.close("all")
            except (RuntimeError, ValueError) as exc:
                page.add(f"<p class='note'>Parameter importance unavailable: {_e(str(exc))}</p>")
        chosen = ranked[:2]
        axes = None
        if len(chosen) == 2:
            axes = optuna.visualization.matplotlib.plot_contour(
                study, params=chosen, target=target, target_name="objective"
            )
            title = f"Contour of {chosen[0]} and {chosen[1]}"
        else:
            axes = optuna.visualization.matplotlib.plot_slice(
                study, params=chosen, target=target, target_name="objective"
            )
            title = f"Slice of {chosen[0]}"
        page.add(f"<h3>{_e(title)}</h3>")
        page.figure("contour", _owning_figure(axes), title)
        pyplot.close("all")
        if multi:
            axes = optuna.visualization.matplotlib.plot_pareto_front(study)
            page.add("<h3>Pareto front</h3>")
            page.figure("pareto_front", _owning_figure(axes), "Pareto front")
            pyplot.close("all")


def _owning_figure(axes: Any) -> Figure:
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    figure: Figure = first.figure
    figure.set_size_inches(10, 5)
    return figure


def _walk_forward(page: _Page, run_dir: Path, returns: pd.DataFrame, objective: str) -> None:
    windows = _read_csv(run_dir, "windows.csv", index=False)
    oos = _read_csv(run_dir, "oos_returns.csv")["portfolio"]
    page.add("<h3>Walk-forward: out of sample against in sample</h3>")
    page.figure(
        "walk_forward",
        figures.walk_forward_figure(oos, returns["portfolio"]),
        "walk-forward equity",
    )
    if objective and f"in_sample_{objective}" in windows.columns:
        page.add("<h3>Scores per window</h3>")
        page.figure(
            "window_scores", figures.window_scores_figure(windows, objective), "window scores"
        )
    page.add("<h3>Parameters chosen per window</h3>")
    columns = list(windows.columns)
    page.add(_table(columns, [[_cell(r[c]) for c in columns] for _, r in windows.iterrows()]))


def _load_study(run: Mapping[str, Any]) -> Any:
    """The last study of the run (the one a walk-forward would trade), or None if unreachable."""
    import optuna

    from ..errors import OptimizationError
    from ..optimization.storage import open_storage

    names = run.get("study_names") or []
    if not names or "storage_url" not in run:
        return None
    try:
        storage = open_storage(str(run["storage_url"]))
        return optuna.load_study(study_name=str(names[-1]), storage=storage)
    except (OptimizationError, KeyError) as exc:
        logger.warning("study unavailable for the report: %s", exc)
        return None


def _read_json(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{run_dir}: missing {name}; is this the output folder of a backtest or optimize run?"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{run_dir}: cannot read {name}: {exc}") from None
    if not isinstance(value, dict):
        raise DataError(f"{run_dir}: {name} is not a JSON object")
    return value


def _read_csv(run_dir: Path, name: str, *, index: bool = True) -> pd.DataFrame:
    path = run_dir / name
    try:
        if index:
            return pd.read_csv(path, index_col=0, parse_dates=True)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(
            f"{run_dir}: missing {name}; is this the output folder of a backtest or optimize run?"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{run_dir}: cannot read {name}: {exc}") from None


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
