"""What skfolio's optimisers cost: one rebalance (one fit) per estimator, and a whole search.

    python benchmarks/skfolio_cost.py fits --lookback-days 252 --dates 24
    python benchmarks/skfolio_cost.py optimize --trials 100 --n-jobs 2

``fits``: for each estimator (and risk measure, ``--risk-measures``), the strategy's own
estimator fitted at ``--dates`` month ends of the embedded data (20 stocks), each on the
``--lookback-days`` daily returns up to it: the median and the 90th percentile of the
milliseconds per fit (one rebalance), and what a monthly run over the whole history (about
390 fits) spends fitting; then one such run of the HRP strategy, timed whole.

``optimize``: ``portfolio-backtester optimize --scenario examples/skfolio_hrp.yaml --trials
N --n-jobs J`` run as a subprocess in a temporary folder: its wall time in seconds
(spawning, the trials, the holdout and the report included) and the trials' states.
Prints JSON with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies._base import rebalance_dates
from portfolio_backtester.strategies.skfolio_portfolio import (
    ESTIMATORS,
    FitError,
    SkfolioPortfolioStrategy,
    estimator_factory,
    fit_weights,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "skfolio_hrp.yaml"


def _data() -> OptimizationData:
    prices, index = load_sp500()
    return OptimizationData(
        daily=prices,
        monthly=prices.resample("ME").last(),
        returns=prices.pct_change(fill_method=None),
        benchmark=index,
    )


def fits(args: argparse.Namespace) -> dict[str, Any]:
    """Milliseconds per fit, the strategy's own estimator on its own window at each date;
    and, for HRP, a whole monthly run of the strategy as a check of the sum."""
    data = _data()
    index = pd.DatetimeIndex(data.daily.index)
    returns = data.returns.to_numpy()
    month_ends = index.get_indexer(rebalance_dates(index, "monthly"))
    usable = month_ends[month_ends >= args.lookback_days]
    chosen = usable[np.linspace(0, len(usable) - 1, args.dates).round().astype(int)]
    results: dict[str, Any] = {}
    for estimator in ESTIMATORS:
        for measure in args.risk_measures.split(","):
            make = estimator_factory(estimator, measure, "minimize_risk")
            times = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the strategy logs these; timing only here
                failed = 0
                for row in [chosen[0], *chosen]:  # the first fit imports and warms up
                    window = returns[row + 1 - args.lookback_days : row + 1]
                    started = time.perf_counter()
                    try:
                        fit_weights(make, window)
                    except FitError:
                        failed += 1
                    times.append((time.perf_counter() - started) * 1e3)
                times = times[1:]
            median = statistics.median(times)
            results[f"{estimator}/{measure}"] = {
                "median_ms_per_fit": round(median, 2),
                "p90_ms_per_fit": round(float(np.percentile(times, 90)), 2),
                "monthly_history_fitting_s": round(median * len(usable) / 1e3, 1),
                "failed_fits": failed,
            }
    params = {"estimator": "hrp", "lookback_days": args.lookback_days, "rebalance": "monthly"}
    started = time.perf_counter()
    SkfolioPortfolioStrategy().generate_weights(data, params)
    whole = time.perf_counter() - started
    return {
        "lookback_days": args.lookback_days,
        "dates": args.dates,
        "assets": data.daily.shape[1],
        "monthly_fits_in_history": len(usable),
        "per_estimator": results,
        "hrp_monthly_history_generate_weights_s": round(whole, 1),
    }


def optimize(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's optimize of the example HRP scenario, timed from outside."""
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "run"
        command = [
            sys.executable,
            "-m",
            "portfolio_backtester",
            "optimize",
            "--scenario",
            str(args.scenario),
            "--trials",
            str(args.trials),
            "--n-jobs",
            str(args.n_jobs),
            "--output",
            str(output),
            "--quiet",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"optimize failed ({done.returncode}): {done.stderr[-2000:]}")
        trials = pd.read_csv(output / "trials.csv")
        states = trials["state"].value_counts().to_dict() if "state" in trials else {}
    return {
        "command": " ".join(["portfolio-backtester", *command[3:-3]]),
        "scenario": str(args.scenario.relative_to(ROOT)),
        "trials": args.trials,
        "n_jobs": args.n_jobs,
        "elapsed_s": round(elapsed, 1),
        "s_per_trial": round(elapsed / args.trials, 2),
        "trial_states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("fits", help="milliseconds per fit, per estimator")
    one.add_argument("--lookback-days", type=int, default=252)
    one.add_argument("--dates", type=int, default=24)
    one.add_argument("--risk-measures", default="variance,cvar")
    search = commands.add_parser("optimize", help="seconds for a whole optimize run")
    search.add_argument("--scenario", type=Path, default=EXAMPLE)
    search.add_argument("--trials", type=int, default=100)
    search.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    load = os.getloadavg()
    result = fits(args) if args.command == "fits" else optimize(args)
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
