"""Simulation engine: target weights at rebalance dates to daily portfolio returns."""

from .engine import COST_KINDS, EXECUTIONS, SimulationResult, simulate

__all__ = ["COST_KINDS", "EXECUTIONS", "SimulationResult", "simulate"]
