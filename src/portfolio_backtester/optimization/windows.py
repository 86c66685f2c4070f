"""Walk-forward windows on the trading calendar: train on the past, test on what follows."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from ..data import WalkForwardWindow
from ..errors import ScenarioError

__all__ = ["walk_forward_windows"]


def walk_forward_windows(
    calendar: pd.DatetimeIndex,
    *,
    train_days: int,
    test_days: int,
    step_days: int | None = None,
    kind: Literal["rolling", "expanding"] = "rolling",
    embargo_days: int = 0,
) -> tuple[WalkForwardWindow, ...]:
    """Consecutive train/test splits; every test period starts ``embargo_days + 1`` trading
    days after its train period ends.

    A rolling window keeps ``train_days`` of history; an expanding one always starts at the
    calendar's first day. The last window ends on or before the calendar's last day. The
    embargo leaves a gap no score sees, so that returns serially correlated with the end of
    the train period do not flatter the start of the test period.
    """
    step = step_days or test_days
    if train_days < 1 or test_days < 1 or step < 1:
        raise ScenarioError("walk-forward train_days, test_days and step_days must be positive")
    if embargo_days < 0:
        raise ScenarioError(f"optimize.windows.embargo_days must be 0 or more, got {embargo_days}")
    n = len(calendar)
    needed = train_days + embargo_days + test_days
    if n < needed:
        span = f" ({calendar[0]:%Y-%m-%d} to {calendar[-1]:%Y-%m-%d})" if n else ""
        parts = (
            "train_days + embargo_days + test_days" if embargo_days else "train_days + test_days"
        )
        raise ScenarioError(
            f"optimize.windows: {parts} = {needed} trading "
            f"days do not fit in the {n} trading days of the data{span}; "
            "shorten the windows or widen the period"
        )
    windows = []
    train_start = 0
    train_end = train_days - 1
    while train_end + embargo_days + test_days < n:
        test_end = train_end + embargo_days + test_days
        windows.append(
            WalkForwardWindow(
                train_start=calendar[0 if kind == "expanding" else train_start],
                train_end=calendar[train_end],
                test_start=calendar[train_end + embargo_days + 1],
                test_end=calendar[test_end],
            )
        )
        train_start += step
        train_end += step
    return tuple(windows)
