"""The top of an optimisation report: the honest result, whether it is luck, its robustness.

Out-of-sample (walk-forward) and holdout results come first; then "Is it overfit?" with each
statistic in one plain sentence and the CSCV logit chart; then how the score behaves around
the chosen parameters. The in-sample backtest follows, labelled as such, in ``html``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from . import figures, robustness_figures
from .page import Page, escape, number, table
from .run_folder import RunFolder
from .tables import format_metric

__all__ = ["honest_section"]

CARDS = ("CAGR", "Sharpe", "Max Drawdown", "Annual Volatility", "Calmar", "Turnover")


def honest_section(page: Page, files: RunFolder, objectives: Sequence[str]) -> None:
    """Out-of-sample and holdout results, the overfitting statistics, parameter stability."""
    metrics = files.metrics
    page.add("<section>")
    if files.out_of_sample is not None and "out_of_sample" in metrics:
        summary = metrics["out_of_sample"]
        page.heading(2, "Out of sample: the honest estimate")
        page.add(
            "<p class='sub'>One continuous portfolio over every walk-forward test window "
            f"({escape(summary.get('start'))} to {escape(summary.get('end'))}), each window "
            "traded with parameters chosen on the data before it; holdings carry across "
            "window boundaries.</p>"
        )
        _period(page, "out_of_sample", summary, files.out_of_sample)
    elif files.run.get("mode") == "cv":
        page.heading(2, "No out-of-sample result in cv mode")
        page.notes(
            [
                "In cv mode every trial is scored on the test periods of all windows, so the "
                "chosen parameters have seen all of them: every score in this report is "
                "in-sample. Give optimize.holdout for an honest estimate."
            ]
        )
    if files.holdout is not None and "holdout" in metrics:
        summary = metrics["holdout"]
        page.heading(2, "Holdout")
        params = ", ".join(f"{k} = {v}" for k, v in (summary.get("params") or {}).items())
        page.add(
            f"<p class='sub'>{escape(summary.get('start'))} to {escape(summary.get('end'))}: "
            f"data no trial ever saw, traded with the final parameters ({escape(params)}).</p>"
        )
        _period(page, "holdout", summary, files.holdout)
    _overfitting(page, metrics.get("overfitting") or {})
    _stability(page, files, objectives)
    page.add("</section>")


def _period(page: Page, name: str, summary: Mapping[str, Any], daily: pd.DataFrame) -> None:
    strategy = summary.get("strategy_metrics") or {}
    benchmark = summary.get("benchmark_metrics") or {}
    equal = summary.get("equal_weight_metrics") or {}
    page.add("<div class='cards'>")
    for metric in (m for m in CARDS if m in strategy):
        versus = [f"equal weight {format_metric(metric, number(equal.get(metric)))}"]
        if benchmark:
            versus.insert(0, f"benchmark {format_metric(metric, number(benchmark.get(metric)))}")
        page.add(
            f"<div class='card'><span>{escape(metric)}</span>"
            f"<b>{escape(format_metric(metric, number(strategy[metric])))}</b>"
            f"<i>{escape(' · '.join(versus))}</i></div>"
        )
    page.add("</div>")
    series = daily[[c for c in ("portfolio", "benchmark", "equal_weight") if c in daily]]
    series = series.rename(columns={"portfolio": "strategy", "equal_weight": "equal weight"})
    page.figure(
        f"{name}_equity",
        figures.equity_drawdown_figure(series, "Growth of 1 and drawdown"),
        f"{name} equity",
    )


def _overfitting(page: Page, overfitting: Mapping[str, Any]) -> None:
    page.heading(2, "Is it overfit?")
    rows = overfitting.get("rows") or []
    if not rows:
        page.notes(
            [str(overfitting.get("skipped") or "The overfitting statistics were not computed.")]
        )
        return
    page.add(
        "<p class='sub'>How much of the best result luck alone would give, over every "
        f"completed trial ({escape(overfitting.get('scope', ''))}).</p>"
    )
    page.add(
        table(
            ["Statistic", "Value", "What it means for this run"],
            [[str(r["statistic"]), str(r["value"]), str(r["meaning"])] for r in rows],
            cls="summary wide",
        )
    )
    histograms = list(overfitting.get("logit_histograms") or [])
    if len(histograms) > 1 and all(h["edges"] == histograms[0]["edges"] for h in histograms):
        pbos = sorted(float(h["pbo"]) for h in histograms)
        histograms = [
            {
                "label": f"{len(histograms)} windows pooled, median",
                "edges": histograms[0]["edges"],
                "counts": [sum(c) for c in zip(*(h["counts"] for h in histograms), strict=True)],
                "pbo": pbos[len(pbos) // 2],
            }
        ]
    if histograms:
        page.heading(3, "CSCV: out-of-sample rank of the in-sample best")
        page.figure("cscv_logits", robustness_figures.logit_figure(histograms), "CSCV logits")


def _stability(page: Page, files: RunFolder, objectives: Sequence[str]) -> None:
    trials, best = files.trials, files.best or {}
    if trials is None or not objectives:
        return
    done = trials[trials["state"] == "COMPLETE"]
    names = [str(n) for n in files.run.get("study_names", [])]
    if done.empty or not names:
        return
    last = done[done["study"].astype(str) == names[-1]]
    params = [c.removeprefix("param_") for c in last.columns if c.startswith("param_")]
    params = [p for p in params if last[f"param_{p}"].notna().all()]
    if len(last) < 3 or not params:
        return
    where = "the last window's study (its parameters trade next)" if len(names) > 1 else ""
    page.heading(2, "Around the chosen parameters")
    page.add(
        "<p class='sub'>Every trial's in-sample score against each parameter"
        f"{', in ' + escape(where) if where else ''}; the orange line is the median per "
        "value, the dashed red line the chosen value. A choice on a broad plateau holds up "
        "better than one on a lone spike.</p>"
    )
    chosen = best.get("params") or {}
    page.figure(
        "neighbourhood",
        robustness_figures.neighbourhood_figure(last, params, chosen, objectives[0]),
        "score around the chosen parameters",
    )
    numeric = [
        p for p in params if pd.to_numeric(last[f"param_{p}"], errors="coerce").notna().all()
    ]
    if len(numeric) >= 2:
        first, second = _most_varied(last, numeric)
        page.heading(3, f"Median score over {first} and {second}")
        page.figure(
            "pair_heatmap",
            robustness_figures.pair_heatmap_figure(last, first, second, objectives[0]),
            f"heatmap of {first} and {second}",
        )
    if files.windows is not None and len(files.windows) > 1:
        page.heading(3, "Chosen parameters over time")
        page.figure(
            "params_per_window",
            robustness_figures.params_per_window_figure(files.windows),
            "parameters per window",
        )


def _most_varied(trials: pd.DataFrame, params: Sequence[str]) -> tuple[str, str]:
    """The two parameters whose values move the median score most."""
    spread = {}
    for name in params:
        medians = trials.groupby(f"param_{name}")["value_0"].median()
        spread[name] = float(medians.max() - medians.min())
    ranked = sorted(params, key=lambda name: -spread[name])
    return ranked[0], ranked[1]
