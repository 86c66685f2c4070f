"""What pruning saves and what it costs, and what repeated parameter sets used to cost.

    python benchmarks/pruning.py pruning --trials 100 --seeds 42,1,2 --intervals 1,4
    python benchmarks/pruning.py duplicates --sampler nsga2 --trials 40 --seeds 42,1,2

``pruning``: examples/momentum_optimize.yaml (cv, mean Sharpe over the test windows, TPE)
with ``optimize.pruning`` off and on (median pruner, 5 startup trials, 1 warm-up window, a
check every k windows for each k of ``--intervals``), for each seed, in one process on a
journal file, the overfitting statistics off. Per run: evaluations per second over the
search (first trial's start to last trial's end) and per second of this process's CPU time
(less sensitive to other work on a shared machine; a journal's ``fsync`` waits are not CPU
time), the share of the windows the trials were
scored on, the best cv score (always a trial scored on every window: a pruned trial is
never the best) and the chosen parameters' Sharpe on the holdout. Medians over the seeds,
with and without pruning: a speed-up that finds worse parameters is not a win.

``duplicates``: the same scenario with another sampler. A budget of N now buys N
evaluations; before, repeats of evaluated parameter sets counted, so N trials bought the
evaluations among the first N trials asked (in one process the sampler proposes the same
sequence either way, so that count is what the old loop evaluated). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from portfolio_backtester.config import Scenario, load_scenario
from portfolio_backtester.data import OptimizationData, build_optimization_data, load_market_data
from portfolio_backtester.optimization.attributes import trial_evaluation
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.storage import default_storage_url, open_storage

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "momentum_optimize.yaml"


def variant(base: Scenario, **optimize: Any) -> Scenario:
    document = base.model_dump(mode="json", exclude={"source_path"})
    document["optimize"].update(optimize, overfitting={"enabled": False})
    return load_scenario(document)


def one_run(scenario: Scenario, data: OptimizationData) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = default_storage_url(Path(tmp))
        runner = ParallelOptimizationRunner(
            scenario=scenario, data=data, storage_url=url, study_name="b"
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        result, _ = runner.run()
        run_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        trials = optuna.load_study(study_name="b", storage=open_storage(url)).trials
    evaluated = [t for t in trials if trial_evaluation(t).get("duplicate_of") is None]
    n_windows = max(len(trial_evaluation(t).get("window_values") or []) for t in evaluated)
    scored = sum(len(trial_evaluation(t).get("window_values") or []) for t in evaluated)
    first = min(t.datetime_start for t in trials if t.datetime_start is not None)
    last = max(t.datetime_complete for t in trials if t.datetime_complete is not None)
    search_s = (last - first).total_seconds()
    holdout = result.holdout
    return {
        "trials": len(trials),
        "evaluations": len(evaluated),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in evaluated),
        "windows_scored_share": round(scored / (len(evaluated) * n_windows), 3),
        "search_s": round(search_s, 2),
        "run_s": round(run_s, 2),
        "evaluations_per_s": round(len(evaluated) / search_s, 2),
        "cpu_s": round(cpu_s, 2),
        "evaluations_per_cpu_s": round(len(evaluated) / cpu_s, 2),
        "best_cv_sharpe": round(result.best_values[0], 4),
        "best_params": result.best_params,
        "holdout_sharpe": None if holdout is None else round(float(holdout.metrics["Sharpe"]), 4),
    }


def run_pruning(args: argparse.Namespace, base: Scenario, data: OptimizationData) -> Any:
    variants: list[tuple[str, dict[str, Any]]] = [("off", {"enabled": False})]
    for interval in args.intervals:
        pruning = {"enabled": True, "n_startup_trials": 5, "n_warmup_steps": 1}
        variants.append((f"on-every-{interval}", {**pruning, "interval_steps": interval}))
    results: dict[str, Any] = {}
    for label, pruning in variants:
        runs = {}
        for seed in args.seeds:
            scenario = variant(base, seed=seed, trials=args.trials, pruning=pruning)
            runs[str(seed)] = one_run(scenario, data)
            print(json.dumps({label: {str(seed): runs[str(seed)]}}), flush=True)
        results[label] = {"seeds": runs, "median": _medians(runs)}
    off = results["off"]["median"]
    return {
        "what": "examples/momentum_optimize.yaml, TPE, pruning off and on (a check every k "
        "windows)",
        "trials_asked": args.trials,
        "results": results,
        "against_off": {
            label: {
                "speed_up": round(r["median"]["evaluations_per_s"] / off["evaluations_per_s"], 2),
                "cpu_speed_up": round(
                    r["median"]["evaluations_per_cpu_s"] / off["evaluations_per_cpu_s"], 2
                ),
                "best_cv_sharpe_change": round(
                    r["median"]["best_cv_sharpe"] - off["best_cv_sharpe"], 4
                ),
                "holdout_sharpe_change": round(
                    r["median"]["holdout_sharpe"] - off["holdout_sharpe"], 4
                ),
            }
            for label, r in results.items()
            if label != "off"
        },
    }


def run_duplicates(args: argparse.Namespace, base: Scenario, data: OptimizationData) -> Any:
    runs = {}
    for seed in args.seeds:
        scenario = variant(base, seed=seed, trials=args.trials, sampler=args.sampler)
        with tempfile.TemporaryDirectory() as tmp:
            url = default_storage_url(Path(tmp))
            ParallelOptimizationRunner(
                scenario=scenario, data=data, storage_url=url, study_name="b"
            ).run()
            trials = optuna.load_study(study_name="b", storage=open_storage(url)).trials
        repeat = ["duplicate_of" in trial_evaluation(t) for t in trials]
        runs[str(seed)] = {
            "trials_asked": len(trials),
            "evaluations": repeat.count(False),
            "evaluations_before": repeat[: args.trials].count(False),
        }
        print(json.dumps({str(seed): runs[str(seed)]}), flush=True)
    return {
        "what": f"examples/momentum_optimize.yaml with {args.sampler}: evaluations bought",
        "budget": args.trials,
        "seeds": runs,
        "median": _medians(runs),
    }


def _medians(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    first = next(iter(runs.values()))
    keys = [k for k, v in first.items() if isinstance(v, int | float) and v is not None]
    return {k: statistics.median(run[k] for run in runs.values()) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pruning = commands.add_parser("pruning", help="speed and best score, pruning off and on")
    duplicates = commands.add_parser("duplicates", help="evaluations a budget buys")
    duplicates.add_argument("--sampler", default="nsga2")
    pruning.add_argument(
        "--intervals", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4]
    )
    for command, trials in ((pruning, 100), (duplicates, 40)):
        command.add_argument("--trials", type=int, default=trials)
        command.add_argument(
            "--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[42, 1, 2]
        )
        command.add_argument("--scenario", type=Path, default=SCENARIO)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = load_scenario(args.scenario)
    data = build_optimization_data(load_market_data(base.data))
    load_before = os.getloadavg()
    run = run_pruning if args.command == "pruning" else run_duplicates
    report = run(args, base, data)
    report["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "optuna": optuna.__version__,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
