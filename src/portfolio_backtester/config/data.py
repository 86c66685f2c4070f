"""The scenario's ``data`` section: where prices come from, how files are read, and which
tickers and dates the scenario uses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from ..errors import did_you_mean
from ._model import _Model

__all__ = ["DataConfig", "LiquidityConfig", "SyntheticConfig"]


class SyntheticConfig(_Model):
    """Geometric Brownian motion prices, reproducible from ``seed``."""

    n_assets: int = Field(10, ge=1, le=100_000)
    n_years: float = Field(10.0, gt=0, le=200)
    seed: int = 0
    annual_drift: float = 0.07
    annual_volatility: float = Field(0.25, ge=0)
    start: dt.date = dt.date(2000, 1, 3)


class LiquidityConfig(_Model):
    """Keep the ``top_n`` tickers by average dollar volume over ``window_days``, chosen at
    each month's end from data up to that day (``data.universe``)."""

    top_n: int = Field(ge=1)
    window_days: int = Field(63, ge=1)


class DataConfig(_Model):
    """Where prices come from, how to read its files, and which part of them the scenario uses."""

    NUMERIC_DATE_FORMATS: ClassVar = ("excel", "unix_s", "unix_ms", "unix_us", "unix_ns")
    FILE_OPTIONS: ClassVar = ("sep", "decimal", "date_format", "ticker")
    UNIVERSE_RULES: ClassVar = ("membership", "liquidity")

    source: str = "builtin:sp500"
    path: Path | None = None
    layout: Literal["auto", "wide", "long"] = "auto"
    universe: list[str] | None = Field(None, min_length=1)  # [] would backtest cash only
    benchmark: str | None = "default"
    benchmark_path: Path | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    synthetic: SyntheticConfig = SyntheticConfig()
    sep: str | None = Field(None, min_length=1, max_length=1)  # of CSV files; "\t": tabs
    decimal: Literal[".", ","] | None = None  # of CSV files
    date_format: str | None = None  # one of NUMERIC_DATE_FORMATS or a pattern ('%d/%m/%Y')
    ticker: str | None = None  # of a one-ticker (OHLCV) file; default: the file's name
    membership: Path | None = None  # (ticker, from, to) rows: who is in the universe when
    liquidity: LiquidityConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        # "dataframe": prices given from Python (the API's prices=), not read by the loader.
        sources = ("builtin:sp500", "csv", "parquet", "synthetic", "dataframe")
        if self.source not in sources:
            raise ValueError(
                f"unknown data source {self.source!r}; expected one of {', '.join(sources)}"
                + did_you_mean(self.source, sources)
            )
        if self.source in ("csv", "parquet") and self.path is None:
            raise ValueError(f"data source {self.source!r} needs 'path'")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        if self.universe and len(set(self.universe)) < len(self.universe):
            twice = next(t for t in self.universe if self.universe.count(t) > 1)
            raise ValueError(f"universe lists {twice!r} twice")
        if self.sep == "." and self.decimal != ",":
            raise ValueError("sep '.' is also the decimal mark; add decimal: ','")
        fmt = self.date_format
        if fmt and fmt not in self.NUMERIC_DATE_FORMATS and "%Y" not in fmt and "%y" not in fmt:
            raise ValueError(
                f"unknown date_format {fmt!r}; expected one of "
                f"{', '.join(self.NUMERIC_DATE_FORMATS)} or a pattern with the year, such as "
                "'%d/%m/%Y'" + did_you_mean(fmt, self.NUMERIC_DATE_FORMATS)
            )
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Unset file options left out: fingerprints of older studies stay as they were.
        dumped = handler(self)
        for key in (*self.FILE_OPTIONS, *self.UNIVERSE_RULES):
            if isinstance(dumped, dict) and dumped.get(key) is None:
                dumped.pop(key, None)
        return dumped
