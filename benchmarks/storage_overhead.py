"""Storage overhead per trial of the optimiser's own worker loop, and reopening a large study.

    python benchmarks/storage_overhead.py --trials 300 --reopen-trials 10000

Each worker runs ``run_trials`` (the loop every optimisation worker runs: fail stale trials,
count and ask under the shared lock, tag the trial, suggest, record the outcome, tell, with
heartbeats on a database) with a trivial objective, against a journal file, SQLite and
PostgreSQL (from ``PBT_POSTGRES_URL``, default the local server's ``test`` database), at 1
and 2 workers. Overhead per trial = worker-seconds per trial minus the same loop on
in-memory storage. On the databases each worker also counts the SQL statements it sends,
a figure that does not depend on how loaded the machine is. Prints JSON; medians of
``--repeats`` runs.

Reopening: a study of ``--reopen-trials`` complete trials is written, then opened from
scratch and every trial read. The databases are filled in one transaction through Optuna's
own table models: writing 10,000 trials one by one through the storage API takes minutes,
because every new trial counts the study's trials to number itself.
"""

from __future__ import annotations

import argparse
import datetime
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

from portfolio_backtester.config import load_scenario
from portfolio_backtester.optimization.locks import AdvisoryLock
from portfolio_backtester.optimization.objective import Evaluation
from portfolio_backtester.optimization.plan import StudyPlan
from portfolio_backtester.optimization.storage import is_shared_database, open_storage
from portfolio_backtester.optimization.trial_loop import TrialLock, WorkerShutdown, run_trials

SCENARIO = {
    "name": "storage-benchmark",
    "strategy": {"name": "simple_momentum"},
    "optimize": {"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}},
}


def trivial(params: dict[str, Any]) -> Evaluation:
    """An objective that costs nothing, so the loop's time is the storage's and Optuna's."""
    x = float(params["x"])
    return Evaluation(
        values=(x * x,), window_values=((x * x,),), constraint_violations=(), n_trades=0
    )


def _loop(url: str | None, name: str, budget: int, lock: Any, queue: Any) -> None:
    """One worker: run the optimiser's loop; report loop seconds and SQL statements."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    statements = [0]
    if url is not None and not url.startswith("journal"):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def count(*_: Any) -> None:
            statements[0] += 1

        event.listen(Engine, "before_cursor_execute", count)
    storage: Any = optuna.storages.InMemoryStorage() if url is None else open_storage(url)
    if url is None:
        optuna.create_study(storage=storage, study_name=name)
    study = optuna.load_study(
        study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler(seed=os.getpid())
    )
    shared = url is not None and is_shared_database(url)
    guard = AdvisoryLock(url, name) if shared and url is not None else lock
    scenario = load_scenario(SCENARIO)
    plan = StudyPlan(name, budget, (), "test")
    started = time.perf_counter()
    assert scenario.optimize is not None
    ran = run_trials(
        study,
        plan,
        trivial,
        TrialLock(guard),
        space=scenario.optimize.params,
        tag=str(os.getpid()),
        shutdown=WorkerShutdown(),
    )
    queue.put((time.perf_counter() - started, ran, statements[0]))


def measure(url: str | None, workers: int, trials: int) -> tuple[float, float]:
    """Worker-seconds per trial and SQL statements per trial."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if url is not None:
        optuna.create_study(storage=open_storage(url), study_name=name)
    context = multiprocessing.get_context("spawn")
    lock, queue = context.Lock(), context.Queue()
    if workers == 1:
        _loop(url, name, trials, lock, queue)
    else:
        processes = [
            context.Process(target=_loop, args=(url, name, trials, lock, queue))
            for _ in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            assert process.exitcode == 0
    reports = [queue.get() for _ in range(workers)]
    assert sum(r[1] for r in reports) == trials, reports
    if url is not None:
        done = optuna.load_study(study_name=name, storage=open_storage(url)).trials
        assert len(done) == trials and all(t.state == TrialState.COMPLETE for t in done)
        optuna.delete_study(study_name=name, storage=open_storage(url))
    return sum(r[0] for r in reports) / trials, sum(r[2] for r in reports) / trials


def _fill_database(url: str, name: str, n_trials: int) -> None:
    """Write ``n_trials`` complete trials in one transaction with Optuna's table models."""
    from optuna.storages import RDBStorage
    from optuna.storages._rdb import models

    storage = open_storage(url)
    assert isinstance(storage, RDBStorage)
    study_id = storage.get_study_id_from_name(name)
    distribution = optuna.distributions.FloatDistribution(0.0, 1.0)
    as_json = optuna.distributions.distribution_to_json(distribution)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    session = storage.scoped_session()
    try:
        for i in range(n_trials):
            trial = models.TrialModel(number=i, study_id=study_id, state=TrialState.COMPLETE)
            trial._datetime_start_utc = trial._datetime_complete_utc = now
            trial.params = [
                models.TrialParamModel(
                    param_name="x", param_value=i / n_trials, distribution_json=as_json
                )
            ]
            trial.values = [
                models.TrialValueModel(
                    objective=0,
                    value=float(i),
                    value_type=models.TrialValueModel.TrialValueType.FINITE,
                )
            ]
            session.add(trial)
        session.commit()
    finally:
        session.close()
    storage.engine.dispose()


def reopen(url: str, n_trials: int) -> float:
    """Seconds to open a study of ``n_trials`` trials from scratch and read every trial."""
    name = f"reopen-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(storage=open_storage(url), study_name=name)
    if url.startswith("journal"):
        distribution = optuna.distributions.FloatDistribution(0.0, 1.0)
        study.add_trials(
            [
                create_trial(
                    params={"x": i / n_trials},
                    distributions={"x": distribution},
                    value=float(i),
                    state=TrialState.COMPLETE,
                )
                for i in range(n_trials)
            ]
        )
    else:
        _fill_database(url, name, n_trials)
    started = time.perf_counter()
    fresh = optuna.load_study(study_name=name, storage=open_storage(url))
    trials = fresh.get_trials(deepcopy=False)
    elapsed = time.perf_counter() - started
    assert len(trials) == n_trials and trials[-1].params["x"] == (n_trials - 1) / n_trials
    optuna.delete_study(study_name=name, storage=open_storage(url))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reopen-trials", type=int, default=10_000)
    parser.add_argument("--storages", default="journal,sqlite,postgresql")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    postgres = os.environ.get("PBT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with tempfile.TemporaryDirectory() as tmp:
        urls = {
            "journal": f"journal://{Path(tmp) / 'journal.log'}",
            "sqlite": f"sqlite:///{Path(tmp) / 'study.db'}",
            "postgresql": postgres,
        }
        baseline = statistics.median(measure(None, 1, args.trials)[0] for _ in range(args.repeats))
        results: dict[str, Any] = {
            "trials": args.trials,
            "repeats": args.repeats,
            "in_memory_ms_per_trial": baseline * 1e3,
        }
        for kind in args.storages.split(","):
            url = urls[kind]
            entry: dict[str, Any] = {}
            for workers in (1, 2):
                samples = [measure(url, workers, args.trials) for _ in range(args.repeats)]
                entry[f"workers_{workers}_overhead_ms_per_trial"] = (
                    statistics.median(s[0] for s in samples) - baseline
                ) * 1e3
                if kind != "journal":
                    entry[f"workers_{workers}_sql_statements_per_trial"] = statistics.median(
                        s[1] for s in samples
                    )
            entry["reopen_s"] = reopen(url, args.reopen_trials)
            results[kind] = entry
            print(json.dumps({kind: entry}), file=sys.stderr, flush=True)
        results["reopen_trials"] = args.reopen_trials
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
