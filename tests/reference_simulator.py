"""A slow, obviously correct twin of ``simulate``: one plain-Python loop over days.

It holds share counts and cash and applies the rules of ``simulation/engine.py`` one day
at a time, with no arrays and no vectorisation, so that the fast engine can be checked
against it (the pattern of bottleneck's ``slow`` functions).
"""

from __future__ import annotations

import math

import pandas as pd

from portfolio_backtester.simulation import SimulationResult

TRADE_EPSILON = 1e-12


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
) -> SimulationResult:
    """Same contract as ``simulate`` for valid inputs (no validation here)."""
    dates = list(prices.index)
    tickers = list(prices.columns)
    closes = [[float(v) for v in row] for row in prices.to_numpy()]
    opens = None
    if execution == "next_open":
        assert open_prices is not None
        opens = [[float(v) for v in row] for row in open_prices[tickers].to_numpy()]
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

    def trade(wanted: list[float], tradable: list[bool]) -> tuple[float, float, int]:
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
            return 0.0, 0.0, 0
        value = value_now()
        traded_value = 0.0
        traded_assets = 0
        for i in range(n_assets):
            price = last_price[i]
            current = shares[i] * price if shares[i] != 0.0 and price is not None else 0.0
            wanted_value = weights[i] * value
            change = wanted_value - current
            if not wanted_by_rules(abs(change) / abs(value), weights[i]):
                continue  # inside the band or too small: the shares are kept
            traded_value += abs(change)
            if abs(change) > TRADE_EPSILON * abs(value):
                traded_assets += 1
            cash -= change
            shares[i] = wanted_value / price if weights[i] != 0.0 and price is not None else 0.0
        cost = cost_bps / 1e4 * traded_value + commission * traded_assets
        cash -= cost
        return traded_value / value, cost / value, traded_assets

    ruined = False
    for day in range(first, len(dates)):
        if ruined:  # everything was lost: nothing is held or traded any more
            out_returns.append(0.0)
            out_weights.append([0.0] * n_assets)
            out_turnover.append(0.0)
            out_costs.append(0.0)
            out_trades.append(0)
            continue
        if day > first:
            cash *= 1.0 + cash_rate / 252
        turnover = cost = 0.0
        n_traded = 0
        if opens is not None:
            observe(opens[day])
            if pending is not None:
                tradable = [
                    not math.isnan(closes[day - 1][i]) and not math.isnan(opens[day][i])
                    for i in range(n_assets)
                ]
                turnover, cost, n_traded = trade(pending, tradable)
                pending = None
        observe(closes[day])
        if day in targets:
            if opens is None:
                tradable = [not math.isnan(p) for p in closes[day]]
                turnover, cost, n_traded = trade(targets[day], tradable)
            else:
                pending = targets[day]
        value = value_now()
        if value <= 0.0:
            ruined = True
            out_returns.append(-1.0)
            out_weights.append([0.0] * n_assets)
            out_turnover.append(turnover)
            out_costs.append(cost)
            out_trades.append(n_traded)
            continue
        out_returns.append(value / previous_value - 1.0)
        out_weights.append(
            [
                shares[i] * last_price[i] / value if shares[i] != 0.0 else 0.0  # type: ignore[operator]
                for i in range(n_assets)
            ]
        )
        out_turnover.append(turnover)
        out_costs.append(cost)
        out_trades.append(n_traded)
        previous_value = value

    index = prices.index[first:]
    return SimulationResult(
        returns=pd.Series(out_returns, index=index, dtype="float64"),
        weights=pd.DataFrame(out_weights, index=index, columns=prices.columns, dtype="float64"),
        turnover=pd.Series(out_turnover, index=index, dtype="float64"),
        costs=pd.Series(out_costs, index=index, dtype="float64"),
        trades=pd.Series(out_trades, index=index, dtype="int64"),
    )
