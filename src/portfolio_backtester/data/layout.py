"""What a file's columns mean: one column per ticker, one ticker's OHLCV, or long rows.

A file whose columns are all fields of one ticker (``Date,Open,High,Low,Close,Adj Close,
Volume``, as every vendor exports a ticker) holds that ticker's prices: ``Adj Close`` wins
over ``Close``, and opens, highs and lows are adjusted by the same factor (adj close /
close) and volumes by its inverse, so that price times volume stays the traded value.
Without a ``Close`` beside ``Adj Close`` the factor is unknown and those fields are dropped.
Any other file has one column per ticker (wide: closes only) or a ``ticker`` column (long).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError
from .dates import parse_dates
from .files import FileOptions, RawTable

__all__ = ["PriceFrames", "price_frames"]

_log = logging.getLogger(__name__)

DATE_NAMES = ("date", "datetime", "timestamp", "time", "day")
TICKER_NAMES = ("ticker", "symbol")
# Normalised header (lower case, no spaces, underscores, dots or hyphens) to its field.
FIELDS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj close",
    "adjustedclose": "adj close",
    "volume": "volume",
    "dividends": "dividends",
    "stocksplits": "stock splits",
    "capitalgains": "capital gains",
}
# Fields no ticker is named after: a wide file that has one of them mixes fields and tickers.
_NEVER_TICKERS = frozenset(FIELDS.values()) - {"open", "high", "low"}
_COMMA_NUMBER = r"[-+]?(?:\d+(?:,\d*)?|,\d+)(?:[eE][-+]?\d+)?"
# The fields read; the others (dividends, splits) are already in an adjusted close.
_READ = ("open", "high", "low", "close", "adj close", "volume")


@dataclass(frozen=True, slots=True)
class PriceFrames:
    """A file's closes and, when it had them, opens, highs, lows and volumes: frames with
    dates as the index and the closes' tickers as the columns, all on the closes' footing."""

    closes: pd.DataFrame
    open: pd.DataFrame | None = None
    high: pd.DataFrame | None = None
    low: pd.DataFrame | None = None
    volume: pd.DataFrame | None = None


def price_frames(table: RawTable, options: FileOptions) -> PriceFrames:
    """The price frames of a file, dates as the index and tickers as the columns."""
    lower = [name.lower() for name in table.names]
    ticker = next((lower.index(n) for n in TICKER_NAMES if n in lower), None)
    if options.layout == "long" or (options.layout == "auto" and ticker is not None):
        return _long(table, options, ticker)
    return _wide(table, options)


def field_of(name: str) -> str | None:
    """The OHLCV field a header names ('Adj Close', 'adj_close', 'AdjClose'), or None."""
    return FIELDS.get(re.sub(r"[\s_.\-]", "", name.lower()))


def _date_column(table: RawTable) -> int:
    lower = [name.lower() for name in table.names]
    for name in DATE_NAMES:
        if name in lower:
            return lower.index(name)
    typed = [p for p in range(len(lower)) if table.column(p).dtype.kind == "M"]
    return typed[0] if typed else 0


def _dates(table: RawTable, position: int, options: FileOptions) -> pd.DatetimeIndex:
    name = table.names[position] or f"column {position + 1}"
    return parse_dates(
        table.column(position),
        where=f"{table.path}: column {name!r}",
        first_row=table.first_row,
        date_format=options.date_format,
    )


def _wide(table: RawTable, options: FileOptions) -> PriceFrames:
    date = _date_column(table)
    others = [p for p in range(len(table.names)) if p != date]
    if not others:
        raise DataError(f"{table.path}: expected a date column and at least one price column")
    fields = {p: field_of(table.names[p]) for p in others}
    one_ticker = all(fields.values()) and not (
        len(others) == 1 and fields[others[0]] in ("open", "high", "low")
    )
    if not one_ticker:
        mixed = [p for p in others if fields[p] in _NEVER_TICKERS]
        if mixed:
            ticker = next(table.names[p] for p in others if fields[p] is None)
            raise DataError(
                f"{table.path}: column {table.names[mixed[0]]!r} is a field of one ticker "
                f"but column {ticker!r} is not; a file holds either one ticker's open, high, "
                "low, close and volume, or one column of closes per ticker"
            )
        if options.ticker is not None:
            shown = ", ".join(table.names[p] for p in others[:5]) + (" …" * (len(others) > 5))
            raise DataError(
                f"{table.path}: the data section's ticker ({options.ticker!r}) names the "
                "ticker of a one-ticker file (Date, Open, High, Low, Close, Volume), but "
                f"this file has one column per ticker ({shown}); remove ticker"
            )
    dates = _dates(table, date, options)
    _refuse_duplicate_dates(table, date, dates)
    if not one_ticker:
        closes = pd.DataFrame(
            {table.names[p]: _numbers(table, p, dates, options) for p in others}, index=dates
        )
        return PriceFrames(closes)
    by_field = {
        str(fields[p]): _numbers(table, p, dates, options) for p in others if fields[p] in _READ
    }
    ticker = options.ticker or table.path.stem
    frames = _choose_prices(
        {k: pd.DataFrame({ticker: v}, index=dates) for k, v in by_field.items()},
        table,
        [table.names[p] for p in others],
    )
    _log.info("%s: one ticker's prices (%s), named %r", table.path, ", ".join(by_field), ticker)
    return frames


def _long(table: RawTable, options: FileOptions, ticker: int | None) -> PriceFrames:
    lower = [name.lower() for name in table.names]
    date = next((lower.index(n) for n in DATE_NAMES if n in lower), None)
    if date is None or ticker is None:
        raise DataError(f"{table.path}: a long-form file needs 'date' and 'ticker' columns")
    dates = pd.Series(_dates(table, date, options))
    tickers = table.column(ticker)
    missing = tickers.isna().to_numpy()
    if missing.any():
        row = int(missing.argmax()) + table.first_row
        raise DataError(
            f"{table.path}: missing ticker in column {table.names[ticker]!r} at row {row}"
        )
    rows = pd.DataFrame({"date": dates, "ticker": tickers.astype(str).str.strip()})
    if "field" in lower and "value" in lower:
        fields = (
            table.column(lower.index("field"))
            .astype(str)
            .map(lambda f: field_of(f) or f.strip().lower())
        )
        rows["field"] = fields
        rows["value"] = _numbers(table, lower.index("value"), dates, options)
        _refuse_duplicate_rows(table, rows, ["date", "ticker", "field"])
        frames = {
            str(field): group.pivot(index="date", columns="ticker", values="value")
            for field, group in rows.groupby("field")
            if field in _READ
        }
    else:
        columns = {
            str(field_of(table.names[p])): p
            for p in range(len(table.names))
            if field_of(table.names[p]) in _READ
        }
        if "close" not in columns and "adj close" not in columns:
            raise DataError(
                f"{table.path}: a long-form file needs 'field' and 'value' columns or a "
                "'close' column"
            )
        _refuse_duplicate_rows(table, rows, ["date", "ticker"])
        frames = {
            field: rows.assign(value=_numbers(table, p, dates, options)).pivot(
                index="date", columns="ticker", values="value"
            )
            for field, p in columns.items()
        }
    return _choose_prices(frames, table, sorted(frames))


def _choose_prices(
    frames: dict[str, pd.DataFrame], table: RawTable, found: list[str]
) -> PriceFrames:
    """Adjusted closes when there are any, and the other fields on the same footing."""
    others = {k: frames[k] for k in ("open", "high", "low", "volume") if k in frames}
    if "adj close" in frames:
        closes = frames["adj close"]
        if others and "close" in frames:
            # The other fields are as traded; each day's adjustment factor is adj close / close.
            factor = closes / frames["close"].reindex_like(closes)
            others = {
                k: v.reindex_like(closes) / factor if k == "volume" else v * factor
                for k, v in others.items()
            }
            _log.info(
                "%s: 'adj close' wins over 'close'; %s adjusted by the same factor",
                table.path,
                ", ".join(others),
            )
        elif others:
            _log.info(
                "%s: %s dropped: without a close they cannot be adjusted like 'adj close'",
                table.path,
                ", ".join(others),
            )
            others = {}
    elif "close" in frames:
        closes = frames["close"]
    else:
        raise DataError(
            f"{table.path}: no close prices: found {', '.join(found)}; a one-ticker file "
            "needs a Close or Adj Close column, a long one a 'close' field"
        )
    closes = closes.rename_axis(index="date", columns="ticker")
    closes.columns = pd.Index([str(c) for c in closes.columns], name="ticker")
    aligned = {
        k: v.reindex_like(closes).rename_axis(index="date", columns="ticker")
        for k, v in others.items()
    }
    return PriceFrames(closes, **aligned)


def _numbers(
    table: RawTable, position: int, dates: pd.DatetimeIndex | pd.Series, options: FileOptions
) -> npt.NDArray[np.float64]:
    """A column as float64; cells that are not numbers are refused with the fix, if any."""
    series = table.column(position).reset_index(drop=True)
    if series.dtype.kind in "iuf":
        numbers = series.astype("float64")
    else:
        text = series.astype(str).str.strip()
        if options.decimal == ",":
            valid = text.str.fullmatch(_COMMA_NUMBER).fillna(False).astype(bool)
            text = text.where(valid).str.replace(",", ".", regex=False)
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = (numbers.isna() & series.notna()).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise DataError(
                f"{table.path}: non-numeric value {series.iloc[row]!r} in column "
                f"{table.names[position]!r} at date {pd.Timestamp(dates[row]):%Y-%m-%d} "
                f"(row {row + table.first_row})" + table.hint()
            )
    return np.asarray(numbers, dtype=np.float64)


def _refuse_duplicate_dates(table: RawTable, position: int, dates: pd.DatetimeIndex) -> None:
    duplicated = dates.duplicated(keep=False)
    if duplicated.any():
        first, second = np.flatnonzero(dates == dates[duplicated][0])[:2]
        raw = table.column(position)
        raise DataError(
            f"{table.path}: duplicate date {dates[first]:%Y-%m-%d} at rows "
            f"{first + table.first_row} ({raw.iloc[first]!r}) and "
            f"{second + table.first_row} ({raw.iloc[second]!r}); prices are dated by the "
            "exchange's calendar day (a time of day is dropped), so each day appears once"
        )


def _refuse_duplicate_rows(table: RawTable, rows: pd.DataFrame, keys: list[str]) -> None:
    duplicated = rows.duplicated(keys, keep=False).to_numpy()
    if duplicated.any():
        first = int(duplicated.argmax())
        same = (rows[keys] == rows[keys].iloc[first]).all(axis=1).to_numpy()
        second = int(np.flatnonzero(same)[1])
        what = ", ".join(
            f"{rows[k].iloc[first]:%Y-%m-%d}" if k == "date" else repr(rows[k].iloc[first])
            for k in keys
        )
        raise DataError(
            f"{table.path}: rows {first + table.first_row} and {second + table.first_row} "
            f"have the same {' and '.join(keys)} ({what}); each may appear once (a time of "
            "day is dropped: prices are dated by the exchange's calendar day)"
        )
