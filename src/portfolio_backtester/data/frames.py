"""Prices handed over from Python as pandas objects, checked as strictly as a file.

A notebook often has its data in memory already. They go through the same checks as a
file's (dates sorted and unique, daily, positive finite prices, short holes only) and the
same universe and benchmark rules of the scenario's data section; what a file reader
would have to guess (which column holds the dates, the date format) must already be
settled, so a frame whose index is not dates is refused rather than parsed.
"""

from __future__ import annotations

import pandas as pd

from ..config import DataConfig
from ..errors import DataError
from .sources import MarketData, prepare_market_data

__all__ = ["market_data_from_frames"]

ORIGIN = "prices DataFrame"


def market_data_from_frames(
    config: DataConfig,
    prices: pd.DataFrame | pd.Series,
    *,
    open: pd.DataFrame | pd.Series | None = None,
    benchmark: pd.Series | pd.DataFrame | None = None,
    high: pd.DataFrame | pd.Series | None = None,
    low: pd.DataFrame | pd.Series | None = None,
    volume: pd.DataFrame | pd.Series | None = None,
) -> MarketData:
    """Closes (one column per asset, dates as the index), optional opens, highs, lows and
    volumes of the same shape, and an optional benchmark series, as the scenario's data
    section would give."""
    if config.benchmark_path is not None and benchmark is not None:
        raise DataError(
            "a benchmark was given both as a Series and as data.benchmark_path; keep one"
        )
    if benchmark is not None and config.benchmark not in (None, "default"):
        raise DataError(
            f"a benchmark was given both as a Series and as data.benchmark "
            f"{config.benchmark!r}; keep one"
        )
    closes = _frame(prices, ORIGIN)
    given = {"open": open, "high": high, "low": low, "volume": volume}
    extra: dict[str, pd.DataFrame] = {}
    for name, values in given.items():
        if values is None:
            continue
        frame = _frame(values, f"{name} DataFrame")
        unknown = [str(c) for c in frame.columns if c not in closes.columns]
        if unknown:
            raise DataError(
                f"{name} DataFrame: column {unknown[0]!r} has no closes in the prices "
                f"DataFrame; give {name} values for the same tickers as the closes"
            )
        extra[name] = frame.reindex(index=closes.index, columns=closes.columns)
    series = None
    if benchmark is not None:
        frame = _frame(benchmark, "benchmark")
        if frame.shape[1] != 1:
            raise DataError(
                f"benchmark: expected one series, got {frame.shape[1]} columns "
                f"({', '.join(map(str, frame.columns[:5]))}); pass one column"
            )
        series = frame.iloc[:, 0]
        if series.name is None or str(series.name) == "0":
            series = series.rename("benchmark")
    return prepare_market_data(
        config,
        closes,
        extra.get("open"),
        series,
        ORIGIN,
        high=extra.get("high"),
        low=extra.get("low"),
        volume=extra.get("volume"),
    )


def _frame(values: pd.DataFrame | pd.Series, origin: str) -> pd.DataFrame:
    if isinstance(values, pd.Series):
        values = values.to_frame(name=values.name if values.name is not None else "asset")
    if not isinstance(values, pd.DataFrame):
        raise DataError(
            f"{origin}: expected a pandas DataFrame (dates as the index, one column per "
            f"ticker), got {type(values).__name__}"
        )
    if not isinstance(values.index, pd.DatetimeIndex):
        raise DataError(
            f"{origin}: the index must hold the dates (a DatetimeIndex), got "
            f"{type(values.index).__name__}; convert it first, e.g. "
            "df.set_index(pd.to_datetime(df['date'], format='%Y-%m-%d'))"
        )
    if isinstance(values.columns, pd.MultiIndex):
        raise DataError(
            f"{origin}: the columns are a MultiIndex; select one field first (e.g. "
            "df.xs('Close', axis=1, level=0)) so that each column is one ticker"
        )
    if values.index.tz is not None:
        values = values.tz_localize(None)  # the exchange's local dates
    not_numeric = [
        str(c) for c, dtype in values.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if not_numeric:
        raise DataError(
            f"{origin}: column {not_numeric[0]!r} is not numeric "
            f"({values[not_numeric[0]].dtype}); convert it with pd.to_numeric, or drop it"
        )
    if values.columns.duplicated().any():
        twice = values.columns[values.columns.duplicated()][0]
        raise DataError(f"{origin}: column {twice!r} appears twice")
    return values
