"""Data sources: embedded, CSV, Parquet and synthetic prices, validated once on entry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import DataConfig
from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import DataError, did_you_mean
from .builtin import load_sp500
from .files import FileOptions, read_table
from .layout import PriceFrames, price_frames
from .market import MarketData
from .synthetic import synthetic_prices
from .universe import apply_universe, liquidity_mask, membership_mask, read_membership

__all__ = [
    "DATAFRAME_SOURCE",
    "MarketData",
    "PriceFrames",
    "load_market_data",
    "prepare_market_data",
    "read_price_file",
    "validate_prices",
]

DATAFRAME_SOURCE = "dataframe"
"""The data section's source when the prices were given as DataFrames from Python."""

MAX_FILLED_GAP_ROWS = 10
MAX_PRICE = 1e15
"""No traded price comes near this; one above it is a unit or column mistake."""
"""Missing rows carried forward: in one column, and business days missing from every column."""
MAX_USUAL_SPACING_DAYS = 4
"""Daily data: consecutive dates are usually 1 (or over a weekend 3) calendar days apart."""


def load_market_data(config: DataConfig) -> MarketData:
    """Load the scenario's data, check it, and cut it to its universe (not its dates)."""
    frames: PriceFrames | None = None
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
    elif config.source == DATAFRAME_SOURCE:
        raise DataError(
            "the scenario's data were given as DataFrames from Python and are not stored "
            "with it; pass them again (prices=, open=, benchmark=), or save them to a CSV or "
            "Parquet file and name it in the data section"
        )
    else:
        assert config.path is not None
        frames = read_price_file(
            config.path, config.source, config.layout, _file_options(config, ticker=True)
        )
        prices, origin = frames.closes, str(config.path)
    if frames is None:
        return prepare_market_data(config, prices, None, benchmark, origin)
    return prepare_market_data(
        config,
        prices,
        frames.open,
        benchmark,
        origin,
        high=frames.high,
        low=frames.low,
        volume=frames.volume,
    )


