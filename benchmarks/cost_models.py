"""What the cost models cost the engine, and what they do to the default scenario's result.

    python benchmarks/cost_models.py --repeats 20

Three parts, each printed as JSON lines:

- ``timing``: ``simulate`` on the embedded data (a monthly momentum schedule, top 5 of
  20, as in ``rebalance_rules.py``, and a daily equal-weight one), median milliseconds
  after a warm-up call, with no model (the vectorised kernel) and with each model on (the
  loop over executions; borrow and financing also walk the days). The embedded data has
  no volume, so impact is timed on synthetic prices of the same shape with a synthetic
  volume.
- ``default_scenario``: ``run_backtest(None)`` (monthly momentum top 5, $1,000,000) under
  10 bps only versus a per-share commission ($0.005 a share, at least $1, at most 1 % of
  the order's value). The embedded closes are split-adjusted, so share counts, and with
  them the per-share commission, are notional.
- ``impact_synthetic``: the same momentum rule on synthetic prices with a synthetic
  volume, 10 bps versus 10 bps plus square-root impact.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

import portfolio_backtester as pb
from portfolio_backtester import simulate
from portfolio_backtester.data import MarketData, build_optimization_data
from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.data.synthetic import synthetic_prices
from portfolio_backtester.metrics import cagr, sharpe_ratio, total_return
from portfolio_backtester.strategies import get_strategy

PER_SHARE = {"per_share": 0.005, "per_share_min": 1.0, "per_share_max_fraction": 0.01}

MODELS: dict[str, dict[str, Any]] = {
    "none": {},
    "loop_only_band_0": {"band": 0.0},  # the same loop with no cost model: its own cost
    "per_share": PER_SHARE,
    "half_spread_constant": {"half_spread_bps": 5.0},
    "half_spread_per_asset": {"half_spread_bps": {"AAPL": 2.0, "MSFT": 2.0, "XOM": 3.0}},
    "borrow": {"borrow_rate": 0.02},
    "financing": {"financing_rate": 0.05},
    "all_but_impact": {
        **PER_SHARE,
        "half_spread_bps": 5.0,
        "borrow_rate": 0.02,
        "financing_rate": 0.05,
    },
}
IMPACT = {"impact": 0.5, "volume_window": 20}
SYNTHETIC_MODELS: dict[str, dict[str, Any]] = {
    "none": {},
    "loop_only_band_0": {"band": 0.0},
    "impact": IMPACT,
}


def momentum(prices: pd.DataFrame) -> pd.DataFrame:
    data = build_optimization_data(MarketData(prices=prices, benchmark=None))
    strategy = get_strategy("simple_momentum")
    params = {"lookback_months": 12, "skip_months": 1, "top_n": 5, "rebalance": "monthly"}
    weights = strategy().generate_weights(data, strategy.resolve_params(params))
    return weights.loc[weights.abs().sum(axis=1) > 0]


def synthetic_volume(prices: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Shares a day around $50 million of traded value, lognormal day to day."""
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(0.0, 0.4, prices.shape)
    return pd.DataFrame(
        5e7 / prices.to_numpy() * noise, index=prices.index, columns=prices.columns
    )


def timings(
    prices: pd.DataFrame,
    weights: pd.DataFrame,
    models: dict[str, dict[str, Any]],
    repeats: int,
) -> dict[str, list[float]]:
    """Seconds per call of each model, taken in turns so that a busy machine slows all
    of them alike."""
    for kwargs in models.values():
        simulate(prices, weights, cost_bps=10.0, **kwargs)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, kwargs in models.items():
            started = time.perf_counter()
            simulate(prices, weights, cost_bps=10.0, **kwargs)
            samples[name].append(time.perf_counter() - started)
    return samples


def timing(repeats: int) -> None:
    prices = load_sp500()[0]
    daily = pd.DataFrame(1.0 / prices.shape[1], index=prices.index, columns=prices.columns)
    synthetic = synthetic_prices(prices.shape[1], prices.shape[0], seed=3)
    volume = synthetic_volume(synthetic)
    # Impact needs a window of history before the first trade.
    equal_daily = pd.DataFrame(
        1.0 / synthetic.shape[1], index=synthetic.index, columns=synthetic.columns
    ).iloc[IMPACT["volume_window"] + 1 :]
    impact_models = {
        name: {**kwargs, "volume": volume} if "impact" in kwargs else kwargs
        for name, kwargs in SYNTHETIC_MODELS.items()
    }
    runs = [
        ("sp500", "monthly_momentum", prices, momentum(prices), MODELS),
        ("sp500", "daily_equal_weight", prices, daily, MODELS),
        ("synthetic", "monthly_momentum", synthetic, momentum(synthetic), impact_models),
        ("synthetic", "daily_equal_weight", synthetic, equal_daily, impact_models),
    ]
    for data, schedule, frame, weights, models in runs:
        samples = timings(frame, weights, models, repeats)
        base = statistics.median(samples["none"])
        for name, seconds in samples.items():
            row = {
                "part": "timing",
                "data": data,
                "schedule": schedule,
                "rebalances": len(weights),
                "model": name,
                "median_ms": round(1e3 * statistics.median(seconds), 3),
                "min_ms": round(1e3 * min(seconds), 3),
                "ratio_to_none": round(statistics.median(seconds) / base, 2),
            }
            print(json.dumps(row), flush=True)


def _summary(returns: pd.Series) -> dict[str, float]:
    return {
        "total_return": round(float(total_return(returns)), 4),
        "cagr": round(float(cagr(returns)), 5),
        "sharpe": round(float(sharpe_ratio(returns)), 4),
    }


def default_scenario() -> None:
    scenarios = {
        "bps_10": {},
        "per_share_only": {
            "costs": {"cost_bps": 0, "per_share": {"rate": 0.005, "min": 1, "max_fraction": 0.01}}
        },
        "bps_10_and_per_share": {
            "costs": {"cost_bps": 10, "per_share": {"rate": 0.005, "min": 1, "max_fraction": 0.01}}
        },
        "no_costs": {"costs": {"cost_bps": 0}},
    }
    for name, document in scenarios.items():
        result = pb.run_backtest(document or None)
        row = {
            "part": "default_scenario",
            "costs": name,
            "total_return": round(float(result.metrics["Total Return"]), 4),
            "cagr": round(float(result.metrics["CAGR"]), 5),
            "sharpe": round(float(result.metrics["Sharpe"]), 4),
            "total_costs": round(float(result.costs.sum()), 5),
        }
        print(json.dumps(row), flush=True)


def impact_synthetic() -> None:
    prices = synthetic_prices(20, 8313, seed=3)
    volume = synthetic_volume(prices)
    weights = momentum(prices)
    for name, kwargs in {
        "bps_10": {},
        "bps_10_and_impact_0.5": {**IMPACT, "volume": volume},
    }.items():
        result = simulate(prices, weights, cost_bps=10.0, **kwargs)
        row = {
            "part": "impact_synthetic",
            "costs": name,
            **_summary(result.returns),
            "total_costs": round(float(result.costs.sum()), 5),
            "impact_costs": round(float(result.cost_breakdown["impact"].sum()), 5),
        }
        print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    timing(args.repeats)
    default_scenario()
    impact_synthetic()


if __name__ == "__main__":
    main()
