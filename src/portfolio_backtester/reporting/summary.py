"""What ``optimize`` prints: the honest result first, how much of it is luck, then in-sample.

Every figure says where it comes from: out-of-sample (parameters chosen before the days they
are scored on), holdout (days no trial ever saw), or in-sample (the days the parameters were
chosen on), so that nobody mistakes a tuned score for an estimate of what comes next.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..optimization.results import OptimizationResult, PeriodResult
from .tables import UNITS_LEGEND, metrics_table

__all__ = ["optimization_summary", "period_table"]

HEADLINE = (
    "CAGR",
    "Sharpe",
    "Max Drawdown",
    "Annual Volatility",
    "Calmar",
    "Turnover",
    "Total Return",
)


def optimization_summary(
    result: OptimizationResult,
    *,
    in_sample_metrics: Mapping[str, float],
    in_sample_benchmark: Mapping[str, float] | None,
    benchmark_name: str,
) -> list[str]:
    """The lines ``optimize`` prints after its progress, in the order a researcher needs."""
    lines: list[str] = []
    if result.out_of_sample is not None:
        oos = result.out_of_sample
        lines += [
            f"out-of-sample, the honest estimate ({len(result.windows)} walk-forward windows, "
            f"{oos.start:%Y-%m-%d} to {oos.end:%Y-%m-%d}): one continuous portfolio, each "
            "window traded with parameters chosen before it",
            period_table(oos, benchmark_name),
            "",
        ]
    else:
        lines += [
            "cv mode: every trial is scored on the test periods of all windows, so the best "
            "parameters have seen all of them: every score below is in-sample."
            + (
                ""
                if result.holdout is not None
                else " Add optimize.holdout for an honest estimate."
            ),
            "",
        ]
    if result.holdout is not None:
        ho = result.holdout
        lines += [
            f"holdout ({ho.start:%Y-%m-%d} to {ho.end:%Y-%m-%d}, {len(ho.returns)} days no trial "
            f"saw), parameters {format_params(ho.params)}:",
            period_table(ho, benchmark_name),
            "",
        ]
    lines += overfitting_lines(result.overfitting)
    values = ", ".join(
        f"{n} {v:.4f}" for n, v in zip(result.objectives, result.best_values, strict=True)
    )
    where = "the last window's train period" if result.windows else "the cv test periods"
    lines.append(
        f"parameters to trade next: {format_params(result.best_params)} "
        f"(in-sample {values} on {where})"
    )
    if result.windows:
        lines.append("\nwalk-forward windows (parameters chosen on train, scored on test):")
        for w in result.windows:
            lines.append(
                f"  test {w.window.test_start:%Y-%m-%d}..{w.window.test_end:%Y-%m-%d}  "
                f"{format_params(w.params)}  in-sample {w.in_sample[0]:.3f}  "
                f"out-of-sample {w.out_of_sample[0]:.3f}"
            )
    lines += [
        "",
        "in-sample: the final parameters backtested over the whole period, including the days "
        "they were chosen on (not an estimate of future performance):",
        metrics_table({"In-sample": in_sample_metrics, benchmark_name: in_sample_benchmark}),
        UNITS_LEGEND,
    ]
    return lines


def period_table(period: PeriodResult, benchmark_name: str) -> str:
    """The headline metrics of a period beside the benchmark and equal weight."""
    label = "Out-of-sample" if period.label == "out-of-sample" else "Holdout"
    columns: dict[str, Mapping[str, float] | None] = {
        label: _headline(period.metrics),
        benchmark_name or "Benchmark": (
            None if period.benchmark_metrics is None else _headline(period.benchmark_metrics)
        ),
        "Equal weight": _headline(period.equal_weight_metrics),
    }
    return metrics_table(columns)


def overfitting_lines(overfitting: Mapping[str, Any]) -> list[str]:
    """One line per statistic, saying what it means; nothing when none were computed."""
    sentences = overfitting.get("sentences")
    if not sentences:
        return []
    return ["is it luck?", *(f"  {s}" for s in sentences), ""]


def format_params(params: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _headline(values: Mapping[str, float]) -> dict[str, float]:
    return {name: values.get(name, math.nan) for name in HEADLINE}
