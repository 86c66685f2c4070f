"""Milliseconds per ``run_backtest`` call with warm data, against the engine alone.

    python benchmarks/backtest_time.py --calls 200 --repeats 5

A notebook that backtests many parameter sets loads the data once and passes it on each
call (``data=``); this measures such a call on the embedded data's default scenario and,
side by side in the same process, the simulation it wraps (strategy weights and engine),
so the difference is what ``run_backtest`` adds. ``run_backtest_and_frames_ms`` also reads
the result's trade list, weights and cost breakdown, which are built when first read (a
loop that reads only the metrics does not pay for them). Prints JSON; medians over the
repeats of the mean time per call; the load average is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from portfolio_backtester import load_scenario, run_backtest
from portfolio_backtester.backtest import backtest_bounds, target_weights
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.simulation.period import PeriodSimulator
from portfolio_backtester.strategies import get_strategy


def _per_call_ms(function: object, calls: int) -> float:
    assert callable(function)
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=None, help="a scenario file (default: built-in)")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    data = build_optimization_data(load_market_data(scenario.data))
    strategy_cls = get_strategy(scenario.strategy.name)
    params = strategy_cls.resolve_params(dict(scenario.strategy.params))
    strategy = strategy_cls()

    def engine_only() -> None:
        start, end = backtest_bounds(scenario, strategy, params, data)
        weights = target_weights(strategy, data, params)
        PeriodSimulator(scenario, data, weights).simulate(start, end)

    def backtest() -> None:
        run_backtest(scenario, data=data)

    def backtest_and_frames() -> None:
        result = run_backtest(scenario, data=data)
        for frame in (result.trades, result.weights, result.cost_breakdown):
            assert frame is not None

    measures = {
        "run_backtest_ms": backtest,
        "run_backtest_and_frames_ms": backtest_and_frames,
        "weights_and_engine_ms": engine_only,
    }
    for function in measures.values():  # warm caches and imports before timing
        function()
    rounds: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(args.repeats):  # alternate, so that all see the same machine
        for name, function in measures.items():
            rounds[name].append(_per_call_ms(function, args.calls))
    result = {name: round(statistics.median(values), 3) for name, values in rounds.items()}
    result |= {
        "scenario": args.scenario or "built-in default",
        "calls": args.calls,
        "repeats": args.repeats,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
