"""Plain-text tables for the console."""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["PERCENT_METRICS", "UNITS_LEGEND", "format_metric", "metrics_table"]

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
        "Win Rate",
        "Average Win",
        "Average Loss",
        "Exposure",
        "Average Gross Exposure",
    }
)


def format_metric(name: str, value: float) -> str:
    """Percentages for returns and rates, days for durations, two decimals for ratios."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if name in PERCENT_METRICS:
        return f"{value * 100:.2f}%"
    if name == "Max Drawdown Duration":
        return f"{value:.0f} trading days"
    if name == "Average Holding Days":
        return f"{value:.1f} trading days"
    if name in ("Trades", "Stop Exits"):
        return f"{value:.0f}"
    return f"{value:.2f}"


UNITS_LEGEND = (
    "units: durations in trading days (rows of the data); volatility, CAGR and turnover\n"
    "annualised over 252 trading days; turnover = (buys + sells) / portfolio value per year,\n"
    "so 200% is the whole portfolio sold and bought again once a year; a trade is one\n"
    "position in one asset from open to close or flip; exposure = share of days invested"
)
"""Printed under every metrics table, so that no figure's unit is left to a docstring."""


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
