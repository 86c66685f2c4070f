"""Time the trade list and its statistics on the default backtest; print JSON.

    python benchmarks/trades_time.py [--repeat 7] [--number 200]

The trade list runs in every backtest: this is what it adds to one, beside the time of the
whole backtest (data already loaded).
"""

from __future__ import annotations

import argparse
import json
import timeit

import portfolio_backtester as pb
from portfolio_backtester.backtest import _simulated_trades, backtest_bounds, target_weights
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.metrics.trades import trade_statistics
from portfolio_backtester.simulation.period import PeriodSimulator
from portfolio_backtester.strategies import get_strategy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    scenario = pb.load_scenario(None)
    data = build_optimization_data(load_market_data(scenario.data))
    strategy_cls = get_strategy(scenario.strategy.name)
    params = strategy_cls.resolve_params(scenario.strategy.params)
    strategy = strategy_cls()
    start, end = backtest_bounds(scenario, strategy, params, data)
    simulator = PeriodSimulator(scenario, data, target_weights(strategy, data, params))
    simulation = simulator.simulate(start, end)
    trades = _simulated_trades(simulator, simulation)

    def best(function: object, number: int) -> float:
        times = timeit.repeat(function, number=number, repeat=args.repeat)  # type: ignore[arg-type]
        return min(times) / number * 1e3

    print(
        json.dumps(
            {
                "days": len(simulation.returns),
                "assets": simulation.weights.shape[1],
                "trades": len(trades),
                "trade_list_ms": best(
                    lambda: _simulated_trades(simulator, simulation), args.number
                ),
                "trade_statistics_ms": best(
                    lambda: trade_statistics(trades, simulation.weights), args.number
                ),
                "run_backtest_ms": best(lambda: pb.run_backtest(scenario, data=data), 10),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
