"""Optuna storage from a URL: a journal file by default; SQLite, PostgreSQL, a Redis journal
or the gRPC proxy in front of PostgreSQL on request."""

from __future__ import annotations

import datetime
import importlib.util
import warnings
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from ..errors import OptimizationError
from .heartbeat import GRACE_PERIOD_S, HEARTBEAT_INTERVAL_S, HeartbeatSettings
from .leases import LeasedStorage

__all__ = [
    "GRACE_PERIOD_S",
    "HEARTBEAT_INTERVAL_S",
    "STORAGE_ERRORS",
    "HeartbeatSettings",
    "database_now",
    "default_storage_url",
    "is_shared_database",
    "open_storage",
    "storage_heartbeat",
]

STORAGE_ERRORS: tuple[type[Exception], ...] = (
    optuna.exceptions.StorageInternalError,  # what RDB storages make of database errors
    sqlalchemy.exc.SQLAlchemyError,  # raised outside Optuna's sessions (connecting)
    OSError,  # the journal file
)
"""What a storage raises when it cannot be reached or written: a worker logs these at the
trial boundary and in its heartbeat, and goes on. The Redis and gRPC storages raise Optuna's
``StorageInternalError`` for a server they cannot reach, as RDB storages do."""


def default_storage_url(output_dir: Path) -> str:
    """A journal file in the run's output folder: safe for many local processes, no server."""
    return f"journal://{(output_dir / 'optuna-journal.log').resolve()}"


def is_shared_database(url: str) -> bool:
    """True for servers that hosts other than this one can reach: their workers count and
    ask under a lock in that server (:class:`~.locks.AdvisoryLock`), not a local file."""
    return url.startswith(("postgresql", "mysql", "redis://", "rediss://", "grpc://"))


def open_storage(url: str, heartbeat: HeartbeatSettings | None = None) -> BaseStorage:
    """Open (creating if needed) the storage a URL names; workers call this themselves.

    ``heartbeat`` applies to the multi-host storages (default: the defaults): PostgreSQL
    records Optuna's heartbeats, Redis and the gRPC proxy renew each process's lease.
    """
    if url.startswith(("redis://", "rediss://")):
        if importlib.util.find_spec("redis") is None:
            raise OptimizationError("a redis:// storage needs the Redis client: pip install redis")
        from .redis_storage import open_redis_storage

        return open_redis_storage(url, heartbeat or HeartbeatSettings())
    if url.startswith("grpc://"):
        from .grpc_proxy import open_grpc_storage

        return open_grpc_storage(url, heartbeat or HeartbeatSettings())
    if url.startswith("journal://"):
        path = Path(url.removeprefix("journal://"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The open lock works on file systems without symlinks (some network shares).
            backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        except OSError as exc:
            raise OptimizationError(
                f"cannot open the study journal {path}: {exc.strerror or exc}; choose a "
                "folder you can write to"
            ) from None
        return JournalStorage(backend)
    if url.startswith("sqlite:"):
        database = url.removeprefix("sqlite:///")
        if database and database != ":memory:" and not Path(database).parent.is_dir():
            raise OptimizationError(
                f"the folder of the SQLite study file {database} does not exist; create it "
                "first, or give a path in an existing folder"
            )
        return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if url.startswith("postgresql"):
        if importlib.util.find_spec("psycopg") is None:
            raise OptimizationError(
                "a postgresql:// storage needs the PostgreSQL driver: "
                "pip install 'portfolio-backtester[postgres]'"
            )
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        heartbeat = heartbeat or HeartbeatSettings()
        try:
            with warnings.catch_warnings():
                # The heartbeat is experimental in Optuna; we rely on it knowingly.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=heartbeat.interval_s,
                    grace_period=heartbeat.grace_s,
                )
        except Exception as exc:  # noqa: BLE001  # SQLAlchemy/driver errors vary by cause
            raise OptimizationError(f"cannot open the study storage {url!r}: {exc}") from None
    raise OptimizationError(
        f"unsupported storage URL {url!r}; use sqlite:///path.db, postgresql://user@host/db, "
        "redis://host:6379/0, grpc://host:port?database=postgresql://user@host/db (a "
        "storage server), or leave --storage out for a journal file in the output folder"
    )


def storage_heartbeat(storage: BaseStorage) -> HeartbeatSettings | None:
    """The heartbeat an opened storage records trials with (the renewal interval and expiry
    of its leases, on Redis and the proxy); None when it records none."""
    if isinstance(storage, LeasedStorage):
        return storage.heartbeat
    # A study wraps its RDB storage in Optuna's cache, which keeps the RDB storage as _backend.
    rdb = getattr(storage, "_backend", storage)
    if not isinstance(rdb, RDBStorage) or rdb.heartbeat_interval is None:
        return None
    interval = int(rdb.heartbeat_interval)
    grace = rdb.grace_period
    return HeartbeatSettings(interval, int(grace) if grace is not None else 2 * interval)


def database_now(storage: BaseStorage) -> datetime.datetime | None:
    """The database server's clock (naive, as Optuna compares heartbeats), or None for a
    storage without one. Staleness is measured on it, never across hosts' clocks."""
    rdb = getattr(storage, "_backend", storage)
    if not isinstance(rdb, RDBStorage):
        return None
    with rdb.engine.connect() as connection:
        now = connection.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar_one()
    return now.replace(tzinfo=None) if isinstance(now, datetime.datetime) else None
