"""Backtest portfolio strategies on daily data and tune them with Optuna, walk-forward."""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
