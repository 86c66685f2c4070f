"""Storage overhead per trial of the optimiser's own worker loop, the coordination's service
rate, and reopening a large study, for every storage side by side in one run.

    python benchmarks/storage_overhead.py --trials 200 --repeats 3 --reopen-trials 10000

Each worker runs ``run_trials`` (the loop every optimisation worker runs: fail stale trials,
count and ask under the shared lock, tag the trial, suggest, record the outcome, tell, with
heartbeats or leases on the shared storages) with a trivial objective, against a journal
file, SQLite, PostgreSQL (``PBT_POSTGRES_URL``), the gRPC proxy in front of PostgreSQL (a
``storage_server.serve`` process started here) and a Redis journal (``PBT_REDIS_URL``), at 1,
2 and 4 workers. Overhead per trial = worker-seconds per trial minus the same loop on
in-memory storage. Round trips, which do not depend on how loaded the machine is: SQL
statements the workers (PostgreSQL) or the proxy (gRPC) send, counted with SQLAlchemy's
events, plus the two advisory-lock statements per trial (``pg_stat_database`` counts
transactions only, and late); calls the proxy served (a gRPC interceptor); Redis commands the
server ran and those sent to it (``INFO commandstats``, less the commands our Lua scripts run
inside). Service rate:
trials per second that M processes (1, 2, 4, 8) sustain together. Prints JSON; medians of
``--repeats`` runs.

Reopening: a study of ``--reopen-trials`` complete trials is written, then opened from
scratch and every trial read. The databases are filled in one transaction through Optuna's
own table models: writing 10,000 trials one by one through the storage API takes minutes,
because every new trial counts the study's trials to number itself.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
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
REDIS_INNER = {"get", "set", "incr", "exists", "del", "lpush", "ltrim", "pexpire", "pttl"}
"""Commands only our Lua scripts run (inside one round trip each), never sent on their own."""


def trivial(params: dict[str, Any]) -> Evaluation:
    """An objective that costs nothing, so the loop's time is the storage's and Optuna's."""
    x = float(params["x"])
    return Evaluation(
        values=(x * x,), window_values=((x * x,),), constraint_violations=(), n_trades=0
    )


