"""A slow, obviously correct twin of ``simulate``: one plain-Python loop over days.

It holds share counts and cash and applies the rules of ``simulation/engine.py`` one day
at a time, with no arrays and no vectorisation, so that the fast engine can be checked
against it (the pattern of bottleneck's ``slow`` functions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from portfolio_backtester.simulation import SimulationResult

TRADE_EPSILON = 1e-12
KINDS = ("bps", "commission", "per_share", "spread", "impact", "borrow", "financing")


def reference_simulate(
    prices: pd.DataFrame,
    target_weights: pd.DataFrame,
    *,
    cost_bps: float = 0.0,
    commission: float = 0.0,
    initial_capital: float = 1_000_000.0,
    execution: str = "close",
    open_prices: pd.DataFrame | None = None,
    cash_rate: float = 0.0,
    max_gross_leverage: float | None = None,
    allow_short: bool = True,
    rebalance_when: str = "schedule",
    band: float | None = None,
    band_type: str = "absolute",
    min_trade: float = 0.0,
    per_share: float = 0.0,
    per_share_min: float = 0.0,
    per_share_max: float | None = None,
    per_share_max_fraction: float | None = None,
    half_spread_bps: float | Mapping[str, float] = 0.0,
    impact: float = 0.0,
    volume_window: int = 20,
    borrow_rate: float = 0.0,
    financing_rate: float = 0.0,
    volume: pd.DataFrame | None = None,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_stop: float | None = None,
    stop_unit: str = "fraction",
    atr_window: int = 14,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
) -> SimulationResult:
    """Same contract as ``simulate`` for valid inputs (no validation here)."""
    dates = list(prices.index)
    tickers = list(prices.columns)
    closes = [[float(v) for v in row] for row in prices.to_numpy()]
    opens = None
    if execution == "next_open":
        assert open_prices is not None
        opens = [[float(v) for v in row] for row in open_prices[tickers].to_numpy()]
    volumes = None
    if impact > 0:
        assert volume is not None
        volumes = [[float(v) for v in row] for row in volume[tickers].to_numpy()]
    stops_on = any(v is not None for v in (stop_loss, take_profit, trailing_stop))
    highs = lows = None
    if stops_on and high is not None and low is not None:
        highs = [[float(v) for v in row] for row in high[tickers].to_numpy()]
        lows = [[float(v) for v in row] for row in low[tickers].to_numpy()]
    if isinstance(half_spread_bps, Mapping):
        half_spread = [half_spread_bps.get(str(t), 0.0) / 1e4 for t in tickers]
    else:
        half_spread = [half_spread_bps / 1e4] * len(tickers)
    targets = {
        dates.index(date): [float(row.get(t, 0.0)) for t in tickers]
        for date, row in target_weights.iterrows()
    }
    if not targets:
        raise ValueError("the reference simulator needs at least one rebalance date")
    first = min(targets)
    n_assets = len(tickers)

    shares = [0.0] * n_assets
    last_price: list[float | None] = [None] * n_assets
    cash = initial_capital
    previous_value = initial_capital
    pending: list[float] | None = None
    previous_target: list[float] | None = None  # the last rebalance's cleaned target

    out_returns, out_weights, out_turnover, out_costs, out_trades = [], [], [], [], []
    out_kinds: list[list[float]] = []
    # Stops: each position's side, entry, unit of distance and best price so far; the
    # target in force when an asset's stop fired (None: not kept out); the exits.
    side = [0] * n_assets
    entry = [0.0] * n_assets
    unit = [0.0] * n_assets
    best = [0.0] * n_assets
    kept_out: list[float | None] = [None] * n_assets
    in_force = [0.0] * n_assets
    exits: list[tuple[int, int, str]] = []
    pending_exits: list[int] = []

    def observe(row: list[float]) -> None:
        for i, price in enumerate(row):
            if not math.isnan(price):
                last_price[i] = price

    def wanted_by_rules(size: float, target: float) -> bool:
        """Whether a trade of ``size`` (a fraction of value) to ``target`` is made."""
        if band is None and min_trade == 0.0:
            return True  # every asset goes to its target, however small the change
        limit = TRADE_EPSILON
        if band is not None:
            limit = max(band * abs(target) if band_type == "relative" else band, limit)
        return size > limit and size >= min_trade

    def value_now() -> float:
        total = cash
        for i in range(n_assets):
            if shares[i] != 0.0:
                price = last_price[i]
                assert price is not None
                total += shares[i] * price
        return total

    def impact_measures(day: int, i: int) -> tuple[float, float]:
        """Volatility and average traded value of asset i over the window before ``day``."""
        assert volumes is not None
        returns, dollars = [], []
        for d in range(max(day - volume_window, 0), day):
            if d >= 1 and not math.isnan(closes[d][i]) and not math.isnan(closes[d - 1][i]):
                returns.append(closes[d][i] / closes[d - 1][i] - 1.0)
            if not math.isnan(closes[d][i]) and not math.isnan(volumes[d][i]):
                dollars.append(closes[d][i] * volumes[d][i])
        if len(returns) < 2 or not dollars or sum(dollars) <= 0:
            raise ValueError("no volatility or volume to price the impact with")
        mean = sum(returns) / len(returns)
        sigma = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
        return sigma, sum(dollars) / len(dollars)

    def order_costs(i: int, change: float, price: float, day: int, counted: bool) -> list[float]:
        """Each kind's cost, in currency, of a trade of ``change`` in asset i."""
        size = abs(change)
        kinds = [0.0] * len(KINDS)
        kinds[0] = cost_bps / 1e4 * size
        kinds[3] = half_spread[i] * size
        if impact > 0 and size > 0:
            sigma, adv = impact_measures(day, i)
            kinds[4] = impact * sigma * math.sqrt(size / adv) * size
        if counted:
            kinds[1] = commission
            if per_share > 0 or per_share_min > 0:
                fee = max(per_share * size / price, per_share_min)
                if per_share_max is not None:
                    fee = min(fee, per_share_max)
                if per_share_max_fraction is not None:
                    fee = min(fee, per_share_max_fraction * size)
                kinds[2] = fee
        return kinds

    def average_true_range(i: int, day: int) -> float:
        assert highs is not None and lows is not None
        ranges = []
        for d in range(max(day - atr_window + 1, 0), day + 1):
            h, lo, c = highs[d][i], lows[d][i], closes[d - 1][i] if d > 0 else math.nan
            if math.isnan(h) or math.isnan(lo):
                continue
            ranges.append(max(h, c) - min(lo, c) if not math.isnan(c) else h - lo)
        assert ranges, "no true range to set an ATR stop with"
        return sum(ranges) / len(ranges)

    def positions_after(before: list[float], day: int, reentered: list[int] | None = None) -> None:
        """Open and close positions after a trade (entry at the trade's price); an asset
        whose stop fired on this rebalance and is held after it is a new position."""
        for i in range(n_assets):
            new = (shares[i] > 0) - (shares[i] < 0)
            again = reentered is not None and i in reentered
            if new != 0 and (again or new != (before[i] > 0) - (before[i] < 0)):
                price = last_price[i]
                assert price is not None
                entry[i] = best[i] = price
                if stop_unit == "atr":
                    unit[i] = average_true_range(i, day if opens is None else day - 1)
                else:
                    unit[i] = price
            side[i] = new

    def stop_hit(i: int, day: int) -> str | None:
        """The rule a held position hits at day's close (or range), then its best price."""
        close = last_price[i]
        assert close is not None
        lo = close if lows is None or math.isnan(lows[day][i]) else min(lows[day][i], close)
        hi = close if highs is None or math.isnan(highs[day][i]) else max(highs[day][i], close)
        s = side[i]
        adverse, favourable = (lo, hi) if s > 0 else (hi, lo)
        rule = None
        if stop_loss is not None and s * (adverse - (entry[i] - s * stop_loss * unit[i])) <= 0:
            rule = "stop_loss"
        elif trailing_stop is not None:
            distance = trailing_stop * (unit[i] if stop_unit == "atr" else best[i])
            if s * (adverse - (best[i] - s * distance)) <= 0:
                rule = "trailing_stop"
        if rule is None and take_profit is not None:
            if s * (favourable - (entry[i] + s * take_profit * unit[i])) >= 0:
                rule = "take_profit"
        best[i] = max(best[i], favourable) if s > 0 else min(best[i], favourable)
        return rule

    def check_stops(day: int) -> list[int]:
        hit = []
        for i in range(n_assets):
            if side[i] != 0:
                rule = stop_hit(i, day)
                if rule is not None:
                    hit.append(i)
                    kept_out[i] = in_force[i]
                    exits.append((day + (0 if opens is None else 1), i, rule))
        return hit

    def sell(assets: list[int], day: int) -> tuple[float, list[float], int]:
        """A stop's exit: the assets are sold, the rest keeps its shares."""
        nonlocal cash
        before = list(shares)
        value = value_now()
        paid = [0.0] * len(KINDS)
        traded_value = 0.0
        for i in assets:
            price = last_price[i]
            assert price is not None
            change = -shares[i] * price
            traded_value += abs(change)
            kinds = order_costs(i, change, price, day, True)
            paid = [p + k for p, k in zip(paid, kinds, strict=True)]
            cash -= change
            shares[i] = 0.0
        cash -= sum(paid)
        positions_after(before, day)
        return traded_value / value, [p / value for p in paid], len(assets)

    def trade(
        wanted: list[float], tradable: list[bool], day: int, forced: list[int] | None = None
    ) -> tuple[float, list[float], int]:
        nonlocal cash, previous_target
        weights = []
        for i in range(n_assets):
            w = wanted[i] if tradable[i] else 0.0
            if not allow_short and w < 0:
                w = 0.0
            weights.append(w)
        gross = sum(abs(w) for w in weights)
        if max_gross_leverage is not None and gross > max_gross_leverage:
            weights = [w * max_gross_leverage / gross for w in weights]
        unchanged = previous_target is not None and all(
            abs(w - p) <= TRADE_EPSILON for w, p in zip(weights, previous_target, strict=True)
        )
        previous_target = weights
        if rebalance_when == "target_change" and unchanged:
            if forced:  # nothing to rebalance, but a stop's exit to make
                return sell(forced, day)
            return 0.0, [0.0] * len(KINDS), 0
        in_force[:] = wanted  # as the strategy asked: cleaning is no change of mind
        weights = list(weights)
        for i in range(n_assets):
            ref = kept_out[i]
            if ref is not None:
                if abs(wanted[i] - ref) <= TRADE_EPSILON:
                    weights[i] = 0.0  # still out: the strategy has not changed its mind
                else:
                    kept_out[i] = None
        before = list(shares)
        value = value_now()
        traded_value = 0.0
        traded_assets = 0
        paid = [0.0] * len(KINDS)
        for i in range(n_assets):
            price = last_price[i]
            current = shares[i] * price if shares[i] != 0.0 and price is not None else 0.0
            wanted_value = weights[i] * value
            change = wanted_value - current
            size = abs(change) / abs(value)
            if forced and i in forced and size > TRADE_EPSILON:
                pass  # a stop's exit on this rebalance: no band keeps it
            elif not wanted_by_rules(size, weights[i]):
                continue  # inside the band or too small: the shares are kept
            traded_value += abs(change)
            counted = abs(change) > TRADE_EPSILON * abs(value)
            if counted:
                traded_assets += 1
            if change != 0.0:
                assert price is not None
                kinds = order_costs(i, change, price, day, counted)
                paid = [p + k for p, k in zip(paid, kinds, strict=True)]
            cash -= change
            shares[i] = wanted_value / price if weights[i] != 0.0 and price is not None else 0.0
        cash -= sum(paid)
        if stops_on:
            positions_after(before, day, forced)
        return traded_value / value, [p / value for p in paid], traded_assets

    def accrue() -> list[float]:
        """Start of a day: interest, borrow and financing on the previous close's book."""
        nonlocal cash
        short_value = 0.0
        for i in range(n_assets):
            if shares[i] < 0.0:
                price = last_price[i]
                assert price is not None
                short_value += -shares[i] * price
        borrow = borrow_rate / 252 * short_value
        financing = financing_rate / 252 * -cash if cash < 0.0 else 0.0
        cash = cash * (1.0 + cash_rate / 252) - borrow - financing
        accrued = [0.0] * len(KINDS)
        accrued[5], accrued[6] = borrow / previous_value, financing / previous_value
        return accrued

    ruined = False
    ruin_day = len(dates)
    for day in range(first, len(dates)):
        if ruined:  # everything was lost: nothing is held or traded any more
            out_returns.append(0.0)
            out_weights.append([0.0] * n_assets)
            out_turnover.append(0.0)
            out_costs.append(0.0)
            out_trades.append(0)
            out_kinds.append([0.0] * len(KINDS))
            continue
        kinds = [0.0] * len(KINDS)
        if day > first:
            kinds = accrue()
        turnover = 0.0
        n_traded = 0
        if opens is not None:
            observe(opens[day])
            if pending is not None:
                tradable = [
                    not math.isnan(closes[day - 1][i]) and not math.isnan(opens[day][i])
                    for i in range(n_assets)
                ]
                turnover, paid, n_traded = trade(pending, tradable, day, pending_exits)
                kinds = [k + p for k, p in zip(kinds, paid, strict=True)]
                pending = None
            elif pending_exits:
                turnover, paid, n_traded = sell(pending_exits, day)
                kinds = [k + p for k, p in zip(kinds, paid, strict=True)]
            pending_exits = []
        observe(closes[day])
        hit = check_stops(day) if stops_on and (opens is None or day + 1 < len(dates)) else []
        if day in targets:
            if opens is None:
                tradable = [not math.isnan(p) for p in closes[day]]
                turnover, paid, n_traded = trade(targets[day], tradable, day, hit)
                kinds = [k + p for k, p in zip(kinds, paid, strict=True)]
            else:
                pending = targets[day]
        elif hit and opens is None:
            turnover, paid, n_traded = sell(hit, day)
            kinds = [k + p for k, p in zip(kinds, paid, strict=True)]
        if opens is not None:
            pending_exits = hit
        value = value_now()
        if value <= 0.0:
            ruined = True
            ruin_day = day
            out_returns.append(-1.0)
            out_weights.append([0.0] * n_assets)
            out_turnover.append(turnover)
            out_costs.append(sum(kinds))
            out_trades.append(n_traded)
            out_kinds.append(kinds)
            continue
        out_returns.append(value / previous_value - 1.0)
        out_weights.append(
            [
                shares[i] * last_price[i] / value if shares[i] != 0.0 else 0.0  # type: ignore[operator]
                for i in range(n_assets)
            ]
        )
        out_turnover.append(turnover)
        out_costs.append(sum(kinds))
        out_trades.append(n_traded)
        out_kinds.append(kinds)
        previous_value = value

    index = prices.index[first:]
    stop_exits = None
    if stops_on:
        kept = [e for e in exits if e[0] <= ruin_day]
        stop_exits = pd.DataFrame(
            {
                "date": prices.index.take([e[0] for e in kept]),
                "asset": prices.columns.take([e[1] for e in kept]),
                "rule": pd.Index([e[2] for e in kept], dtype=pd.Index(["rule"]).dtype),
            }
        )
    return SimulationResult(
        returns=pd.Series(out_returns, index=index, dtype="float64"),
        weights=pd.DataFrame(out_weights, index=index, columns=prices.columns, dtype="float64"),
        turnover=pd.Series(out_turnover, index=index, dtype="float64"),
        costs=pd.Series(out_costs, index=index, dtype="float64"),
        trades=pd.Series(out_trades, index=index, dtype="int64"),
        stop_exits=stop_exits,
        ruined_on=None if ruin_day == len(dates) else pd.Timestamp(dates[ruin_day]),
        _breakdown=np.array(out_kinds, dtype=np.float64).reshape(-1, len(KINDS)).T,
    )
