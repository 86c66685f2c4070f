"""Backtest portfolio strategies on daily data and tune them with Optuna, walk-forward."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
