"""Data and helpers for the shared-data tests: the embedded S&P 500 data, small frames, edits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.optimization.results import (
    OptimizationData,
    OptimizationDataContext,
    WalkForwardWindow,
)

WINDOWS = (
    WalkForwardWindow(
        train_start=pd.Timestamp("2000-01-03"),
        train_end=pd.Timestamp("2004-12-31"),
        test_start=pd.Timestamp("2005-01-03"),
        test_end=pd.Timestamp("2005-12-30"),
    ),
    WalkForwardWindow(
        train_start=pd.Timestamp("2001-01-02"),
        train_end=pd.Timestamp("2005-12-30"),
        test_start=pd.Timestamp("2006-01-03"),
        test_end=pd.Timestamp("2006-12-29"),
    ),
)


def sp500_data() -> OptimizationData:
    prices, index = load_sp500()
    return OptimizationData(
        daily=prices,
        monthly=prices.resample("ME").last(),
        returns=prices.pct_change(fill_method=None),
        benchmark=index,
        windows=WINDOWS,
    )


def data_with(
    frame: pd.DataFrame,
    *,
    returns: pd.DataFrame | None = None,
    benchmark: pd.DataFrame | None = None,
    open: pd.DataFrame | None = None,
) -> OptimizationData:
    """``frame`` as the daily prices, the other frames small unless given."""
    small = pd.DataFrame({"SPX": [1.0, 2.0]}, index=pd.date_range("2020-01-01", periods=2))
    return OptimizationData(
        daily=frame,
        monthly=small,
        returns=small if returns is None else returns,
        benchmark=small if benchmark is None else benchmark,
        open=open,
    )


def dated(periods: int, **kwargs: Any) -> pd.DatetimeIndex:
    return pd.date_range("2021-03-01", periods=periods, name="date", **kwargs)


def assert_same_data(actual: OptimizationData, expected: OptimizationData) -> None:
    assert actual.frames().keys() == expected.frames().keys()
    for name, frame in expected.frames().items():
        pd.testing.assert_frame_equal(
            actual.frames()[name],
            frame,
            check_exact=True,
            check_index_type=True,
            check_column_type=True,
            check_freq=True,
            obj=name,
        )
    assert actual.windows == expected.windows


def restat(context: OptimizationDataContext) -> OptimizationDataContext:
    """The context as if the parent had written the files as they are now: an attacker who
    also controls the recorded sizes and mtimes, the worst case for the metadata parser."""
    directory = Path(context.directory)
    stats = {}
    for name in context.file_stats:
        status = (directory / name).stat()
        stats[name] = (status.st_size, status.st_mtime_ns)
    return dataclasses.replace(context, file_stats=stats)


def set_in(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    """An edit of metadata.json that sets the value at ``path``."""

    def edit(metadata: dict[str, Any]) -> None:
        target = metadata
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def edit_metadata(
    context: OptimizationDataContext, edit: Callable[[dict[str, Any]], None]
) -> OptimizationDataContext:
    """Apply ``edit`` to the metadata file of ``context``; return the context restated."""
    path = Path(context.metadata_path)
    metadata = json.loads(path.read_text())
    edit(metadata)
    path.write_text(json.dumps(metadata))
    return restat(context)


class CreatesFileWhenUnpickled:
    """A pickle payload that would create ``target`` if anything unpickled it."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Callable[..., object], tuple[Path]]:
        return (Path.touch, (self.target,))
