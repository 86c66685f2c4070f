"""Storage overhead per trial of the worker loop, and the time to reopen a large study.

    python benchmarks/storage_overhead.py --trials 300 --reopen-trials 10000

Each worker runs the loop the optimiser uses (count the trials and ask under the shared lock,
tag the trial, tell a trivial value) against a journal file, SQLite and PostgreSQL (from
``PBT_POSTGRES_URL``, default the local server's ``test`` database), at 1 and 2 workers.
Overhead per trial = worker-seconds per trial minus the same loop on in-memory storage.
Prints JSON; medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState, create_trial

from portfolio_backtester.optimization.locks import AdvisoryLock
from portfolio_backtester.optimization.storage import is_shared_database, open_storage


def _loop(url: str | None, name: str, budget: int, lock: Any) -> None:
    storage: Any = optuna.storages.InMemoryStorage() if url is None else open_storage(url)
    if url is None:
        optuna.create_study(storage=storage, study_name=name)
    study = optuna.load_study(
        study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler(seed=os.getpid())
    )
    shared = url is not None and is_shared_database(url)
    guard = AdvisoryLock(url, name) if shared and url is not None else lock
    while True:
        with guard:
            if len(study.get_trials(deepcopy=False)) >= budget:
                break
            trial = study.ask()
            trial.set_user_attr("worker", str(os.getpid()))
        x = trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, x * x)


def measure(url: str | None, workers: int, trials: int) -> float:
    """Worker-seconds per trial."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if url is not None:
        optuna.create_study(storage=open_storage(url), study_name=name)
    context = multiprocessing.get_context("spawn")
    lock = context.Lock()
    started = time.perf_counter()
    if workers == 1:
        _loop(url, name, trials, lock)
    else:
        processes = [
            context.Process(target=_loop, args=(url, name, trials, lock)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            assert process.exitcode == 0
    elapsed = time.perf_counter() - started
    if url is not None:
        done = optuna.load_study(study_name=name, storage=open_storage(url)).trials
        assert len(done) == trials, (len(done), trials)
        optuna.delete_study(study_name=name, storage=open_storage(url))
    return elapsed * workers / trials


def reopen(url: str, n_trials: int) -> float:
    """Seconds to open a study of ``n_trials`` trials from scratch and read every trial."""
    name = f"reopen-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(storage=open_storage(url), study_name=name)
    distribution = optuna.distributions.FloatDistribution(0.0, 1.0)
    batch = [
        create_trial(
            params={"x": i / n_trials},
            distributions={"x": distribution},
            value=float(i),
            state=TrialState.COMPLETE,
        )
        for i in range(n_trials)
    ]
    study.add_trials(batch)
    started = time.perf_counter()
    fresh = optuna.load_study(study_name=name, storage=open_storage(url))
    count = len(fresh.get_trials(deepcopy=False))
    elapsed = time.perf_counter() - started
    assert count == n_trials
    optuna.delete_study(study_name=name, storage=open_storage(url))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reopen-trials", type=int, default=10_000)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    postgres = os.environ.get("PBT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with tempfile.TemporaryDirectory() as tmp:
        urls = {
            "journal": f"journal://{Path(tmp) / 'journal.log'}",
            "sqlite": f"sqlite:///{Path(tmp) / 'study.db'}",
            "postgresql": postgres,
        }
        baseline = statistics.median(measure(None, 1, args.trials) for _ in range(args.repeats))
        results: dict[str, Any] = {
            "trials": args.trials,
            "repeats": args.repeats,
            "in_memory_ms_per_trial": baseline * 1e3,
        }
        for kind, url in urls.items():
            entry: dict[str, Any] = {}
            for workers in (1, 2):
                samples = [measure(url, workers, args.trials) for _ in range(args.repeats)]
                entry[f"workers_{workers}_overhead_ms_per_trial"] = (
                    statistics.median(samples) - baseline
                ) * 1e3
            entry["reopen_s"] = reopen(url, args.reopen_trials)
            results[kind] = entry
            print(json.dumps({kind: entry}), file=sys.stderr, flush=True)
        results["reopen_trials"] = args.reopen_trials
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
