"""Strategy library: the contract, the registry of built-in strategies, rebalance dates."""

from ._base import BaseStrategy, Parameter, StrategyParams, rebalance_dates
from ._registry import STRATEGIES, get_strategy, is_builtin, strategy_names

__all__ = [
    "STRATEGIES",
    "BaseStrategy",
    "Parameter",
    "StrategyParams",
    "get_strategy",
    "is_builtin",
    "rebalance_dates",
    "strategy_names",
]
