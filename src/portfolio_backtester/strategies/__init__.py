"""Strategy library: the contract, the registry of built-in strategies, rebalance dates."""

from ._base import BaseStrategy, Parameter, StrategyParams, rebalance_dates
from ._registry import (
    STRATEGIES,
    check_importable_by_workers,
    get_strategy,
    is_builtin,
    strategy_names,
)

__all__ = [
    "STRATEGIES",
    "BaseStrategy",
    "Parameter",
    "StrategyParams",
    "check_importable_by_workers",
    "get_strategy",
    "is_builtin",
    "rebalance_dates",
    "strategy_names",
]
