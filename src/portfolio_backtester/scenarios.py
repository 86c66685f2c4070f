"""Built-in scenarios: what runs when the user names none."""

from __future__ import annotations

from .config import Scenario, load_scenario

__all__ = ["DEFAULT_OPTIMIZE", "default_optimize_scenario"]

DEFAULT_OPTIMIZE = {
    "name": "default-optimize",
    "strategy": {"name": "simple_momentum"},
    "optimize": {
        "params": {
            "lookback_months": {"type": "int", "low": 3, "high": 18},
            "skip_months": {"type": "int", "low": 0, "high": 2},
            "top_n": {"type": "int", "low": 2, "high": 10},
        },
        "objectives": [{"metric": "Sharpe"}],
        "trials": 50,
        "mode": "walk_forward",
        "windows": {"train_days": 1260, "test_days": 504, "kind": "rolling"},
        "seed": 42,
    },
}


def default_optimize_scenario() -> Scenario:
    """Momentum on the embedded data, walk-forward: 5 years to choose, 2 to test."""
    return load_scenario(DEFAULT_OPTIMIZE)
