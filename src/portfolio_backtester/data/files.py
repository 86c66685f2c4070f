"""Reading a price file into its header names and columns, exactly as written.

CSV headers are read by the ``csv`` module, not by pandas, which would rename a second
``AAPL`` to ``AAPL.1`` and trade both, and which takes the dates for an index when the rows
have one more field than the header. Parquet files written from a frame with a
DatetimeIndex keep that index in their metadata: it comes back here as a column.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no stubs

from ..errors import DataError
from .csv_dialect import dialect_hint

__all__ = ["FileOptions", "RawTable", "read_table"]

_log = logging.getLogger(__name__)

# Columns read as text, so that pandas does not turn tickers such as 1301 into numbers.
TEXT_COLUMNS = frozenset(
    {"date", "datetime", "timestamp", "time", "day", "ticker", "symbol", "field"}
)


@dataclass(frozen=True, slots=True)
class FileOptions:
    """How to read a file: the data section's ``layout``, ``sep``, ``decimal``,
    ``date_format`` and ``ticker``."""

    layout: str = "auto"
    sep: str | None = None
    decimal: str | None = None
    date_format: str | None = None
    ticker: str | None = None


@dataclass(frozen=True, slots=True)
class RawTable:
    """A file's header names and its columns (labelled 0..n-1), before any interpretation."""

    path: Path
    names: tuple[str, ...]
    frame: pd.DataFrame
    first_row: int
    hint: Callable[[], str]
    """What the file looks like and the option that reads it ('' when nothing would help)."""

    def column(self, position: int) -> pd.Series:
        return self.frame[position]


def read_table(path: Path, kind: str, options: FileOptions) -> RawTable:
    """Read a CSV or Parquet file as written; refuse duplicate and blank column names."""
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    table = _read_parquet(path) if kind == "parquet" else _read_csv(path, options)
    return _checked_names(table)


def _read_csv(path: Path, options: FileOptions) -> RawTable:
    sep, decimal = options.sep or ",", options.decimal or "."

    def hint() -> str:
        return dialect_hint(path, options.sep, options.decimal)

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, delimiter=sep), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: is not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read as csv: {exc}") from None
    if not header:
        empty = "the file is empty" if header is None else "the first line, the header, is empty"
        raise DataError(f"{path}: {empty}; expected a date column and one column per ticker")
    names = tuple(name.strip() for name in header)
    if len(names) < 2:
        raise DataError(
            f"{path}: read with the separator {sep!r} the header is one column, "
            f"{names[0][:60]!r}; expected a date column and at least one price column" + hint()
        )
    text = {i: str for i, name in enumerate(names) if name.lower() in TEXT_COLUMNS}
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            decimal=decimal,
            header=None,
            skiprows=1,
            dtype=text,
            encoding="utf-8-sig",
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: has a header but no rows of prices") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        message = _one_line(exc).replace("Error tokenizing data. C error: ", "")
        raise DataError(f"{path}: cannot read as csv: {message}" + hint()) from None
    extra = frame.shape[1] - len(names)
    if extra > 0:
        filled = frame.iloc[:, len(names) :].notna().any(axis=1).to_numpy()
        if filled.any():
            row = int(filled.argmax())
            raise DataError(
                f"{path}: row {row + 2} has more fields than the header, which has "
                f"{len(names)} ({', '.join(names)})"
                + (
                    hint()
                    or "; a separator inside a value (such as an unquoted decimal comma) "
                    "splits it in two"
                )
            )
        names = names + ("",) * extra
    elif extra < 0:
        frame = frame.reindex(columns=range(len(names)))
    return RawTable(path, names, frame, first_row=2, hint=hint)


def _read_parquet(path: Path) -> RawTable:
    try:
        schema = pq.read_schema(path)  # first: pandas cannot read two columns of one name
    except Exception as exc:  # noqa: BLE001  # pyarrow raises its own types on corrupt files
        raise DataError(f"{path}: cannot read as parquet: {_one_line(exc)}") from None
    _refuse_duplicates(path, [str(name) for name in schema.names])
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as parquet: {_one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001  # pyarrow raises its own types on corrupt files
        raise DataError(f"{path}: cannot read as parquet: {_one_line(exc)}") from None
    if isinstance(frame.columns, pd.MultiIndex):
        raise DataError(
            f"{path}: the columns have {frame.columns.nlevels} header levels, such as "
            f"{frame.columns[0]!r}; write one level: tickers (wide), or date, ticker and "
            "price columns (long)"
        )
    if not isinstance(frame.index, pd.RangeIndex):
        # The frame's index, from the file's pandas metadata: the dates of a frame saved
        # with df.to_parquet(), or (date, ticker) of a long one.
        levels = [
            name if name is not None else ("date" if frame.index.nlevels == 1 else f"level_{i}")
            for i, name in enumerate(frame.index.names)
        ]
        clash = [name for name in levels if name in frame.columns]
        if clash:
            raise DataError(
                f"{path}: {clash[0]!r} is both the index and a column; keep one of them"
            )
        frame.index = frame.index.set_names(levels)
        frame = frame.reset_index()
    names = tuple(str(name).strip() for name in frame.columns)
    frame.columns = pd.RangeIndex(len(names))
    return RawTable(path, names, frame, first_row=1, hint=lambda: "")


def _refuse_duplicates(path: Path, names: list[str]) -> None:
    """Two columns of one name (or of names that differ only in case, or in the ``.1`` that
    pandas appends to the second of two equal names) would be traded as two tickers."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names):
        key = re.sub(r"\.\d+$", "", name.strip()).casefold()
        if name and key in seen:
            first = names[seen[key]]
            why = (
                ""
                if first.strip() == name.strip()
                else ", equal but for case"
                if first.strip().casefold() == name.strip().casefold()
                else ", equal but for the '.1' pandas adds to a repeated name"
            )
            raise DataError(
                f"{path}: columns {seen[key] + 1} and {position + 1} have the same header "
                f"({first!r} and {name!r}{why}); each column needs a header of its own, "
                "or one of them is a duplicate to remove"
            )
        seen[key] = position


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:299] + "…"


def _checked_names(table: RawTable) -> RawTable:
    """Duplicate names are refused; a blank trailing column with no values is dropped."""
    names = list(table.names)
    _refuse_duplicates(table.path, names)
    while len(names) > 2 and not names[-1] and table.column(len(names) - 1).isna().all():
        _log.info(
            "%s: dropped the empty column after the last separator (no header, no values)",
            table.path,
        )
        names.pop()
    for position, name in enumerate(names[1:], start=2):
        if not name:
            raise DataError(
                f"{table.path}: column {position} has no header; name it (a ticker, or a "
                "field such as close)"
            )
    if len(names) == len(table.names):
        return table
    frame = table.frame.iloc[:, : len(names)]
    return RawTable(table.path, tuple(names), frame, table.first_row, table.hint)
