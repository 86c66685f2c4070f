"""Trials per second of a real walk-forward optimisation on the embedded data, 1 vs 2 workers.

    python benchmarks/scaling.py --trials 200 --repeats 3

Prints JSON: per n_jobs the median trials per second (steady state: first trial start to last
trial end, which excludes spawning), the wall time including start-up, the efficiency
T1 / (2 x T2) from per-trial times, and the trial states after a 40-trial run at n_jobs 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.storage import default_storage_url, open_storage

SCENARIO = {
    "name": "scaling",
    "strategy": {"name": "simple_momentum"},
    "optimize": {
        "params": {
            "lookback_months": {"type": "int", "low": 2, "high": 24},
            "skip_months": {"type": "int", "low": 0, "high": 3},
            "top_n": {"type": "int", "low": 1, "high": 20},
            "rebalance": {"type": "categorical", "choices": ["weekly", "monthly", "quarterly"]},
        },
        "sampler": "random",
        "seed": 1,
        "mode": "cv",
        "windows": {"train_days": 756, "test_days": 252},
    },
}


def run(n_jobs: int, trials: int) -> dict[str, Any]:
    scenario = load_scenario(SCENARIO)
    data = build_optimization_data(load_market_data(scenario.data))
    with tempfile.TemporaryDirectory() as tmp:
        url = default_storage_url(Path(tmp))
        runner = ParallelOptimizationRunner(
            scenario=scenario,
            data=data,
            storage_url=url,
            study_name="s",
            n_jobs=n_jobs,
            trials=trials,
        )
        started = time.perf_counter()
        runner.run()
        wall = time.perf_counter() - started
        study = optuna.load_study(study_name="s", storage=open_storage(url))
        done = study.trials
        first = min(t.datetime_start for t in done if t.datetime_start)
        last = max(t.datetime_complete for t in done if t.datetime_complete)
        states: dict[str, int] = {}
        for t in done:
            states[t.state.name] = states.get(t.state.name, 0) + 1
    steady = (last - first).total_seconds()
    return {
        "wall_s": wall,
        "steady_s": steady,
        "trials_per_s": len(done) / steady,
        "n_trials": len(done),
        "states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        for n_jobs in (1, 2):
            runs[n_jobs].append(run(n_jobs, args.trials))
    rate = {n: statistics.median(r["trials_per_s"] for r in runs[n]) for n in runs}
    check = run(2, 40)
    print(
        json.dumps(
            {
                "trials": args.trials,
                "repeats": args.repeats,
                "n_jobs_1": {
                    "median_trials_per_s": rate[1],
                    "median_wall_s": statistics.median(r["wall_s"] for r in runs[1]),
                },
                "n_jobs_2": {
                    "median_trials_per_s": rate[2],
                    "median_wall_s": statistics.median(r["wall_s"] for r in runs[2]),
                },
                "efficiency": rate[2] / (2 * rate[1]),
                "forty_trials_n_jobs_2": {
                    "n_trials": check["n_trials"],
                    "states": check["states"],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
