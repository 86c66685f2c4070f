"""Milliseconds per trial of an optimisation on the embedded data, split by where they go.

    python benchmarks/trial_time.py --trials 60 --repeats 3
    python benchmarks/trial_time.py --scenario examples/momentum_optimize.yaml

The total is a real in-process optimisation (``n_jobs=1``, journal storage) divided by its
trials. The parts replay the same trials' parameters through the objective's own steps:
strategy weights, simulation of every window the trial is scored on, metrics. Optuna's
overhead (sampling, storage, bookkeeping) is the total minus the parts. Prints JSON; medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from portfolio_backtester.config import Scenario, load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.metrics import metric
from portfolio_backtester.optimization.objective import objective_names, window_positions
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.plan import StudyPlan
from portfolio_backtester.optimization.storage import default_storage_url, open_storage
from portfolio_backtester.scenarios import default_optimize_scenario
from portfolio_backtester.simulation.period import PeriodSimulator, benchmark_period_returns
from portfolio_backtester.strategies import get_strategy


def one_run(scenario: Scenario, trials: int) -> dict[str, float]:
    data = build_optimization_data(load_market_data(scenario.data))
    with tempfile.TemporaryDirectory() as tmp:
        url = default_storage_url(Path(tmp))
        runner = ParallelOptimizationRunner(
            scenario=scenario, data=data, storage_url=url, study_name="t", trials=trials
        )
        started = time.perf_counter()
        result, _ = runner.run()
        total = time.perf_counter() - started
        storage = open_storage(url)
        studies = [
            optuna.load_study(study_name=name, storage=storage) for name in result.study_names
        ]
        plans = [s.user_attrs["plan"] for s in studies]
        replay = [
            (plan, t.params) for plan, s in zip(plans, studies, strict=True) for t in s.trials
        ]
    n_trials = len(replay)
    parts = {"strategy": 0.0, "simulation": 0.0, "metrics": 0.0}
    strategy_cls = get_strategy(scenario.strategy.name)
    names = objective_names(scenario.optimize)  # type: ignore[arg-type]
    for plan_dict, params in replay:
        plan = StudyPlan.from_dict(plan_dict)
        windowed = replace(data, windows=plan.windows)
        resolved = strategy_cls.resolve_params({**scenario.strategy.params, **params})
        t0 = time.perf_counter()
        weights = strategy_cls().generate_weights(windowed, resolved)
        t1 = time.perf_counter()
        simulator = PeriodSimulator(scenario, windowed, weights)
        outputs = [
            simulator.scoring_outputs(*window_positions(windowed, w, plan.period))
            for w in plan.windows
        ]
        t2 = time.perf_counter()
        for returns, turnover, _ in outputs:
            bench = benchmark_period_returns(windowed, returns.index)
            for name in names:
                metric(name, returns, bench, turnover=turnover)
        t3 = time.perf_counter()
        parts["strategy"] += t1 - t0
        parts["simulation"] += t2 - t1
        parts["metrics"] += t3 - t2
    per_trial = {k: v / n_trials * 1e3 for k, v in parts.items()}
    per_trial["total"] = total / n_trials * 1e3
    per_trial["optuna_and_other"] = per_trial["total"] - sum(
        per_trial[k] for k in ("strategy", "simulation", "metrics")
    )
    per_trial["trials"] = n_trials
    return per_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", type=Path, help="default: the default optimisation")
    parser.add_argument("--trials", type=int, default=20, help="trials per study")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scenario = load_scenario(args.scenario) if args.scenario else default_optimize_scenario()
    runs = [one_run(scenario, args.trials) for _ in range(args.repeats)]
    keys = ("total", "strategy", "simulation", "metrics", "optuna_and_other")
    summary: dict[str, Any] = {
        f"{k}_ms_per_trial": statistics.median(r[k] for r in runs) for k in keys
    }
    summary.update(
        {
            "scenario": scenario.name,
            "mode": scenario.optimize.mode,  # type: ignore[union-attr]
            "trials_per_run": runs[0]["trials"],
            "repeats": args.repeats,
        }
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
