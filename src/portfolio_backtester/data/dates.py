"""Dates in price files: text, numbers and timestamps read as the exchange's calendar day.

A price is dated by the calendar day of the exchange that printed it: the day as written
in the file, in the time zone the file was written in. A time of day and a UTC offset are
dropped, never used to shift the day (converting ``2021-01-04T00:00+01:00`` to UTC would
date it 2021-01-03). Numbers are dates only when their meaning is certain (``20100104``)
or stated with ``date_format``; a price column is never taken for dates.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from ..config import DataConfig
from ..errors import DataError

__all__ = ["parse_dates"]

_log = logging.getLogger(__name__)

_EARLIEST = pd.Timestamp("1800-01-01")
_LATEST = pd.Timestamp("2200-01-01")
_UNIX_EPOCH = pd.Timestamp("1970-01-01")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # serial 1 is 1900-01-01 (after Excel's 1900-02-29)
_PLAUSIBLE = (pd.Timestamp("1971-01-01"), pd.Timestamp("2100-01-01"))  # for suggestions
_UNITS = {"unix_s": "s", "unix_ms": "ms", "unix_us": "us", "unix_ns": "ns"}
_PER_DAY = {"excel": 1.0, "s": 86_400.0, "ms": 86_400e3, "us": 86_400e6, "ns": 86_400e9}

_YYYYMMDD = r"\d{8}"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_ISO = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DAY_MONTH = r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[T ].*)?"
# An offset after a time of day ("16:00:00-05:00", "09:30Z"); "2021-01-04" ends in "-04"
# too, which is why a time must come before it.
_OFFSET = (
    r"^(?P<local>.*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
)


def parse_dates(
    values: pd.Series, *, where: str, first_row: int, date_format: str | None = None
) -> pd.DatetimeIndex:
    """The calendar day of every value, as a naive DatetimeIndex named ``date``.

    ``where`` names the file and column in messages; ``first_row`` is the row number of
    ``values[0]`` in the file. Refuses missing, unreadable, ambiguous and out-of-range dates.
    """
    values = values.reset_index(drop=True)
    missing = values.isna().to_numpy()
    if values.dtype.kind == "O" or isinstance(values.dtype, pd.StringDtype):
        missing = missing | (values.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{where}: missing date at row {row + first_row}")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_localize(None)  # the wall clock of the zone the file was in
    elif values.dtype.kind == "M":
        parsed = values
    elif values.dtype.kind == "b":
        raise DataError(f"{where}: holds true/false values, not dates")
    elif values.dtype.kind in "iuf":
        parsed = _from_numbers(values.astype("float64"), where, first_row, date_format)
    elif all(isinstance(v, dt.date) for v in values):
        parsed = pd.Series(pd.to_datetime([_wall_clock(v) for v in values]), index=values.index)
    else:
        parsed = _from_text(values.astype(str).str.strip(), where, first_row, date_format)
    days = parsed.dt.normalize()
    bad = ((days < _EARLIEST) | (days >= _LATEST)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where}: date {values.iloc[row]!r} at row {row + first_row} is read as "
            f"{days.iloc[row]:%Y-%m-%d}, outside 1800 to 2200"
        )
    with_time = (parsed != days).to_numpy()
    if with_time.any():
        _log.info(
            "%s: dropped the time of day from the dates (first: %r); prices are dated by "
            "the exchange's calendar day",
            where,
            values.iloc[int(np.flatnonzero(with_time)[0])],
        )
    return pd.DatetimeIndex(days, name="date").as_unit("us")


def _wall_clock(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime(value.year, value.month, value.day)


def _from_text(text: pd.Series, where: str, first_row: int, date_format: str | None) -> pd.Series:
    if date_format in DataConfig.NUMERIC_DATE_FORMATS:
        numbers = pd.to_numeric(text.where(text.str.fullmatch(_NUMBER)), errors="coerce")
        _refuse_first(
            numbers.isna(),
            text,
            where,
            first_row,
            f"date_format {date_format!r} expects a number",
        )
        return _from_numbers(numbers.astype("float64"), where, first_row, date_format)
    if date_format is not None:
        return _strptime(text, date_format, where, first_row)
    if text.str.fullmatch(_YYYYMMDD).all():
        return _strptime(text, "%Y%m%d", where, first_row)
    if text.str.fullmatch(_NUMBER).all():
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        return _from_numbers(numbers, where, first_row, None)
    local = text.str.replace(_OFFSET, r"\g<local>", regex=True)
    day_month = local.str.extract(f"^{_DAY_MONTH}$")
    if day_month.notna().all().all():
        return _day_month(local, day_month, where, first_row)
    try:
        if local.str.fullmatch(_ISO).all():
            parsed = pd.to_datetime(local, format="ISO8601")
        else:
            parsed = pd.to_datetime(local, format="mixed", errors="coerce")
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"{where}: cannot read the dates: {exc}") from None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    elif parsed.dtype.kind != "M":
        raise DataError(
            f"{where}: the dates mix time zones in a way that cannot be read, such as "
            f"{text.iloc[0]!r}; give their format with date_format in the data section"
        )
    _refuse_first(
        parsed.isna(),
        text,
        where,
        first_row,
        "expected a date such as 2021-01-04 (or give the format with date_format in the "
        "data section, such as date_format: '%d.%m.%Y')",
    )
    return parsed


def _day_month(local: pd.Series, parts: pd.DataFrame, where: str, first_row: int) -> pd.Series:
    """``04/01/2010``: the day comes first only if some first field is above 12."""
    first, second = parts[0].astype(int), parts[2].astype(int)
    sep = str(parts[1].iloc[0])
    year = "%Y" if len(str(parts[3].iloc[0])) == 4 else "%y"
    day_first, month_first = f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}"
    if (first > 12).any() and (second > 12).any():
        a, b = int(np.argmax(first > 12)), int(np.argmax(second > 12))
        raise DataError(
            f"{where}: the dates put the day first at row {a + first_row} "
            f"({local.iloc[a]!r}) and the month first at row {b + first_row} "
            f"({local.iloc[b]!r}); one file needs one date format"
        )
    if not (first > 12).any() and not (second > 12).any():
        raise DataError(
            f"{where}: dates such as {local.iloc[0]!r} may be day-first or month-first "
            f"and no date in the file tells which; add date_format: '{day_first}' "
            f"(day first) or date_format: '{month_first}' (month first) to the data section"
        )
    pattern = day_first if (first > 12).any() else month_first
    date_part = local.str.extract(r"^(\d{1,2}[./-]\d{1,2}[./-]\d{2,4})")[0]
    return _strptime(date_part, pattern, where, first_row)


def _strptime(text: pd.Series, pattern: str, where: str, first_row: int) -> pd.Series:
    if "%z" in pattern or "%Z" in pattern:
        # Mixed offsets cannot share one pandas column; each keeps its own wall clock.
        parsed = pd.Series(
            [_strptime_one(v, pattern) for v in text], index=text.index, dtype="datetime64[us]"
        )
    else:
        try:
            parsed = pd.to_datetime(text, format=pattern, errors="coerce")
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(f"{where}: cannot read the dates as {pattern!r}: {exc}") from None
    _refuse_first(
        parsed.isna(),
        text,
        where,
        first_row,
        f"expected the date format {pattern!r}"
        + (" (year, month, day: YYYYMMDD)" if pattern == "%Y%m%d" else ""),
    )
    return parsed


def _strptime_one(value: str, pattern: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, pattern).replace(tzinfo=None)
    except ValueError:
        return None


def _from_numbers(
    numbers: pd.Series, where: str, first_row: int, date_format: str | None
) -> pd.Series:
    finite = np.isfinite(numbers.to_numpy())
    _refuse_first(pd.Series(~finite), numbers, where, first_row, "not a number")
    if date_format is None:
        whole = numbers.to_numpy() == np.floor(numbers.to_numpy())
        if whole.all() and ((numbers >= 10_000_000) & (numbers < 100_000_000)).all():
            return _strptime(numbers.astype("int64").astype(str), "%Y%m%d", where, first_row)
        raise DataError(_numbers_message(numbers, where, first_row))
    if date_format not in DataConfig.NUMERIC_DATE_FORMATS:  # a pattern such as '%Y%m%d'
        whole = numbers.to_numpy() == np.floor(numbers.to_numpy())
        _refuse_first(
            pd.Series(~whole),
            numbers,
            where,
            first_row,
            f"expected whole numbers for {date_format!r}",
        )
        return _strptime(numbers.astype("int64").astype(str), date_format, where, first_row)
    # The time of day is dropped anyway: whole days since the epoch are the dates.
    epoch = _EXCEL_EPOCH if date_format == "excel" else _UNIX_EPOCH
    days = np.floor(numbers.to_numpy() / _PER_DAY[_UNITS.get(date_format, "excel")])
    first, last = (_EARLIEST - epoch).days, (_LATEST - epoch).days
    _refuse_first(
        pd.Series((days < first) | (days >= last)),
        numbers,
        where,
        first_row,
        f"as date_format {date_format!r} it is not between 1800 and 2200",
    )
    return pd.Series(epoch + pd.to_timedelta(days, unit="D"), index=numbers.index)


def _numbers_message(numbers: pd.Series, where: str, first_row: int) -> str:
    sample = numbers.iloc[0]
    shown = _number(sample)
    readings = []
    for name in ("excel", *_UNITS):
        unit = _UNITS.get(name, "excel")
        epoch = _EXCEL_EPOCH if name == "excel" else _UNIX_EPOCH
        days = float(sample) / _PER_DAY[unit]
        if abs(days) < 100_000:
            day = epoch + pd.Timedelta(days=int(np.floor(days)))
            if _PLAUSIBLE[0] <= day < _PLAUSIBLE[1]:
                readings.append(f"date_format: {name} reads it as {day:%Y-%m-%d}")
    if readings:
        return (
            f"{where}: the dates are numbers such as {shown} (row {first_row}), which "
            f"may mean several things; say which in the data section: {'; '.join(readings)}"
        )
    return (
        f"{where}: holds numbers such as {shown} (row {first_row}), not dates; prices are "
        "never read as dates: give the date column the header 'date', or say how its "
        "numbers are dates with date_format in the data section (excel, unix_s, unix_ms, "
        "or a pattern such as '%Y%m%d')"
    )


def _refuse_first(
    bad: pd.Series, values: pd.Series, where: str, first_row: int, problem: str
) -> None:
    mask = bad.to_numpy(dtype=bool)
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        value = values.iloc[row]
        shown = repr(value) if isinstance(value, str) else _number(value)
        raise DataError(f"{where}: cannot parse date {shown} at row {row + first_row}: {problem}")


def _number(value: float) -> str:
    """40182 rather than 40182.0 or 4.0182e+04."""
    return f"{int(value)}" if np.isfinite(value) and float(value).is_integer() else f"{value}"