def _loop(url: str | None, name: str, budget: int, lock: Any, queue: Any, barrier: Any) -> None:
    """One worker: run the optimiser's loop; report its seconds, trials and SQL statements."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    statements = [0]
    if url is not None and url.startswith(("postgresql", "sqlite")):
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
    assert scenario.optimize is not None
    if barrier is not None:
        barrier.wait()
    started = time.perf_counter()
    ran = run_trials(
        study,
        plan,
        trivial,
        TrialLock(guard),
        space=scenario.optimize.params,
        tag=str(os.getpid()),
        shutdown=WorkerShutdown(),
    )
    ended = time.perf_counter()
    queue.put((ended - started, ran, statements[0], started, ended))


def measure(
    url: str | None, workers: int, trials: int, spawn_one: bool = False
) -> dict[str, float]:
    """Worker-seconds per trial, SQL statements per trial and the trials per wall second."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if url is not None:
        optuna.create_study(storage=open_storage(url), study_name=name)
    context = multiprocessing.get_context("spawn")
    lock, queue = context.Lock(), context.Queue()
    if workers == 1 and not spawn_one:
        _loop(url, name, trials, lock, queue, None)
    else:
        barrier = context.Barrier(workers)
        processes = [
            context.Process(target=_loop, args=(url, name, trials, lock, queue, barrier))
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
    wall = max(r[4] for r in reports) - min(r[3] for r in reports)
    return {
        "s_per_trial": sum(r[0] for r in reports) / trials,
        "statements": sum(r[2] for r in reports) / trials,
        "rate": trials / wall,
    }


class Counters:
    """Server-side counts, read before and after a measurement."""

    def __init__(self, kind: str, postgres: str, redis_url: str, rpcs: Any) -> None:
        self.kind, self.postgres, self.redis_url, self.rpcs = kind, postgres, redis_url, rpcs

    def read(self) -> dict[str, float]:
        counts: dict[str, float] = {}
        if self.kind == "grpc":
            counts["proxy_calls"] = float(self.rpcs[0].value)
            # the proxy's statements, plus the advisory lock taken by each worker
            counts["sql_statements"] = float(self.rpcs[1].value)
        if self.kind == "redis":
            import redis

            stats = redis.Redis.from_url(self.redis_url).info("commandstats")
            counts["redis_commands"] = float(sum(v["calls"] for v in stats.values()))
            counts["redis_round_trips"] = float(
                sum(
                    v["calls"]
                    for k, v in stats.items()
                    if k.removeprefix("cmdstat_") not in REDIS_INNER
                )
            )
        return counts


def _serve(database: str, port_queue: Any, rpcs: Any, statements: Any) -> None:
    """The storage server, counting the calls it serves and the SQL statements it sends."""
    import grpc
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from portfolio_backtester.storage_server import serve

    def count(*_: Any) -> None:
        with statements.get_lock():
            statements.value += 1

    event.listen(Engine, "before_cursor_execute", count)

    class Count(grpc.ServerInterceptor):  # type: ignore[misc]
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            with rpcs.get_lock():
                rpcs.value += 1
            return continuation(details)

    serve(database, "127.0.0.1", 0, on_ready=port_queue.put, interceptors=(Count(),))


@contextlib.contextmanager
def storage_server(database: str) -> Iterator[tuple[str, Any, Any]]:
    """A storage server process over ``database``: its URL, its call counter, its SQL counter."""
    context = multiprocessing.get_context("spawn")
    urls, rpcs, statements = context.Queue(), context.Value("q", 0), context.Value("q", 0)
    process = context.Process(target=_serve, args=(database, urls, rpcs, statements), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=60), (rpcs, statements), process
    finally:
        process.terminate()  # SIGTERM: the server stops cleanly
        process.join(30)


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


def reopen(url: str, n_trials: int, database: str | None) -> float:
    """Seconds to open a study of ``n_trials`` trials from scratch and read every trial.

    Journals (file, Redis) are written through the storage, as a run writes them (with
    Optuna's snapshot every 100 trials on Redis); databases are filled directly."""
    name = f"reopen-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(storage=open_storage(url), study_name=name)
    if database is None:
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
        _fill_database(database, name, n_trials)
    started = time.perf_counter()
    fresh = optuna.load_study(study_name=name, storage=open_storage(url))
    trials = fresh.get_trials(deepcopy=False)
    elapsed = time.perf_counter() - started
    assert len(trials) == n_trials and trials[-1].params["x"] == (n_trials - 1) / n_trials
    optuna.delete_study(study_name=name, storage=open_storage(url))
    return elapsed


def bench(kind: str, url: str, args: argparse.Namespace, counters: Counters) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": url.split("?")[0] if kind != "grpc" else "grpc://…"}
    for workers in (1, 2, 4):
        samples, deltas = [], []
        for _ in range(args.repeats):
            before = counters.read()
            samples.append(measure(url, workers, args.trials))
            after = counters.read()
            deltas.append({k: (after[k] - before[k]) / args.trials for k in after})
        entry[f"workers_{workers}_overhead_ms_per_trial"] = round(
            (statistics.median(s["s_per_trial"] for s in samples) - args.baseline) * 1e3, 2
        )
        per_trial: dict[str, float] = {}
        if kind in ("postgresql", "sqlite"):
            per_trial["sql_statements"] = statistics.median(s["statements"] for s in samples)
            if kind == "postgresql":
                per_trial["sql_statements"] += 2  # the advisory lock, taken outside SQLAlchemy
        for key in deltas[0]:
            per_trial[key] = statistics.median(d[key] for d in deltas)
        if kind == "grpc":
            per_trial["sql_statements"] += 2  # the advisory lock, straight to the database
        entry[f"workers_{workers}_per_trial"] = {k: round(v, 2) for k, v in per_trial.items()}
    for processes in (1, 2, 4, 8):
        rate = measure(url, processes, args.rate_trials, spawn_one=True)["rate"]
        entry[f"service_rate_{processes}_trials_per_s"] = round(rate, 1)
    database = args.postgres if kind in ("postgresql", "grpc") else None
    database = url if kind == "sqlite" else database
    entry["reopen_s"] = round(reopen(url, args.reopen_trials, database), 3)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate-trials", type=int, default=400)
    parser.add_argument("--reopen-trials", type=int, default=10_000)
    parser.add_argument("--storages", default="journal,sqlite,postgresql,grpc,redis")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.postgres = os.environ.get("PBT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_base = os.environ.get("PBT_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, storage_server(args.postgres) as server:
        grpc_url, rpcs, _ = server
        urls = {
            "journal": f"journal://{Path(tmp) / 'journal.log'}",
            "sqlite": f"sqlite:///{Path(tmp) / 'study.db'}",
            "postgresql": args.postgres,
            "grpc": grpc_url,
            "redis": f"{redis_base}?prefix={prefix}",
        }
        args.baseline = statistics.median(
            measure(None, 1, args.trials)["s_per_trial"] for _ in range(args.repeats)
        )
        results: dict[str, Any] = {
            "trials": args.trials,
            "repeats": args.repeats,
            "rate_trials": args.rate_trials,
            "reopen_trials": args.reopen_trials,
            "cores": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load],
            "in_memory_ms_per_trial": round(args.baseline * 1e3, 3),
        }
        try:
            for kind in args.storages.split(","):
                counters = Counters(kind, args.postgres, redis_base, rpcs)
                results[kind] = bench(kind, urls[kind], args, counters)
                print(json.dumps({kind: results[kind]}), file=sys.stderr, flush=True)
        finally:
            _remove_redis_keys(redis_base, prefix)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


def _remove_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


if __name__ == "__main__":
    main()
