"""Scores from a file: a user's own signal (a model's forecasts, an analyst's ranking) traded."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..data.dates import parse_dates
from ..data.files import FileOptions, read_table
from ..errors import DataError, ScenarioError, did_you_mean
from ._base import BaseStrategy, Parameter
from ._parameters import rebalance_parameter, top_n_parameter
from ._text_parameter import text_parameter
from ._weights import (
    FloatArray,
    daily_prices,
    equal_weights,
    proportional_weights,
    rebalance_rows,
    select_top,
    weights_frame,
)

MODES = ("equal", "proportional")


class FileSignalStrategy(BaseStrategy):
    """The ``top_n`` assets by the scores in a CSV file, equally weighted (``equal``) or in
    proportion to their positive scores (``proportional``; a pick with a score <= 0 gets
    nothing).

    The file is wide: a date column first, then one column per ticker of the data (tickers
    it lacks are never held; an empty cell is no score). A rebalance on t uses the latest
    row dated on or before t, so a score dated t trades from t's rebalance and never
    earlier. A relative ``path`` is relative to the scenario file (to the working directory
    for a scenario given as a mapping).
    """

    name: ClassVar[str] = "file_signal"
    description: ClassVar[str] = (
        "The top_n assets by scores read from a CSV file (date column, one column per "
        "ticker), equal or score-proportional weights."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        text_parameter("path", "", "CSV file of scores: a date column, one column per ticker"),
        top_n_parameter(),
        Parameter(
            name="mode",
            kind="categorical",
            default="equal",
            choices=MODES,
            doc="equal weights on the picks, or weights proportional to their positive scores",
        ),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        scores = read_scores(p["path"], data)
        dates, rows = rebalance_rows(data, p["rebalance"])
        latest = scores.index.searchsorted(dates, side="right") - 1
        values = scores.to_numpy(dtype=np.float64)
        current = np.where((latest >= 0)[:, None], values[np.maximum(latest, 0)], np.nan)
        current[~np.isfinite(daily_prices(data)[rows])] = np.nan
        selected = select_top(current, p["top_n"], largest=True)
        if p["mode"] == "equal":
            weights: FloatArray = equal_weights(selected)
        else:
            weights = proportional_weights(np.where(selected, current, np.nan))
        return weights_frame(weights, dates, data)


def read_scores(path: str, data: OptimizationData) -> pd.DataFrame:
    """The file's scores, dates ascending, columns in the data's ticker order.

    A missing file is a ScenarioError (the parameter is wrong); an unreadable date, a
    column that is no ticker of the data or a score that is not a number is a DataError.
    """
    where = "strategy 'file_signal' parameter 'path'"
    if not path:
        raise ScenarioError(
            f"{where} is not set; give a CSV file of scores (a date column, one column per ticker)"
        )
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ScenarioError(
            f"{where}: no file {file} (a relative path is relative to the scenario file, or "
            f"to the working directory, {Path.cwd()}, for a scenario given from Python)"
        )
    stat = file.stat()
    tickers = tuple(str(t) for t in data.daily.columns)
    return _parsed_scores(str(file), stat.st_mtime_ns, stat.st_size, tickers)


@functools.lru_cache(maxsize=8)
def _parsed_scores(
    path: str, _mtime_ns: int, _size: int, tickers: tuple[str, ...]
) -> pd.DataFrame:
    """The parsed file, once per version of it (its modification time and size are part of
    the key): every trial of an optimisation asks for the same scores."""
    file = Path(path)
    table = read_table(file, "csv", FileOptions())
    dates = parse_dates(
        table.column(0),
        where=f"{file} (scores of strategy file_signal), column {table.names[0]!r}",
        first_row=table.first_row,
    )
    duplicated = dates.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise DataError(
            f"{file}: date {dates[row]:%Y-%m-%d} appears twice (again at row "
            f"{row + table.first_row}); keep one row of scores per date"
        )
    columns: dict[str, FloatArray] = {}
    for position, name in enumerate(table.names[1:], start=1):
        if name not in tickers:
            raise DataError(
                f"{file}: column {name!r} is not a ticker of the data"
                + did_you_mean(name, tickers)
                + f"; the tickers are: {', '.join(tickers)}"
            )
        columns[name] = _numbers(table.column(position), file, name, table.first_row)
    scores = pd.DataFrame(columns, index=dates).reindex(columns=list(tickers)).sort_index()
    values = scores.to_numpy(dtype=np.float64, copy=True)
    values.flags.writeable = False  # shared by every caller: a write fails, not spreads
    return pd.DataFrame(values, index=scores.index, columns=scores.columns, copy=False)


def _numbers(column: pd.Series, file: Path, name: str, first_row: int) -> FloatArray:
    """The column as floats; empty cells are NaN, any other text is refused."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{file}: column {name!r} row {row + first_row}: score {column.iloc[row]!r} is not "
            "a number"
        )
    return numbers.to_numpy(dtype=np.float64)
