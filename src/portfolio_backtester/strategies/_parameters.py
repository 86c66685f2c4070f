"""Parameter definitions several strategies share, so their names, ranges and docs agree."""

from __future__ import annotations

from ._base import REBALANCE_FREQUENCIES, Parameter


def rebalance_parameter(default: str) -> Parameter:
    """The ``rebalance`` choice: the last trading day of each period gets a row of weights."""
    return Parameter(
        name="rebalance",
        kind="categorical",
        default=default,
        choices=REBALANCE_FREQUENCIES,
        doc="how often new target weights are set (last trading day of each period)",
    )


def top_n_parameter() -> Parameter:
    """How many assets a ranking strategy holds."""
    return Parameter(
        name="top_n",
        kind="int",
        default=5,
        low=1,
        high=20,
        step=1,
        min=1,
        doc="number of assets held, equally weighted (fewer when fewer have a score)",
    )


def lookback_days_parameter() -> Parameter:
    """The window of daily returns a volatility estimate uses."""
    return Parameter(
        name="lookback_days",
        kind="int",
        default=63,
        low=20,
        high=252,
        step=1,
        min=2,
        doc="trading days of daily returns in the volatility estimate",
    )


def momentum_parameters() -> tuple[Parameter, ...]:
    """The lookback, skip, selection and rebalance parameters of the momentum strategies."""
    return (
        Parameter(
            name="lookback_months",
            kind="int",
            default=12,
            low=1,
            high=24,
            step=1,
            min=1,
            doc="months (of 21 trading days) over which the score is measured",
        ),
        Parameter(
            name="skip_months",
            kind="int",
            default=1,
            low=0,
            high=3,
            step=1,
            min=0,
            doc="most recent months (of 21 trading days) left out, against short-term reversal",
        ),
        top_n_parameter(),
        rebalance_parameter("monthly"),
    )
