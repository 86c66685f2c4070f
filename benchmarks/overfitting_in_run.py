"""The overfitting statistics inside a real optimisation: their time and memory, and that
the trials run as fast with them as without.

    python benchmarks/overfitting_in_run.py --trials 2000 --repeats 1
    python benchmarks/overfitting_in_run.py --scenario examples/momentum_optimize.yaml

Each run is a real in-process optimisation (``n_jobs=1``, journal storage) of the scenario
(default: ``examples/dummy_signal_optimize.yaml`` on the embedded data), in a fresh spawned
process so that its peak memory is its own; runs with the statistics on and off alternate.
Reported per setting (medians): milliseconds per trial over the trial phase (the trials'
own durations, ask to tell), the seconds the statistics took after the trials (rebuilding
every distinct trial's daily returns, DSR, CSCV with 16 blocks, SPA), and the process's
peak resident memory (``ru_maxrss``). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
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
from portfolio_backtester.optimization.storage import default_storage_url

DEFAULT = Path(__file__).resolve().parents[1] / "examples" / "dummy_signal_optimize.yaml"


def one_run(scenario_path: str, trials: int, enabled: bool, queue: Any) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scenario = load_scenario(scenario_path)
    assert scenario.optimize is not None
    optimize = scenario.optimize.model_copy(
        update={
            "overfitting": scenario.optimize.overfitting.model_copy(update={"enabled": enabled})
        }
    )
    scenario = scenario.model_copy(update={"optimize": optimize})
    data = build_optimization_data(load_market_data(scenario.data))
    with tempfile.TemporaryDirectory() as tmp:
        runner = ParallelOptimizationRunner(
            scenario=scenario,
            data=data,
            storage_url=default_storage_url(Path(tmp)),
            study_name="bench",
            trials=trials,
        )
        started = time.perf_counter()
        result, _ = runner.run()
        total_s = time.perf_counter() - started
    durations = result.trials["duration_s"].dropna()
    overfitting = result.overfitting
    studies = [s for s in overfitting.get("studies", []) if "skipped" not in s]
    queue.put(
        {
            "trials": len(durations),
            "ms_per_trial": float(durations.mean() * 1e3),
            "total_s": total_s,
            "statistics_s": float(overfitting.get("elapsed_s", 0.0)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "days_per_study": [s["n_days"] for s in studies][:3],
            "pbo": [round(s["pbo"], 3) for s in studies][:3],
            "dsr": [round(s["dsr"], 3) for s in studies][:3],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default=str(DEFAULT))
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for _ in range(args.repeats):
        for setting in ("on", "off"):
            queue = context.Queue()
            process = context.Process(
                target=one_run, args=(args.scenario, args.trials, setting == "on", queue)
            )
            process.start()
            runs[setting].append(queue.get())
            process.join()
    summary: dict[str, Any] = {"scenario": args.scenario, "repeats": args.repeats}
    for setting, results in runs.items():
        summary[setting] = {
            key: statistics.median(r[key] for r in results)
            for key in ("trials", "ms_per_trial", "total_s", "statistics_s", "peak_rss_mb")
        }
        summary[setting]["first_studies"] = {
            k: results[0][k] for k in ("days_per_study", "pbo", "dsr")
        }
    summary["trial_time_ratio_on_over_off"] = (
        summary["on"]["ms_per_trial"] / summary["off"]["ms_per_trial"]
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
