"""Inputs of a simulation checked once: settings, prices and target weights as arrays.

A backtest checks its inputs once; an optimisation trial checks them once and then
simulates many windows on the arrays, so these checks never run per window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError, ScenarioError, did_you_mean
from ._validate import (
    BAND_TYPES,
    EXECUTIONS,
    REBALANCE_WHEN,
    STOP_UNITS,
    check_cost_models,
    check_rebalance,
    check_settings,
    check_stops,
)

__all__ = [
    "BAND_TYPES",
    "EXECUTIONS",
    "REBALANCE_WHEN",
    "STOP_UNITS",
    "PreparedPrices",
    "Settings",
    "half_spread_rates",
    "prepare_prices",
    "prepare_targets",
]


@dataclass(frozen=True, slots=True)
class Settings:
    """How trades are made and paid for; checked once when made."""

    cost_bps: float = 0.0
    commission: float = 0.0
    initial_capital: float = 1_000_000.0
    execution: Literal["close", "next_open"] = "close"
    cash_rate: float = 0.0
    max_gross_leverage: float | None = None
    allow_short: bool = True
    rebalance_when: Literal["schedule", "target_change"] = "schedule"
    """"target_change": a rebalance date whose target equals the one before trades nothing."""
    band: float | None = None
    """Drift an asset may keep before it is traded back to target (None: always trade)."""
    band_type: Literal["absolute", "relative"] = "absolute"
    min_trade: float = 0.0
    """A trade in one asset below this fraction of the portfolio's value is skipped."""
    per_share: float = 0.0
    """Commission in currency per share traded, per order (one order per traded asset)."""
    per_share_min: float = 0.0
    """The per-share commission of an order is at least this (currency)."""
    per_share_max: float | None = None
    """... and at most this (currency); the maximums win over the minimum."""
    per_share_max_fraction: float | None = None
    """... and at most this fraction of the order's value (IB-style 1 % is 0.01)."""
    half_spread_bps: float | Mapping[str, float] = 0.0
    """Half the bid-ask spread in bps of traded value: one for all assets, or per ticker."""
    impact: float = 0.0
    """Square-root market impact coefficient (needs volume)."""
    volume_window: int = 20
    """Days before a trade over which impact's volatility and average volume are measured."""
    borrow_rate: float = 0.0
    """Annual fee on the short value, accrued daily on the previous close's book."""
    financing_rate: float = 0.0
    """Annual fee on negative cash, on top of ``cash_rate``, accrued likewise."""
    stop_loss: float | None = None
    """Distance of each position's stop-loss from its entry price (None: off)."""
    take_profit: float | None = None
    """Distance of its take-profit from the entry price (None: off)."""
    trailing_stop: float | None = None
    """Distance of its trailing stop from its best price since entry (None: off)."""
    stop_unit: Literal["fraction", "atr"] = "fraction"
    """Stop distances as fractions of the price (0.1: 10 %) or multiples of the ATR."""
    atr_window: int = 14
    """Days of the average true range of ``stop_unit="atr"``."""

    def __post_init__(self) -> None:
        check_settings(
            cost_bps=self.cost_bps,
            commission=self.commission,
            initial_capital=self.initial_capital,
            execution=self.execution,
            cash_rate=self.cash_rate,
            max_gross_leverage=self.max_gross_leverage,
        )
        check_rebalance(self.rebalance_when, self.band, self.band_type, self.min_trade)
        check_cost_models(self)
        check_stops(self)

    @property
    def trades_every_asset(self) -> bool:
        """Whether each execution trades every asset to its target (the fast kernel's rule)."""
        return self.band is None and self.min_trade == 0.0

    @property
    def has_stops(self) -> bool:
        return any(v is not None for v in (self.stop_loss, self.take_profit, self.trailing_stop))

    @property
    def has_cost_models(self) -> bool:
        """Whether a cost beyond ``cost_bps`` and ``commission`` is on (the loop's work)."""
        spread = self.half_spread_bps
        spread_on = (
            any(v > 0 for v in spread.values()) if isinstance(spread, Mapping) else spread > 0
        )
        return (
            self.per_share > 0
            or self.per_share_min > 0
            or spread_on
            or self.impact > 0
            or self.borrow_rate > 0
            or self.financing_rate > 0
        )


