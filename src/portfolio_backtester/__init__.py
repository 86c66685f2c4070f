"""Backtest portfolio strategies on daily data and tune them with Optuna, walk-forward."""

import logging

from .api import Optimization, backtest_many, load_data, optimize
from .backtest import BacktestResult, run_backtest
from .config import Scenario, load_scenario
from .errors import DataError, OptimizationError, PortfolioBacktesterError, ScenarioError
from .metrics import compute_metrics
from .optimization.data_context import open_data_context, write_data_context
from .optimization.parallel_optimization_runner import ParallelOptimizationRunner
from .optimization.results import (
    OptimizationData,
    OptimizationDataContext,
    OptimizationResult,
    WalkForwardWindow,
)
from .simulation import SimulationResult, simulate
from .strategies import STRATEGIES, BaseStrategy, Parameter, get_strategy

__version__ = "0.1.0"

__all__ = [
    "STRATEGIES",
    "BacktestResult",
    "BaseStrategy",
    "DataError",
    "Optimization",
    "OptimizationData",
    "OptimizationDataContext",
    "OptimizationError",
    "OptimizationResult",
    "ParallelOptimizationRunner",
    "Parameter",
    "PortfolioBacktesterError",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "WalkForwardWindow",
    "__version__",
    "backtest_many",
    "compute_metrics",
    "get_strategy",
    "load_data",
    "load_scenario",
    "open_data_context",
    "optimize",
    "run_backtest",
    "simulate",
    "write_data_context",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
