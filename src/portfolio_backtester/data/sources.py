"""Data sources: embedded, CSV, Parquet and synthetic prices, validated once on entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import DataConfig
from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError, did_you_mean
from .builtin import load_sp500
from .synthetic import synthetic_prices

__all__ = ["MarketData", "load_market_data", "read_price_file"]

MAX_CALENDAR_GAP_DAYS = 31
_EARLIEST = pd.Timestamp("1800-01-01", tz="UTC")
_LATEST = pd.Timestamp("2200-01-01", tz="UTC")
MAX_FILLED_GAP_ROWS = 10


@dataclass(frozen=True, slots=True)
class MarketData:
    """Validated closes (and opens, when the source had them) plus a benchmark series."""

    prices: pd.DataFrame
    benchmark: pd.Series | None
    open: pd.DataFrame | None = None


def load_market_data(config: DataConfig) -> MarketData:
    """Load the scenario's data, check it, and cut it to its universe (not its dates)."""
    opens: pd.DataFrame | None = None
    benchmark: pd.Series | None = None
    if config.source == "builtin:sp500":
        prices, index = load_sp500()
        if config.benchmark == "default":
            benchmark = index["SP500"].rename("SP500")
        origin = "builtin:sp500"
    elif config.source == "synthetic":
        syn = config.synthetic
        prices = synthetic_prices(
            syn.n_assets,
            max(round(syn.n_years * TRADING_DAYS_PER_YEAR), 2),
            seed=syn.seed,
            annual_drift=syn.annual_drift,
            annual_volatility=syn.annual_volatility,
            start=pd.Timestamp(syn.start),
        )
        origin = "synthetic"
    else:
        assert config.path is not None
        prices, opens = read_price_file(config.path, config.source, config.layout)
        origin = str(config.path)
    prices = validate_prices(prices, origin)
    if opens is not None:
        opens = validate_prices(
            opens.reindex(index=prices.index, columns=prices.columns), f"{origin} (open prices)"
        )
    every_ticker = prices  # before the universe cut: a benchmark may be outside it
    if config.universe is not None:
        missing = [t for t in config.universe if t not in prices.columns]
        if missing:
            raise DataError(
                f"{origin}: universe ticker {missing[0]!r} is not in the data"
                + did_you_mean(missing[0], [str(c) for c in prices.columns])
                + f"; available: {', '.join(map(str, prices.columns[:30]))}"
                + (" …" if len(prices.columns) > 30 else "")
            )
        prices = prices[config.universe]
        if opens is not None:
            opens = opens[config.universe]
    if config.benchmark_path is not None:
        bench_frame, _ = read_price_file(
            config.benchmark_path, _format_of(config.benchmark_path), "auto"
        )
        bench_frame = validate_prices(bench_frame, str(config.benchmark_path))
        benchmark = bench_frame.iloc[:, 0].rename(str(bench_frame.columns[0]))
    elif config.benchmark not in (None, "default"):
        assert config.benchmark is not None
        if config.benchmark not in every_ticker.columns:
            raise DataError(
                f"{origin}: benchmark ticker {config.benchmark!r} is not in the data"
                + did_you_mean(config.benchmark, [str(c) for c in every_ticker.columns])
            )
        benchmark = every_ticker[config.benchmark]
    if benchmark is not None:
        benchmark = benchmark.reindex(prices.index).ffill()
    _check_span(prices, config, origin)
    return MarketData(prices=prices, benchmark=benchmark, open=opens)


