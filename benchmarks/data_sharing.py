"""Measure how workers get the data: memory-mapped files (pull) versus pickled arguments (push).

Usage::

    python benchmarks/data_sharing.py --gigabytes 1 --n-jobs 4
    python benchmarks/data_sharing.py --megabytes 200 --n-jobs 2 --columns 200

It builds a synthetic float64 ``OptimizationData`` of the requested size (most bytes in
``daily`` and ``returns``), then for each model spawns N workers that get the data, report
how long that took, touch every value (sum every column), report again and wait, so the
parent can read each process's PSS from ``/proc/<pid>/smaps_rollup`` (Linux only) while
all workers hold the data. Prints one JSON object. The push model lives only here, as the
baseline: it is what the runner must not do.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from portfolio_backtester.optimization.data_context import (
    open_data_context,
    remove_data_context,
    write_data_context,
)
from portfolio_backtester.optimization.results import OptimizationData, OptimizationDataContext

_SMAPS_FIELDS = {"Pss": "pss_bytes", "Pss_Anon": "pss_anon_bytes", "Pss_File": "pss_file_bytes"}
_TIMEOUT_S = 600.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    size_bytes = int(args.megabytes * 1e6) if args.megabytes else int(args.gigabytes * 1e9)
    data = synthetic_data(size_bytes, args.columns, seed=args.seed)
    context = multiprocessing.get_context("spawn")
    report: dict[str, Any] = {
        "requested_bytes": size_bytes,
        "data_bytes": sum(frame.to_numpy().nbytes for frame in data.frames().values()),
        "shapes": {name: list(frame.shape) for name, frame in data.frames().items()},
        "n_jobs": args.n_jobs,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "idle_worker": _idle_worker_memory(context),
    }
    if args.model in ("pull", "both"):
        holder = [data]
        del data  # the pull parent keeps no private copy, as the optimiser's runner does
        report["pull"] = _run_pull(context, holder, args.n_jobs, args.directory)
        data = synthetic_data(size_bytes, args.columns, seed=args.seed)
    if args.model in ("push", "both"):
        report["push"] = _run_push(context, data, args.n_jobs)
    if args.model == "both":
        checksums = {report[m]["checksum"] for m in ("pull", "push")}
        report["same_sums_in_both_models"] = len(checksums) == 1
    print(json.dumps(report, indent=2))
    return 0


def synthetic_data(size_bytes: int, columns: int, *, seed: int) -> OptimizationData:
    """Float64 frames totalling about ``size_bytes``: daily and returns carry ~97% of it."""
    rows = max(2, int(size_bytes / (8 * (columns * (2 + 1 / 21) + 1))))
    days = np.datetime64("1900-01-01", "us") + np.arange(rows).astype("m8[D]")
    dates = pd.DatetimeIndex(days, name="date")  # no freq, like real data
    tickers = pd.Index([f"T{i:05d}" for i in range(columns)], name="ticker")
    rng = np.random.default_rng(seed)

    def frame(n_rows: int, index: pd.DatetimeIndex, labels: pd.Index) -> pd.DataFrame:
        values = np.empty((n_rows, len(labels)), order="F")
        rng.standard_normal(out=values.T)  # fill in place: no second copy of a big frame
        return pd.DataFrame(values, index=index, columns=labels, copy=False)

    returns = frame(rows, dates, tickers)
    daily = frame(rows, dates, tickers)
    monthly = daily.iloc[::21].copy()
    benchmark = frame(rows, dates, pd.Index(["SPX"], name="ticker"))
    return OptimizationData(daily=daily, monthly=monthly, returns=returns, benchmark=benchmark)


# --- the two models -------------------------------------------------------------------


def _run_pull(
    context: SpawnContext, holder: list[OptimizationData], n_jobs: int, directory: str | None
) -> dict[str, Any]:
    """Write the files, then drop the private copy and map the files in the parent too."""
    data = holder.pop()
    started = time.perf_counter()
    shared = write_data_context(data, directory)
    del data
    try:
        prepare_s = time.perf_counter() - started
        pickled_bytes = len(pickle.dumps(shared))
        mapped = open_data_context(shared)  # what the parent's final backtest reads
        result = _run_workers(context, _pull_worker, shared, n_jobs)
        del mapped
    finally:
        remove_data_context(shared)  # after _run_workers joined every worker
    return {"parent_prepare_s": prepare_s, "pickled_bytes_per_worker": pickled_bytes, **result}


def _run_push(context: SpawnContext, data: OptimizationData, n_jobs: int) -> dict[str, Any]:
    started = time.perf_counter()
    pickled_bytes = len(pickle.dumps(data))  # what spawn pickles again for every worker
    prepare_s = time.perf_counter() - started
    result = _run_workers(context, _push_worker, data, n_jobs)
    return {"parent_prepare_s": prepare_s, "pickled_bytes_per_worker": pickled_bytes, **result}


def _run_workers(
    context: SpawnContext, target: Callable[..., None], argument: object, n_jobs: int
) -> dict[str, Any]:
    reports: Queue[dict[str, Any]] = context.Queue()
    release = context.Event()
    workers: list[SpawnProcess] = []
    try:
        spawned = time.monotonic()  # CLOCK_MONOTONIC is system-wide: comparable across processes
        for _ in range(n_jobs):
            worker = context.Process(target=target, args=(argument, reports, release))
            worker.start()
            workers.append(worker)
        started_s = time.monotonic() - spawned
        results = [reports.get(timeout=_TIMEOUT_S) for _ in workers]
        memory = _memory([os.getpid(), *(int(r["pid"]) for r in results)])
        release.set()
        for worker in workers:
            worker.join(timeout=_TIMEOUT_S)
        return {
            "start_calls_s": started_s,
            "worker_ready_s": [r["ready"] - r["entered"] for r in results],
            "worker_touch_s": [r["touched"] - r["ready"] for r in results],
            "all_ready_s": max(r["ready"] for r in results) - spawned,
            "checksum": results[0]["checksum"],
            "same_sums_in_all_workers": len({r["checksum"] for r in results}) == 1,
            "exit_codes": [worker.exitcode for worker in workers],
            "memory": memory,
        }
    finally:
        release.set()
        _stop(workers)
        reports.close()
        reports.join_thread()


def _pull_worker(
    context: OptimizationDataContext, reports: Queue[dict[str, Any]], release: Event
) -> None:
    entered = time.monotonic()
    data = open_data_context(context)
    _report_and_wait(data, entered, reports, release)


def _push_worker(data: OptimizationData, reports: Queue[dict[str, Any]], release: Event) -> None:
    # Unpickling happened before this call: see all_ready_s for what it cost.
    _report_and_wait(data, time.monotonic(), reports, release)


def _report_and_wait(
    data: OptimizationData,
    entered: float,
    reports: Queue[dict[str, Any]],
    release: Event,
) -> None:
    ready = time.monotonic()
    checksum = sum(float(frame.sum().sum()) for frame in data.frames().values())
    touched = time.monotonic()
    reports.put(
        {
            "pid": os.getpid(),
            "entered": entered,
            "ready": ready,
            "touched": touched,
            "checksum": checksum,
        }
    )
    release.wait(_TIMEOUT_S)


def _idle_worker(reports: Queue[dict[str, Any]], release: Event) -> None:
    reports.put({"pid": os.getpid()})
    release.wait(_TIMEOUT_S)


def _idle_worker_memory(context: SpawnContext) -> dict[str, Any] | None:
    """PSS of a spawned worker that imported everything but holds no data, for reference."""
    reports: Queue[dict[str, Any]] = context.Queue()
    release = context.Event()
    worker = context.Process(target=_idle_worker, args=(reports, release))
    try:
        worker.start()
        pid = int(reports.get(timeout=_TIMEOUT_S)["pid"])
        return _read_smaps(pid)
    finally:
        release.set()
        _stop([worker])
        reports.close()
        reports.join_thread()


# --- processes and memory -------------------------------------------------------------


def _stop(workers: list[SpawnProcess]) -> None:
    for worker in workers:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.terminate()
            worker.join(timeout=10)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _memory(pids: list[int]) -> dict[str, Any] | None:
    """Summed PSS of the parent (first pid) and the workers, plus each process's share."""
    per_process = [_read_smaps(pid) for pid in pids]
    if any(entry is None for entry in per_process):
        return None
    entries = [entry for entry in per_process if entry is not None]
    totals = {key: sum(entry[key] for entry in entries) for key in _SMAPS_FIELDS.values()}
    return {
        "total": totals,
        "parent": entries[0],
        "worker_pss_anon_bytes": [entry["pss_anon_bytes"] for entry in entries[1:]],
        "worker_pss_file_bytes": [entry["pss_file_bytes"] for entry in entries[1:]],
    }


def _read_smaps(pid: int) -> dict[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # not Linux, or the kernel is too old
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in _SMAPS_FIELDS:
            values[_SMAPS_FIELDS[key]] = int(rest.split()[0]) * 1024  # reported in kB
    return values


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--gigabytes", type=float, default=1.0, help="data size (default 1)")
    size.add_argument("--megabytes", type=float, help="data size in MB, for small runs")
    parser.add_argument("--n-jobs", type=int, default=4, help="workers per model (default 4)")
    parser.add_argument("--columns", type=int, default=500, help="assets per frame")
    parser.add_argument("--model", choices=("pull", "push", "both"), default="both")
    parser.add_argument("--directory", default=None, help="parent of the data directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n_jobs < 1 or args.columns < 1:
        parser.error("--n-jobs and --columns must be at least 1")
    if args.directory is None:
        args.directory = tempfile.gettempdir()
    return args


if __name__ == "__main__":
    sys.exit(main())
