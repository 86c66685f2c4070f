"""Stops per position: when a held asset is taken out, and until when it stays out.

A position opens when an execution leaves an asset held that was flat (or held with the
other sign) and closes when one leaves it flat; resizing it keeps it open. Its levels are
set when it opens, from its entry price ``e`` (the execution price) and side ``s`` (+1
long, -1 short), and kept while it is resized. With distances ``k`` in fractions of the
price (``unit="fraction"``) the levels are ``e * (1 - s k)`` for the stop-loss and
``e * (1 + s k)`` for the take-profit; the trailing stop is ``x * (1 - s k)``, where ``x``
is the best price since the entry (highest for a long, lowest for a short) up to the day
before the one checked. In multiples of the average true range (``unit="atr"``) the
distance is ``k * ATR`` instead, with the ATR of the decision day of the entry.

Each day that ends with the position held is checked against its levels (from the day
after the entry when trading at the close, from the entry day when trading at the open),
on the close, or with highs and lows on the low (long stop-loss and trailing stop, short
take-profit) and the high (the others), the range widened to the close. A position that
hits a level on day d exits as a target dated d would trade: at d's close with
``execution="close"``, at the next day's open with ``"next_open"`` (so the last day is not
checked then). The rest of the portfolio keeps its shares and the proceeds stay in cash.
The asset stays out until the strategy's target for it, as asked before cleaning, changes
from the one in force when the stop fired: while it is unchanged, a rebalance leaves the
asset flat. A stop hit on a rebalance whose new target takes the asset back opens a new
position there (one order, new levels).

Arrays are laid out as in :mod:`._kernel`: ``(m, n)`` asset-major, positions local to the
simulated range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from ._kernel import TRADE_EPSILON, BoolArray, FloatArray
from .checks import PreparedPrices, Settings

__all__ = [
    "STOP_RULES",
    "StopBook",
    "StopRules",
    "StopUndefinedError",
    "average_true_range",
    "stop_book",
]

STOP_RULES = ("stop_loss", "take_profit", "trailing_stop")
"""The names of the rules, as the engine reports a stop's exit."""

_LOSS, _PROFIT, _TRAIL = range(len(STOP_RULES))
_PRIORITY = (_LOSS, _TRAIL, _PROFIT)
"""Which rule a day that hits several is reported as: losses first."""


class StopUndefinedError(Exception):
    """A position opened where its ATR stop has no true range to be measured from."""

    def __init__(self, position: int, asset: int) -> None:
        super().__init__(position, asset)
        self.position = position
        self.asset = asset


