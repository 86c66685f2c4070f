"""Simulation engine: target weights at rebalance dates to daily portfolio returns."""

from .engine import EXECUTIONS, SimulationResult, simulate

__all__ = ["EXECUTIONS", "SimulationResult", "simulate"]