def prepare_market_data(
    config: DataConfig,
    prices: pd.DataFrame,
    opens: pd.DataFrame | None,
    benchmark: pd.Series | None,
    origin: str,
    *,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
    volume: pd.DataFrame | None = None,
) -> MarketData:
    """Check prices read from anywhere, cut them to the universe and align the benchmark
    (a ticker of the data, or a file of its own) on their dates."""
    prices = validate_prices(prices, origin)
    extra: dict[str, pd.DataFrame] = {}
    for name, frame in (("open", opens), ("high", high), ("low", low)):
        if frame is not None:
            extra[name] = validate_prices(
                frame.reindex(index=prices.index, columns=prices.columns),
                f"{origin} ({name} prices)",
            )
    if "high" in extra and "low" in extra:
        _check_high_low(extra["high"], extra["low"], origin)
    if volume is not None:
        extra["volume"] = validate_volume(
            volume.reindex(index=prices.index, columns=prices.columns), origin
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
        extra = {name: frame[config.universe] for name, frame in extra.items()}
    if config.benchmark_path is not None:
        bench_frame = read_price_file(
            config.benchmark_path,
            _format_of(config.benchmark_path),
            "auto",
            _file_options(config, ticker=False),
        ).closes
        bench_frame = validate_prices(bench_frame, str(config.benchmark_path))
        if bench_frame.shape[1] != 1:
            raise DataError(
                f"{config.benchmark_path}: a benchmark file holds one series, this one has "
                f"{bench_frame.shape[1]} ({', '.join(map(str, bench_frame.columns[:5]))}"
                f"{' …' if bench_frame.shape[1] > 5 else ''}); keep one column, or name a "
                "ticker of the price file with benchmark"
            )
        benchmark = bench_frame.iloc[:, 0].rename(str(bench_frame.columns[0]))
    elif benchmark is not None:
        benchmark = validate_prices(benchmark.to_frame(), f"{origin} (benchmark)").iloc[:, 0]
    elif config.benchmark not in (None, "default"):
        assert config.benchmark is not None
        if config.benchmark not in every_ticker.columns:
            raise DataError(
                f"{origin}: benchmark ticker {config.benchmark!r} is not in the data"
                + did_you_mean(config.benchmark, [str(c) for c in every_ticker.columns])
            )
        benchmark = every_ticker[config.benchmark]
    if benchmark is not None:
        aligned = benchmark.reindex(prices.index)
        if aligned.isna().all():
            raise DataError(
                f"{config.benchmark_path or origin}: the benchmark has no price on any date "
                f"of the prices ({benchmark.index[0]:%Y-%m-%d} to "
                f"{benchmark.index[-1]:%Y-%m-%d} against {prices.index[0]:%Y-%m-%d} to "
                f"{prices.index[-1]:%Y-%m-%d})"
            )
        benchmark = aligned.ffill()
    market = MarketData(prices=prices, benchmark=benchmark, **extra)
    if config.membership is not None:
        members = read_membership(config.membership, _file_options(config, ticker=False))
        mask = membership_mask(members, pd.DatetimeIndex(prices.index), prices.columns)
        market = apply_universe(market, mask, str(config.membership))
    if config.liquidity is not None:
        if market.volume is None:
            raise DataError(
                f"{origin}: data.liquidity ranks tickers by dollar volume, but the data have "
                "no volumes; give a file with a volume column (long or one-ticker OHLCV), or "
                "remove liquidity"
            )
        rule = config.liquidity
        mask = liquidity_mask(market.prices, market.volume, rule.top_n, rule.window_days)
        market = apply_universe(market, mask, f"{origin} (liquidity filter)")
    _check_span(market.prices, config, origin)
    return market


def _file_options(config: DataConfig, *, ticker: bool) -> FileOptions:
    """The data section's reading options; ``ticker`` names the price file's one ticker."""
    return FileOptions(
        layout=config.layout,
        sep=config.sep,
        decimal=config.decimal,
        date_format=config.date_format,
        ticker=config.ticker if ticker else None,
    )


def _format_of(path: Path) -> str:
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def read_price_file(
    path: Path, kind: str, layout: str = "auto", options: FileOptions | None = None
) -> PriceFrames:
    """Read a wide, long or one-ticker price file into its closes (and opens, highs, lows
    and volumes when it has them), dated by calendar day; ``options`` (the data section's
    ``sep``, ``decimal``, ``date_format`` and ``ticker``) say how, where the file cannot
    tell."""
    options = replace(options or FileOptions(), layout=layout)
    return price_frames(read_table(path, kind, options), options)


def validate_volume(volume: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Volumes as float: finite and not negative where present. A missing volume stays
    missing (unknown is not zero); nothing is carried forward."""
    values = volume.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isnan(values) & ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        row, column = (int(k[0]) for k in np.nonzero(bad))
        raise DataError(
            f"{origin}: volume {values[row, column]} in column {volume.columns[column]!r} at "
            f"{volume.index[row]:%Y-%m-%d} is not a number of shares >= 0"
        )
    return pd.DataFrame(values, index=volume.index, columns=volume.columns)


def _check_high_low(high: pd.DataFrame, low: pd.DataFrame, origin: str) -> None:
    """A low above the day's high is a swapped or shifted column, not a price."""
    h, lo = high.to_numpy(dtype="float64"), low.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        crossed = lo > h * (1 + 1e-9)
    if crossed.any():
        row, column = (int(k[0]) for k in np.nonzero(crossed))
        raise DataError(
            f"{origin}: low {lo[row, column]} is above high {h[row, column]} in column "
            f"{high.columns[column]!r} at {high.index[row]:%Y-%m-%d}; check the file's columns"
        )


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
    _check_calendar(index, origin)
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
        huge = valid & (np.abs(col) > MAX_PRICE)
        if huge.any():
            row = int(np.flatnonzero(huge)[0])
            raise DataError(
                f"{origin}: price {col[row]:.3g} in column {column!r} at {index[row]:%Y-%m-%d} "
                f"is above {MAX_PRICE:.0e}, beyond any traded price (the portfolio's value "
                "would overflow); check the file's units or the column"
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


def _check_calendar(index: pd.DatetimeIndex, origin: str) -> None:
    """Daily dates without a hole in the calendar itself.

    A hole in every column at once (a month missing from the file) would book the whole
    move of the hole on its last day, like a hole in one column: more than
    MAX_FILLED_GAP_ROWS business days without a row are refused.
    """
    days = index.to_numpy().astype("datetime64[D]")
    spacing = np.diff(days).astype("int64")
    if len(spacing) >= 3 and np.median(spacing) > MAX_USUAL_SPACING_DAYS:
        raise DataError(
            f"{origin}: the dates are usually {np.median(spacing):.0f} days apart (from "
            f"{index[0]:%Y-%m-%d} to {index[-1]:%Y-%m-%d}); daily prices are expected"
        )
    missing = np.busday_count(days[:-1] + 1, days[1:])
    if len(missing) and missing.max() > MAX_FILLED_GAP_ROWS:
        position = int(np.argmax(missing))
        raise DataError(
            f"{origin}: a gap of {spacing[position]} days in the dates between "
            f"{index[position]:%Y-%m-%d} and {index[position + 1]:%Y-%m-%d} "
            f"({missing[position]} business days without a row in any column); daily data "
            f"is expected, and at most {MAX_FILLED_GAP_ROWS} missing days are carried forward"
        )


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
