"""``constraints.min_trades`` counts trades (positions opened or flipped), not orders."""

from __future__ import annotations

import pytest

from portfolio_backtester.backtest import target_weights
from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.metrics.trades import trade_list
from portfolio_backtester.optimization.objective import Objective, window_positions
from portfolio_backtester.optimization.plan import build_windows
from portfolio_backtester.simulation.period import PeriodSimulator


@pytest.mark.parametrize("mode", ["long_flat", "long_short"])
def test_n_trades_is_the_trade_lists_count_over_the_windows(mode: str) -> None:
    scenario = load_scenario(
        {
            "data": {"universe": ["AAPL"], "start": "2006-01-03", "end": "2016-12-30"},
            "strategy": {"name": "sma_crossover", "params": {"mode": mode}},
            "portfolio": {"allow_short": True},
            "optimize": {
                "params": {"fast_days": {"type": "int", "low": 10, "high": 40}},
                "windows": {"train_days": 504, "test_days": 252},
                "constraints": {"min_trades": 12},
            },
        }
    )
    data = build_optimization_data(load_market_data(scenario.data))
    windows = build_windows(scenario, data)
    objective = Objective(scenario)
    params = {"fast_days": 20}
    evaluation = objective.evaluate(data, params, windows)

    weights = target_weights(objective.strategy_cls(), data, objective.resolve(params))
    simulator = PeriodSimulator(scenario, data, weights)
    trades = orders = 0
    for window in windows:
        first, last = window_positions(data, window, "test")
        run = simulator.simulate(first, last)
        closes = data.daily.loc[run.weights.index]
        trades += len(trade_list(run.weights, run.returns, closes, turnover=run.turnover))
        orders += int(run.trades.sum())
    assert evaluation.n_trades == trades > 0
    assert evaluation.constraint_violations == (12.0 - trades,)
    if mode == "long_short":  # daily rebalancing of a short resizes it every day
        assert orders > 10 * trades