@dataclass(frozen=True, slots=True)
class PreparedPrices:
    """Prices checked once and kept as asset-major arrays, to simulate many date ranges.

    An optimisation simulates the same data over many windows and trials; checking and
    converting the frames once per trial instead of once per window removes most of the
    pandas work from a trial.
    """

    index: pd.Index
    columns: pd.Index
    closes: npt.NDArray[np.float64]
    closes_missing: bool
    opens: npt.NDArray[np.float64] | None
    opens_missing: bool
    volumes: npt.NDArray[np.float64] | None = None
    """``(m, n)`` shares traded each day (NaN: unknown), for the impact model."""
    highs: npt.NDArray[np.float64] | None = None
    """``(m, n)`` daily highs (NaN: unknown), for stops; given with ``lows``."""
    lows: npt.NDArray[np.float64] | None = None


def prepare_prices(
    prices: pd.DataFrame,
    open_prices: pd.DataFrame | None = None,
    volume: pd.DataFrame | None = None,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
) -> PreparedPrices:
    """Check ``prices`` (and ``open_prices``, ``volume``, ``high`` and ``low`` if given)
    once; see :func:`simulate`."""
    closes, closes_missing = _price_array(prices, "prices")
    opens, opens_missing = (None, False)
    if open_prices is not None:
        opens, opens_missing = _open_array(open_prices, prices)
    volumes = None if volume is None else _volume_array(volume, prices)
    if (high is None) != (low is None):
        raise DataError("give both high and low prices, or neither")
    highs = lows = None
    if high is not None and low is not None:
        highs = _aligned_array(high, prices, "high")[0]
        lows = _aligned_array(low, prices, "low")[0]
        if bool((lows > highs).any()):
            cols, rows = np.nonzero(lows > highs)
            raise DataError(
                f"low is above high for {prices.columns[cols[0]]!r} on "
                f"{prices.index[rows[0]]}; check the file's high and low columns"
            )
    return PreparedPrices(
        prices.index,
        prices.columns,
        closes,
        closes_missing,
        opens,
        opens_missing,
        volumes,
        highs,
        lows,
    )


def prepare_targets(
    target_weights: pd.DataFrame, market: PreparedPrices
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Rebalance dates as sorted positions in the prices, and ``(assets, dates)`` targets on
    the prices' columns (0 where ``target_weights`` lacks a column)."""
    price_index, price_columns = market.index, market.columns
    if not isinstance(target_weights, pd.DataFrame):
        raise DataError(
            f"target_weights must be a pandas DataFrame, got {type(target_weights).__name__}"
        )
    columns = target_weights.columns
    if not columns.is_unique:
        duplicated = columns[columns.duplicated()].tolist()
        raise DataError(f"target_weights has duplicated columns {duplicated}; keep one of each")
    column_positions = price_columns.get_indexer(columns)
    if (column_positions < 0).any():
        unknown = columns[column_positions < 0]
        raise DataError(
            f"target_weights has columns that are not in prices: {unknown.tolist()}"
            + did_you_mean(str(unknown[0]), [str(c) for c in price_columns])
            + f"; prices has {len(price_columns)} columns"
        )
    if not target_weights.index.is_unique:
        repeated = target_weights.index[target_weights.index.duplicated()]
        raise DataError(
            f"target_weights has duplicated rebalance date {repeated[0]}; keep one row per date"
        )
    positions = price_index.get_indexer(target_weights.index).astype(np.int64)
    if (positions < 0).any():
        bad = target_weights.index[np.flatnonzero(positions < 0)[0]]
        raise DataError(
            f"target_weights date {bad} is not in the prices index; rebalance dates must be "
            "trading days of prices"
        )
    try:
        values = target_weights.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"target_weights must be numeric: {exc}") from exc
    # A sum, not a mask the size of the data: it is finite unless a weight is not.
    if not np.isfinite(values.sum()):
        rows, cols = np.nonzero(~np.isfinite(values))
        if len(rows):
            raise DataError(
                f"target_weights must be finite: {columns[cols[0]]!r} on "
                f"{target_weights.index[rows[0]]} is {values[rows[0], cols[0]]!r}; use 0 "
                "for no position"
            )
    in_order = bool((np.diff(positions) > 0).all())
    order = slice(None) if in_order else np.argsort(positions)
    same_columns = len(columns) == len(price_columns) and bool(
        (column_positions == np.arange(len(columns))).all()
    )
    if same_columns:
        return positions[order], np.ascontiguousarray(values.T[:, order])
    targets = np.zeros((len(price_columns), len(positions)))
    targets[column_positions] = values.T[:, order]
    return positions[order], targets