@dataclass(frozen=True, slots=True)
class StopRules:
    """The distances of the stops (None: that stop is off) and their unit."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    atr: bool = False
    """Distances in multiples of the average true range rather than fractions of price."""

    @property
    def distances(self) -> tuple[float | None, float | None, float | None]:
        return self.stop_loss, self.take_profit, self.trailing_stop


def average_true_range(
    highs: FloatArray, lows: FloatArray, closes: FloatArray, window: int
) -> FloatArray:
    """``(m, n)``: the mean true range of the ``window`` days ending on each day.

    The true range of day d is ``max(high_d, close_{d-1}) - min(low_d, close_{d-1})``
    (``high_d - low_d`` without a previous close); the mean is over the days of the window
    where it is known, NaN where none is. Inputs unfilled: NaN is a missing price.
    """
    previous = np.full_like(closes, np.nan)
    previous[:, 1:] = closes[:, :-1]
    true_range = np.fmax(highs, previous) - np.fmin(lows, previous)
    known = np.isfinite(highs) & np.isfinite(lows)
    values = np.where(known, true_range, 0.0)
    sums = np.cumsum(values, axis=1)
    counts = np.cumsum(known, axis=1)
    if window < sums.shape[1]:
        sums[:, window:] = sums[:, window:] - sums[:, :-window].copy()
        counts[:, window:] = counts[:, window:] - counts[:, :-window].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


class StopBook:
    """The stop state of one run: levels of the open positions and the assets kept out.

    ``closes``: ``(m, n)`` filled closes; ``highs``/``lows``: filled with the close where
    missing, or None to check on closes; ``exit_prices``: ``(m, n)`` the price an exit on
    each day trades at; ``lag``: 0 when an exit trades at the close of the day it is hit,
    1 when at the next open; ``atr``: ``(m, n)`` for ATR distances.
    """

    def __init__(
        self,
        rules: StopRules,
        closes: FloatArray,
        highs: FloatArray | None,
        lows: FloatArray | None,
        exit_prices: FloatArray,
        lag: int,
        atr: FloatArray | None,
    ) -> None:
        m, self.n = closes.shape
        self.rules, self.lag, self.atr = rules, lag, atr
        self.low = closes if lows is None else lows
        self.high = closes if highs is None else highs
        self.exit_prices = exit_prices
        self.side = np.zeros(m)
        self.entry = np.full(m, np.nan)
        self.scale = np.ones(m)
        """Per position: the unit of its distances (its entry price, or its ATR)."""
        self.best = np.full(m, np.nan)
        """Per position: its best price up to the last day checked."""
        self.kept_out = np.full(m, np.nan)
        """Per asset: the target in force when its stop fired (NaN: not kept out)."""
        self.in_force = np.zeros(m)
        self.events: list[tuple[int, int, int]] = []
        """``(position, asset, rule)`` of each stop's exit, in order."""
        self.undefined: tuple[int, int] | None = None
        """The first ``(position, asset)`` of a position opened without an ATR."""

    def admit(self, target: FloatArray, asked: FloatArray) -> FloatArray:
        """A scheduled execution's target with the assets still kept out set to 0.

        ``asked`` is the strategy's target before cleaning: a missing price or a leverage
        cap that changes the cleaned weight is not the strategy changing its mind.
        """
        self.in_force = asked
        out = self.kept_out
        waiting = ~np.isnan(out)
        if not waiting.any():
            return target
        same = waiting & (np.abs(asked - np.where(waiting, out, 0.0)) <= TRADE_EPSILON)
        out[waiting & ~same] = np.nan  # the strategy changed its mind: the asset may return
        return np.where(same, 0.0, target)

    def next_exit(self, since: int, until: int) -> tuple[int, BoolArray] | None:
        """The first exit after an execution at ``since`` and no later than ``until``.

        Checks the days the current positions are held at the close whose exit would
        trade by ``until``; returns the exit's position and a mask of the assets taken
        out, having recorded them as kept out, or None.
        """
        assets = np.flatnonzero(self.side)
        first, last = since + 1 - self.lag, min(until - self.lag, self.n - 1 - self.lag)
        if len(assets) == 0 or last < first:
            return None
        side = self.side[assets, None]
        long = side > 0
        low, high = self.low[assets, first : last + 1], self.high[assets, first : last + 1]
        adverse, favourable = np.where(long, low, high), np.where(long, high, low)
        entry, scale = self.entry[assets, None], self.scale[assets, None]
        loss, profit, trail = self.rules.distances
        hits: dict[int, BoolArray] = {}
        if loss is not None:
            hits[_LOSS] = side * (adverse - (entry - side * loss * scale)) <= 0.0
        if profit is not None:
            hits[_PROFIT] = side * (favourable - (entry + side * profit * scale)) >= 0.0
        best_before = signed_best = None
        if trail is not None:  # the best price so far: only the trailing stop reads it
            signed_best = np.maximum.accumulate(side * favourable, axis=1)
            best_before = np.empty_like(signed_best)
            best_before[:, 0] = side[:, 0] * self.best[assets]
            np.maximum(best_before[:, 0:1], signed_best[:, :-1], out=best_before[:, 1:])
            best = side * best_before
            distance = trail * (scale if self.atr is not None else best)
            hits[_TRAIL] = side * (adverse - (best - side * distance)) <= 0.0
        rules = iter(hits.values())
        any_hit = next(rules)
        for more in rules:
            any_hit = any_hit | more
        hit_rows = any_hit.any(axis=1)
        found = bool(hit_rows.any())
        day = (
            int(np.where(hit_rows, any_hit.argmax(axis=1), any_hit.shape[1]).min())
            if found
            else -1
        )
        if best_before is not None and signed_best is not None:
            self.best[assets] = side[:, 0] * np.maximum(best_before[:, day], signed_best[:, day])
        if not found:
            return None
        out = any_hit[:, day]
        position = first + day + self.lag
        mask = np.zeros(len(self.side), dtype=np.bool_)
        for row in np.flatnonzero(out):
            asset = int(assets[row])
            rule = next(r for r in _PRIORITY if r in hits and hits[r][row, day])
            self.events.append((position, asset, rule))
            mask[asset] = True
            self.kept_out[asset] = self.in_force[asset]
        return position, mask

    def traded(
        self,
        before: FloatArray,
        after: FloatArray,
        prices: FloatArray,
        at: int,
        reentered: BoolArray | None = None,
    ) -> None:
        """Open and close positions after an execution at ``at`` changed shares.

        ``reentered``: assets whose stop fired on this execution's rebalance and whose new
        target took them back: a new position, with new levels, even on the same side.
        """
        side = np.sign(after)
        opened = (side != 0) & (side != np.sign(before))
        if reentered is not None:
            opened |= reentered & (side != 0)
        if opened.any():
            self.entry[opened] = prices[opened]
            self.best[opened] = prices[opened]
            if self.atr is None:
                self.scale[opened] = prices[opened]
            else:
                decided = max(at - self.lag, 0)
                atr = self.atr[opened, decided]
                self.scale[opened] = atr  # NaN never hits: refused unless after a ruin
                if self.undefined is None and np.isnan(atr).any():
                    self.undefined = (at, int(np.flatnonzero(opened)[np.isnan(atr).argmax()]))
        self.side = side


def stop_book(
    market: PreparedPrices,
    settings: Settings,
    first: int,
    last: int,
    closes: FloatArray,
    exit_prices: FloatArray,
) -> StopBook:
    """The stop state of a run over dates ``first..last``, from the market's arrays."""
    rules = StopRules(
        settings.stop_loss,
        settings.take_profit,
        settings.trailing_stop,
        settings.stop_unit == "atr",
    )
    highs = lows = atr = None
    if market.highs is not None and market.lows is not None:
        span = slice(first, last + 1)
        high, low = market.highs[:, span], market.lows[:, span]
        # The close is a price of the day: a range that misses it is widened to it.
        highs = np.fmax(high, closes)
        lows = np.fmin(low, closes)
        if rules.atr:  # from the whole history: the window may reach before ``first``
            atr = average_true_range(
                market.highs[:, : last + 1],
                market.lows[:, : last + 1],
                market.closes[:, : last + 1],
                settings.atr_window,
            )[:, span]
    elif rules.atr:
        raise ScenarioError(
            "stops in multiples of the ATR need high and low prices; give data with high "
            "and low columns, or use stop_unit: fraction"
        )
    lag = 0 if settings.execution == "close" else 1
    return StopBook(rules, closes, highs, lows, exit_prices, lag, atr)
