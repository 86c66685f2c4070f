"""Plain-text tables for the console."""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["PERCENT_METRICS", "format_metric", "metrics_table"]

PERCENT_METRICS = frozenset(
    {
        "Total Return",
        "CAGR",
        "Annual Volatility",
        "Max Drawdown",
        "Average Drawdown",
        "Hit Rate",
        "Best Day",
        "Worst Day",
        "Best Month",
        "Worst Month",
        "VaR 95%",
        "CVaR 95%",
        "Alpha",
        "Tracking Error",
        "Turnover",
    }
)


def format_metric(name: str, value: float) -> str:
    """Percentages for returns and rates, days for durations, two decimals for ratios."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if name in PERCENT_METRICS:
        return f"{value * 100:.2f}%"
    if name == "Max Drawdown Duration":
        return f"{value:.0f} days"
    return f"{value:.2f}"


def metrics_table(columns: Mapping[str, Mapping[str, float] | None]) -> str:
    """Metrics as aligned rows, one column per series (strategy, benchmark, …)."""
    present = {title: values for title, values in columns.items() if values is not None}
    names: list[str] = []
    for values in present.values():
        names.extend(name for name in values if name not in names)
    header = ["Metric", *present]
    rows = [
        [name, *(format_metric(name, values.get(name, math.nan)) for values in present.values())]
        for name in names
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
