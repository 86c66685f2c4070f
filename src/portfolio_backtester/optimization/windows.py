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
) -> tuple[WalkForwardWindow, ...]:
    """Consecutive train/test splits; every test period starts the day after its train period.

    A rolling window keeps ``train_days`` of history; an expanding one always starts at the
    calendar's first day. The last window ends on or before the calendar's last day.
    """
    step = step_days or test_days
    if train_days < 1 or test_days < 1 or step < 1:
        raise ScenarioError("walk-forward train_days, test_days and step_days must be positive")
    n = len(calendar)
    if n < train_days + test_days:
        span = f" ({calendar[0]:%Y-%m-%d} to {calendar[-1]:%Y-%m-%d})" if n else ""
        raise ScenarioError(
            f"optimize.windows: train_days + test_days = {train_days + test_days} trading "
            f"days do not fit in the {n} trading days of the data{span}; "
            "shorten the windows or widen the period"
        )
    windows = []
    train_start = 0
    train_end = train_days - 1
    while train_end + test_days < n:
        test_end = train_end + test_days
        windows.append(
            WalkForwardWindow(
                train_start=calendar[0 if kind == "expanding" else train_start],
                train_end=calendar[train_end],
                test_start=calendar[train_end + 1],
                test_end=calendar[test_end],
            )
        )
        train_start += step
        train_end += step
    return tuple(windows)
