"""The overfitting statistics of a whole optimisation, on markets where the answer is known.

A null model (random signals) on a market without drift must look like luck: a PBO near a
half or more, a Deflated Sharpe Ratio that is not significant, SPA not rejecting. A market
with a planted, persistent edge that one parameter captures must look like skill. Seeds and
sizes are fixed, and the assertions keep a wide margin, so that they hold on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.storage import default_storage_url

pytestmark = pytest.mark.slow


def _optimize(document: dict[str, Any], folder: Path) -> Any:
    scenario = load_scenario(document)
    data = build_optimization_data(load_market_data(scenario.data))
    runner = ParallelOptimizationRunner(
        scenario=scenario, data=data, storage_url=default_storage_url(folder), study_name="s"
    )
    return runner.run()[0]


def test_a_null_model_on_a_driftless_market_looks_like_luck(tmp_path: Path) -> None:
    result = _optimize(
        {
            "data": {
                "source": "synthetic",
                "synthetic": {"n_assets": 8, "n_years": 12, "annual_drift": 0.0, "seed": 5},
                "benchmark": None,
            },
            "strategy": {"name": "dummy_signal_strategy"},
            "optimize": {
                "params": {"seed": {"type": "int", "low": 0, "high": 10_000}},
                "sampler": "random",
                "trials": 60,
                "seed": 11,
                "windows": {"train_days": 504, "test_days": 252},
            },
        },
        tmp_path,
    )
    (study,) = result.overfitting["studies"]
    assert study["n_trials"] >= 55
    assert study["pbo"] >= 0.3
    assert study["dsr"] < 0.95
    assert study["spa_pvalue"] > 0.05
    assert study["spa_against"] == "cash (no benchmark)"
    assert study["n_effective_trials"] <= study["n_trials"]
    assert result.overfitting["rows"][0]["statistic"] == "Deflated Sharpe ratio"
    assert "below the 95%" in result.overfitting["rows"][0]["meaning"]


def _planted_edge_file(folder: Path) -> Path:
    """Eight assets of equal volatility (8 %); asset i drifts by 8 % a year times (i - 3)."""
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2004-01-02", periods=12 * 252)
    drift = (np.arange(8) - 3) * 0.08 / 252
    returns = drift + rng.normal(0.0, 0.08 / np.sqrt(252), (len(days), 8))
    prices = pd.DataFrame(100 * np.cumprod(1 + returns, axis=0), index=days)
    prices.columns = [f"A{i}" for i in range(8)]
    path = folder / "edge.csv"
    prices.rename_axis("date").to_csv(path)
    return path


def test_a_planted_persistent_edge_looks_like_skill(tmp_path: Path) -> None:
    """Momentum finds the drifting assets, and the fewer it holds the more of the edge it
    keeps: whichever half of the days it is tuned on, the best breadth is the best on the
    other half too."""
    path = _planted_edge_file(tmp_path)
    result = _optimize(
        {
            "data": {"source": "csv", "path": str(path), "benchmark": None},
            "strategy": {"name": "simple_momentum"},
            "optimize": {
                "params": {"top_n": {"type": "int", "low": 1, "high": 8}},
                "sampler": "grid",
                "trials": 8,
                "windows": {"train_days": 504, "test_days": 252},
            },
        },
        tmp_path,
    )
    (study,) = result.overfitting["studies"]
    assert study["pbo"] <= 0.1
    assert study["dsr"] > 0.95
    assert study["spa_pvalue"] < 0.05
    assert study["sharpe_annual"] > study["expected_max_sharpe_annual"]


def test_the_statistics_can_be_switched_off(tmp_path: Path) -> None:
    result = _optimize(
        {
            "data": {"universe": ["AAPL", "KO", "XOM"], "start": "2010-01-04"},
            "strategy": {"name": "simple_momentum"},
            "optimize": {
                "params": {"top_n": {"type": "int", "low": 1, "high": 3}},
                "trials": 3,
                "windows": {"train_days": 504, "test_days": 252},
                "overfitting": {"enabled": False},
            },
        },
        tmp_path,
    )
    assert "switched off" in result.overfitting["skipped"]