def half_spread_rates(
    half_spread_bps: float | Mapping[str, float], columns: pd.Index
) -> npt.NDArray[np.float64] | None:
    """Half the spread per unit of traded value for each of ``columns``; None if all 0.

    A ticker the mapping does not name pays no spread; a name that is not a column is
    refused, since it is most likely a typo.
    """
    if not isinstance(half_spread_bps, Mapping):
        if half_spread_bps == 0:
            return None
        return np.full(len(columns), float(half_spread_bps) / 1e4)
    known = [str(c) for c in columns]
    unknown = [t for t in half_spread_bps if t not in known]
    if unknown:
        raise ScenarioError(
            f"half_spread_bps names {unknown[0]!r}, which is not a column of the prices"
            + did_you_mean(str(unknown[0]), known)
            + "; name tickers of the universe only"
        )
    rates = np.array([float(half_spread_bps.get(t, 0.0)) / 1e4 for t in known])
    return rates if rates.any() else None


def _volume_array(volume: pd.DataFrame, prices: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Volume aligned to ``prices``: ``(m, n)``, finite and >= 0 where present."""
    if not isinstance(volume, pd.DataFrame):
        raise DataError(f"volume must be a pandas DataFrame, got {type(volume).__name__}")
    if not volume.index.equals(prices.index):
        raise DataError("volume must have exactly the dates of prices (same index)")
    missing = prices.columns.difference(volume.columns)
    if len(missing):
        raise DataError(f"volume lacks columns of prices: {missing.tolist()}")
    if not volume.columns.equals(prices.columns):
        volume = volume.reindex(columns=prices.columns)
    try:
        values = np.ascontiguousarray(volume.to_numpy(dtype=np.float64).T)
    except (TypeError, ValueError) as exc:
        raise DataError(f"volume must be numeric: {exc}") from exc
    bad = ~np.isnan(values) & ~((values >= 0) & (values < np.inf))
    if bad.any():
        cols, rows = np.nonzero(bad)
        raise DataError(
            f"volume must be finite and >= 0 where present (NaN marks a missing day): "
            f"{volume.columns[cols[0]]!r} on {volume.index[rows[0]]} is "
            f"{values[cols[0], rows[0]]!r}"
        )
    return values


def _price_array(frame: pd.DataFrame, what: str) -> tuple[npt.NDArray[np.float64], bool]:
    """The frame's values as a ``(m, n)`` float64 array, and whether any price is missing.

    Checked: positive where present. For a float frame (or a row slice of one) the
    transpose is a view of pandas' block, so nothing is copied.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    if not frame.index.is_unique or not frame.index.is_monotonic_increasing:
        raise DataError(
            f"{what} index must be sorted and without duplicate dates; "
            "sort it and drop duplicates first (frame.sort_index())"
        )
    if not frame.columns.is_unique:
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        raise DataError(f"{what} has duplicated columns {duplicated}; keep one of each")
    try:
        values = frame.to_numpy(dtype=np.float64).T
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numeric: {exc}") from exc
    if values.strides[1] != values.itemsize:
        # Dates must be contiguous within each asset's row (a row slice of a frame still
        # is); a Fortran-ordered (m, n) array would make every operation strided.
        values = np.ascontiguousarray(values)
    if values.size == 0:
        return values, False
    # Reductions, not masks: no temporary the size of the data. min and max propagate
    # NaN, so the common case (no price missing) costs two passes.
    low, high = values.min(), values.max()
    missing = False
    if not (low > 0 and high < np.inf):
        missing = bool(np.isnan(low))
        if missing:
            low, high = np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)
            if np.isnan(low):
                return values, True  # nothing is priced at all: nothing can be held
    if not (low > 0 and high < np.inf):
        rows, cols = np.nonzero(~((values.T > 0) & (values.T < np.inf)) & ~np.isnan(values.T))
        raise DataError(
            f"{what} must be positive and finite where present (NaN marks a missing "
            f"price): {frame.columns[cols[0]]!r} on {frame.index[rows[0]]} is "
            f"{values[cols[0], rows[0]]!r}"
        )
    return values, missing


def _open_array(
    open_prices: pd.DataFrame | None, prices: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], bool]:
    """Open prices aligned to ``prices``' dates and columns, as :func:`_price_array`."""
    if open_prices is None:
        raise ScenarioError(
            'execution="next_open" needs open_prices; pass them or use execution="close"'
        )
    return _aligned_array(open_prices, prices, "open_prices")


def _aligned_array(
    frame: pd.DataFrame, prices: pd.DataFrame, what: str
) -> tuple[npt.NDArray[np.float64], bool]:
    """Another price field aligned to ``prices``' dates and columns, as :func:`_price_array`."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    if not frame.index.equals(prices.index):
        raise DataError(f"{what} must have exactly the dates of prices (same index)")
    missing = prices.columns.difference(frame.columns)
    if len(missing):
        raise DataError(f"{what} lacks columns of prices: {missing.tolist()}")
    if not frame.columns.equals(prices.columns):
        frame = frame.reindex(columns=prices.columns)
    return _price_array(frame, what)
