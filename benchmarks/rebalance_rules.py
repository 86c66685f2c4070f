"""What the rebalancing rules and stops cost the engine, side by side in one run, on the
embedded data.

    python benchmarks/rebalance_rules.py --repeats 20

For a monthly momentum schedule (top 5 of 20) and a daily one (every asset at 5 %,
re-levelled daily), each rule is simulated after a warm-up call and timed ``repeats``
times; prints JSON with the median milliseconds, the days with orders, and the ratio to the
same schedule with no rule. ``schedule`` (no rule) and ``target_change`` run on the
vectorised kernel; ``band``, ``min_trade`` and the stops walk the rebalance dates in a
loop (stops on closes: the embedded data have no highs and lows).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from portfolio_backtester import simulate
from portfolio_backtester.data import MarketData, build_optimization_data
from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.strategies import get_strategy

RULES: dict[str, dict[str, Any]] = {
    "schedule": {},
    "target_change": {"rebalance_when": "target_change"},
    "band_0.02": {"band": 0.02},
    "relative_band_0.25": {"band": 0.25, "band_type": "relative"},
    "min_trade_0.01": {"min_trade": 0.01},
    "stop_loss_0.1": {"stop_loss": 0.1},
    "trailing_0.15": {"trailing_stop": 0.15},
    "all_stops": {"stop_loss": 0.1, "take_profit": 0.5, "trailing_stop": 0.15},
}


def schedules(prices: pd.DataFrame) -> dict[str, pd.DataFrame]:
    data = build_optimization_data(MarketData(prices=prices, benchmark=None))
    strategy = get_strategy("simple_momentum")
    params = {"lookback_months": 12, "skip_months": 1, "top_n": 5, "rebalance": "monthly"}
    monthly = strategy().generate_weights(data, strategy.resolve_params(params))
    monthly = monthly.loc[monthly.abs().sum(axis=1) > 0]
    daily = pd.DataFrame(1.0 / prices.shape[1], index=prices.index, columns=prices.columns)
    return {"monthly_momentum": monthly, "daily_equal_weight": daily}


def median_ms(prices: pd.DataFrame, weights: pd.DataFrame, rules: dict[str, Any], n: int) -> float:
    simulate(prices, weights, cost_bps=10.0, **rules)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        simulate(prices, weights, cost_bps=10.0, **rules)
        samples.append(time.perf_counter() - started)
    return 1e3 * statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    prices = load_sp500()[0]
    results = []
    for name, weights in schedules(prices).items():
        base = None
        for rule, rules in RULES.items():
            result = simulate(prices, weights, cost_bps=10.0, **rules)
            ms = median_ms(prices, weights, rules, args.repeats)
            base = ms if base is None else base
            row = {
                "schedule": name,
                "rule": rule,
                "median_ms": round(ms, 3),
                "ratio_to_no_rule": round(ms / base, 2),
                "days_with_orders": int(np.count_nonzero(result.turnover.to_numpy())),
                "stop_exits": 0 if result.stop_exits is None else len(result.stop_exits),
                "total_return": round(float((1 + result.returns).prod() - 1), 4),
            }
            results.append(row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