def _format_of(path: Path) -> str:
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def read_price_file(
    path: Path, kind: str, layout: str = "auto"
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read a wide or long price file into (closes, opens or None), dates as the index."""
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    try:
        if kind == "parquet":
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read as {kind}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  # pyarrow raises its own types on corrupt files
        raise DataError(f"{path}: cannot read as {kind}: {exc}") from None
    if raw.shape[1] < 2:
        raise DataError(f"{path}: expected a date column and at least one price column")
    lower = {str(c).lower(): c for c in raw.columns}
    if layout == "long" or (layout == "auto" and "ticker" in lower):
        return _from_long(raw, path, lower)
    date_column = next(
        (lower[n] for n in ("date", "datetime", "timestamp") if n in lower), raw.columns[0]
    )
    frame = raw.set_index(date_column)
    frame.index = _parse_dates(frame.index, path, str(date_column))
    frame.columns = pd.Index([str(c) for c in frame.columns], name="ticker")
    return _numeric(frame, path), None


def _from_long(
    raw: pd.DataFrame, path: Path, lower: Mapping[str, object]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    if "date" not in lower or "ticker" not in lower:
        raise DataError(f"{path}: a long-form file needs 'date' and 'ticker' columns")
    raw = raw.rename(columns={v: k for k, v in lower.items()})
    raw["date"] = _parse_dates(pd.Index(raw["date"]), path, "date")
    if "field" in raw.columns and "value" in raw.columns:
        fields = raw.assign(field=raw["field"].astype(str).str.lower())
        wide_fields = {
            name: group.pivot_table(
                index="date", columns="ticker", values="value", aggfunc="first"
            )
            for name, group in fields.groupby("field")
        }
        duplicated = fields.duplicated(["date", "ticker", "field"])
    elif "close" in raw.columns:
        duplicated = raw.duplicated(["date", "ticker"])
        wide_fields = {
            name: raw.pivot_table(index="date", columns="ticker", values=name, aggfunc="first")
            for name in ("close", "open")
            if name in raw.columns
        }
    else:
        raise DataError(
            f"{path}: a long-form file needs 'field' and 'value' columns or a 'close' column"
        )
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0]) + 2
        raise DataError(f"{path}: duplicate date and ticker at row {row}")
    if "close" not in wide_fields:
        raise DataError(f"{path}: no 'close' field in the long-form data")
    closes = _numeric(wide_fields["close"], path)
    closes.columns = pd.Index([str(c) for c in closes.columns], name="ticker")
    opens = wide_fields.get("open")
    if opens is not None:
        opens = _numeric(opens, path)
        opens.columns = pd.Index([str(c) for c in opens.columns], name="ticker")
    return closes, opens


def _parse_dates(values: pd.Index, path: Path, column: str) -> pd.DatetimeIndex:
    text = pd.Series(values, dtype=object)
    try:
        # utc=True: a file may mix offsets; daily data is then compared on one clock.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    except (ValueError, OverflowError) as exc:
        raise DataError(f"{path}: cannot parse the dates in column {column!r}: {exc}") from None
    bad = (parsed.isna() | (parsed < _EARLIEST) | (parsed > _LATEST)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: cannot parse date {values[row]!r} in column {column!r} at row {row + 2} "
            "(expected a date such as 2021-01-04, between 1800 and 2200)"
        )
    return pd.DatetimeIndex(parsed, name="date").tz_convert(None)


def _numeric(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    converted = {}
    for column in frame.columns:
        series = frame[column]
        numbers = pd.to_numeric(series, errors="coerce")
        bad = numbers.isna() & series.notna()
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{path}: non-numeric value {series.iloc[position]!r} in column {column!r} "
                f"at date {frame.index[position]:%Y-%m-%d}"
            )
        converted[column] = numbers.astype("float64")
    return pd.DataFrame(converted, index=frame.index)


def validate_prices(prices: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Refuse data that would silently give wrong results; return a clean float frame."""
    if len(prices) < 2:
        raise DataError(f"{origin}: need at least 2 rows of prices, got {len(prices)}")
    if prices.shape[1] == 0:
        raise DataError(f"{origin}: no price columns")
    index = pd.DatetimeIndex(prices.index)
    duplicated = index.duplicated()
    if duplicated.any():
        raise DataError(f"{origin}: duplicate date {index[duplicated][0]:%Y-%m-%d}")
    if not index.is_monotonic_increasing:
        position = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise DataError(
            f"{origin}: dates are not sorted: {index[position]:%Y-%m-%d} comes after "
            f"{index[position - 1]:%Y-%m-%d}"
        )
    gaps = np.diff(index.to_numpy()) / np.timedelta64(1, "D")
    if len(gaps) and gaps.max() > MAX_CALENDAR_GAP_DAYS:
        position = int(np.argmax(gaps))
        raise DataError(
            f"{origin}: a gap of {gaps[position]:.0f} days in the dates between "
            f"{index[position]:%Y-%m-%d} and {index[position + 1]:%Y-%m-%d}; "
            "daily data is expected"
        )
    values = prices.to_numpy(dtype="float64", na_value=np.nan)
    for j, column in enumerate(prices.columns):
        col = values[:, j]
        valid = ~np.isnan(col)
        if not valid.any():
            raise DataError(f"{origin}: column {column!r} has no prices")
        if np.isinf(col).any():
            row = int(np.flatnonzero(np.isinf(col))[0])
            raise DataError(
                f"{origin}: infinite price in column {column!r} at {index[row]:%Y-%m-%d}"
            )
        nonpositive = valid & (col <= 0)
        if nonpositive.any():
            row = int(np.flatnonzero(nonpositive)[0])
            raise DataError(
                f"{origin}: price {col[row]} in column {column!r} at {index[row]:%Y-%m-%d} "
                "is not positive; prices must be > 0"
            )
        first, last = np.flatnonzero(valid)[[0, -1]]
        holes = ~valid[first : last + 1]
        if holes.any():
            run = _longest_run(holes)
            if run > MAX_FILLED_GAP_ROWS:
                row = first + int(np.flatnonzero(holes)[0])
                raise DataError(
                    f"{origin}: column {column!r} has {run} consecutive missing prices "
                    f"from {index[row]:%Y-%m-%d}; at most {MAX_FILLED_GAP_ROWS} are "
                    "carried forward"
                )
    clean = pd.DataFrame(
        values,
        index=pd.DatetimeIndex(index, name="date"),
        columns=pd.Index([str(c) for c in prices.columns], name="ticker"),
    )
    # Short holes inside a ticker's history carry the last price; before listing stays NaN.
    return clean.ffill().where(clean.bfill().notna())


def _longest_run(mask: npt.NDArray[np.bool_]) -> int:
    """Length of the longest run of True values."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if len(starts) else 0


def _check_span(prices: pd.DataFrame, config: DataConfig, origin: str) -> None:
    first, last = prices.index[0].date(), prices.index[-1].date()
    if config.start is not None and not first <= config.start <= last:
        raise DataError(
            f"{origin}: start {config.start} is outside the data, which runs from "
            f"{first} to {last}"
        )
    if config.end is not None and not first <= config.end <= last:
        raise DataError(
            f"{origin}: end {config.end} is outside the data, which runs from {first} to {last}"
        )
