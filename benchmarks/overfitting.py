"""Seconds and memory of the overfitting statistics on an optimisation-sized returns matrix.

    python benchmarks/overfitting.py --trials 2000 --days 8313 --repeats 3 --spa-repeats 1

Builds ``(days, trials)`` synthetic daily returns (a market factor, a small drift per trial
and noise; 8,313 days is the embedded data's length) and times each statistic as the
median of its runs: CSCV with 16 blocks, the deflated Sharpe ratio of the best trial
with the effective number of trials (every trial's Sharpe ratio included), and Hansen's
SPA with 1,000 bootstrap replications (minutes at full size, hence its own repeat count).

Memory is reported two ways: ``peak_traced_mb`` is tracemalloc's peak of the allocations
made during the first run of the statistic (NumPy reports its arrays to tracemalloc; the
input matrix, allocated before, is not counted; tracing slows Python-level allocations a
little, so that run is also timed); ``max_rss_mb`` is the process's peak resident set
(``ru_maxrss``) so far, input and interpreter included. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from portfolio_backtester.metrics import sharpe_ratio
from portfolio_backtester.metrics.overfitting import (
    deflated_sharpe_ratio,
    effective_number_of_trials,
    probability_of_backtest_overfitting,
    spa_test,
)

FloatArray = npt.NDArray[np.float64]


def market(days: int, trials: int, seed: int) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    factor = rng.normal(0.0003, 0.01, (days, 1))
    drift = rng.normal(0.0, 0.0002, trials)
    returns = drift + rng.uniform(0.2, 1.0, trials) * factor
    returns += rng.normal(0.0, 0.008, (days, trials))
    return returns, factor[:, 0]


def measure(run: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Median seconds of ``repeats`` runs, the first traced for its peak allocation."""
    times = []
    result = None
    for attempt in range(repeats):
        if attempt == 0:
            tracemalloc.start()
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
        if attempt == 0:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return {
        "median_s": round(statistics.median(times), 3),
        "runs_s": [round(t, 3) for t in times],
        "peak_traced_mb": round(peak / 1e6, 1),
        "max_rss_mb": round(_max_rss_mb(), 1),
        "result": result,
    }


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--days", type=int, default=8313)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spa-repeats", type=int, default=1)
    parser.add_argument("--spa-reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    returns, benchmark = market(args.days, args.trials, args.seed)
    report: dict[str, Any] = {
        "trials": args.trials,
        "days": args.days,
        "input_mb": round(returns.nbytes / 1e6, 1),
        "max_rss_mb_before": round(_max_rss_mb(), 1),
    }

    cscv = measure(lambda: probability_of_backtest_overfitting(returns, args.blocks), args.repeats)
    pbo = cscv.pop("result")
    report["cscv"] = {
        **cscv,
        "blocks": args.blocks,
        "splits": math.comb(args.blocks, args.blocks // 2),
        "pbo": round(pbo.pbo, 4),
    }

    def dsr() -> Any:
        sharpes = np.array([sharpe_ratio(returns[:, j]) for j in range(returns.shape[1])])
        best = int(np.argmax(sharpes))
        n_eff = effective_number_of_trials(returns)
        return deflated_sharpe_ratio(returns[:, best], sharpes, n_eff)

    deflated = measure(dsr, args.repeats)
    result = deflated.pop("result")
    report["dsr_with_effective_trials"] = {
        **deflated,
        "n_effective_trials": round(result.n_effective_trials, 1),
        "dsr": round(result.dsr, 4),
    }
    effective = measure(lambda: effective_number_of_trials(returns), args.repeats)
    effective.pop("result")
    report["effective_number_of_trials_alone"] = effective

    spa = measure(
        lambda: spa_test(returns, benchmark, reps=args.spa_reps, seed=args.seed),
        args.spa_repeats,
    )
    tested = spa.pop("result")
    report["spa"] = {
        **spa,
        "reps": args.spa_reps,
        "block_size": tested.block_size,
        "pvalue_consistent": tested.pvalue_consistent,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
