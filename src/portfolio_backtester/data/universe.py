"""Point-in-time universes: which tickers a strategy may see and hold on each day.

A universe rule hides a ticker's prices (and opens, highs, lows and volumes) on the days it
is not a member, after the data are checked. Everything downstream already treats a missing
price as "not tradable": a strategy never weights an asset without a price, and the engine
forces its target to 0 and values a holding at its last price until it is sold, so a stock
that leaves the index is sold at the last price of its membership, and one that joins is
seen only from the day it joined (its earlier history is hidden too, as it was not a
member to look at).

Two rules: a membership file (ticker, from, to), and a liquidity filter that keeps the top
N tickers by average dollar volume over a trailing window, chosen on each month's last
trading day from data up to that day and kept until the next month's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError
from .dates import parse_dates
from .files import FileOptions, read_table
from .market import MarketData

__all__ = ["apply_universe", "liquidity_mask", "membership_mask", "read_membership"]

_log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

_TICKER = ("ticker", "symbol")
_FROM = ("from", "start", "start_date", "added")
_TO = ("to", "end", "end_date", "removed")


def read_membership(path: Path, options: FileOptions | None = None) -> pd.DataFrame:
    """Rows of ``ticker``, ``from``, ``to`` (inclusive dates; ``to`` empty: still a member).

    One ticker may have several rows (it left and joined again); its periods must not
    overlap. The columns may be named ``symbol``, ``start``/``end`` or ``added``/``removed``.
    """
    if not path.is_file():
        raise DataError(
            f"membership file not found: {path} (data.membership; a relative path is "
            "relative to the scenario file)"
        )
    kind = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    table = read_table(path, kind, options or FileOptions())
    lower = [name.strip().lower() for name in table.names]

    def position(names: tuple[str, ...], what: str) -> int:
        found = next((lower.index(n) for n in names if n in lower), None)
        if found is None:
            raise DataError(
                f"{path}: a membership file needs a {what} column ({' or '.join(names)}); "
                f"found {', '.join(table.names)}"
            )
        return found

    tickers = table.column(position(_TICKER, "ticker")).astype("string").str.strip()
    if tickers.isna().any() or (tickers == "").any():
        row = int(np.flatnonzero((tickers.isna() | (tickers == "")).to_numpy())[0])
        raise DataError(f"{path}: missing ticker at row {row + table.first_row}")
    start = parse_dates(
        table.column(position(_FROM, "from")),
        where=f"{path}: column {table.names[position(_FROM, 'from')]!r}",
        first_row=table.first_row,
    )
    end_column = table.column(position(_TO, "to"))
    open_ended = (
        end_column.isna().to_numpy()
        | (end_column.astype("string").str.strip().fillna("") == "").to_numpy()
    )
    end = pd.Series(pd.NaT, index=range(len(end_column)), dtype="datetime64[ns]")
    if not open_ended.all():
        end[~open_ended] = parse_dates(
            end_column[~open_ended],
            where=f"{path}: column {table.names[position(_TO, 'to')]!r}",
            first_row=table.first_row,
        )
    frame = pd.DataFrame({"ticker": tickers.to_numpy(), "from": start, "to": end.to_numpy()})
    backwards = frame["to"].notna() & (frame["to"] < frame["from"])
    if backwards.any():
        bad = frame[backwards].iloc[0]
        raise DataError(
            f"{path}: {bad['ticker']} leaves on {bad['to']:%Y-%m-%d}, before it joins on "
            f"{bad['from']:%Y-%m-%d}"
        )
    frame = frame.sort_values(["ticker", "from"], kind="stable").reset_index(drop=True)
    same = frame["ticker"].eq(frame["ticker"].shift())
    previous_end = frame["to"].shift()
    overlap = same & (previous_end.isna() | (previous_end >= frame["from"]))
    if overlap.any():
        bad = frame[overlap].iloc[0]
        raise DataError(
            f"{path}: {bad['ticker']} has overlapping memberships (one starts on "
            f"{bad['from']:%Y-%m-%d} before the previous one ends); merge them"
        )
    return frame


def membership_mask(
    membership: pd.DataFrame, index: pd.DatetimeIndex, columns: pd.Index
) -> BoolArray:
    """``(n, m)``: whether each column is a member on each date of ``index``."""
    mask = np.zeros((len(index), len(columns)), dtype=np.bool_)
    where = {str(c): j for j, c in enumerate(columns)}
    dates = index.to_numpy()
    for ticker, start, end in membership[["ticker", "from", "to"]].itertuples(index=False):
        j = where.get(str(ticker))
        if j is None:
            continue
        first = int(np.searchsorted(dates, np.datetime64(start), side="left"))
        last = len(dates) if pd.isna(end) else int(np.searchsorted(dates, end, side="right"))
        mask[first:last, j] = True
    return mask


def liquidity_mask(
    prices: pd.DataFrame, volume: pd.DataFrame, top_n: int, window_days: int
) -> BoolArray:
    """``(n, m)``: the ``top_n`` tickers by mean dollar volume over the trailing
    ``window_days`` up to each month's last trading day, held from the next day through
    that of the next month (the first month: nobody, as nothing was measured yet)."""
    dollar = prices.to_numpy(dtype=np.float64) * volume.to_numpy(dtype=np.float64)
    average = (
        pd.DataFrame(dollar, index=prices.index)
        .rolling(window_days, min_periods=max(1, window_days // 2))
        .mean()
        .to_numpy()
    )
    n, m = dollar.shape
    mask = np.zeros((n, m), dtype=np.bool_)
    months = pd.DatetimeIndex(prices.index).to_period("M")
    ends = np.flatnonzero(np.append(np.asarray(months[1:] != months[:-1]), True))
    for k, day in enumerate(ends[:-1]):
        scores = np.where(np.isnan(average[day]), -np.inf, average[day])
        ranked = np.argsort(-scores, kind="stable")[:top_n]
        chosen = ranked[np.isfinite(scores[ranked])]
        mask[day + 1 : ends[k + 1] + 1, chosen] = True
    return mask


def apply_universe(market: MarketData, mask: BoolArray, what: str) -> MarketData:
    """Hide every price field outside ``mask``; drop tickers that are never members."""
    members: BoolArray = np.asarray(mask.any(axis=0), dtype=np.bool_)
    if not members.any():
        raise DataError(f"{what}: no ticker of the data is a member on any of its dates")
    dropped = [
        str(c) for c, member in zip(market.prices.columns, members, strict=True) if not member
    ]
    if dropped:
        _log.info(
            "%s: %d tickers never members, dropped: %s", what, len(dropped), ", ".join(dropped)
        )
    kept = pd.DataFrame(mask[:, members], index=market.prices.index)

    def hidden(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        chosen = frame.iloc[:, np.flatnonzero(members)]
        return chosen.where(kept.set_axis(chosen.columns, axis=1))

    prices = hidden(market.prices)
    assert prices is not None
    return MarketData(
        prices=prices,
        benchmark=market.benchmark,
        open=hidden(market.open),
        high=hidden(market.high),
        low=hidden(market.low),
        volume=hidden(market.volume),
    )
