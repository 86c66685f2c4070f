"""Optuna storage from a URL: a journal file by default, SQLite or PostgreSQL on request."""

from __future__ import annotations

import datetime
import importlib.util
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from ..errors import OptimizationError

__all__ = [
    "STORAGE_ERRORS",
    "HeartbeatSettings",
    "database_now",
    "default_storage_url",
    "is_shared_database",
    "open_storage",
    "storage_heartbeat",
]

HEARTBEAT_INTERVAL_S = 5
GRACE_PERIOD_S = 20

STORAGE_ERRORS: tuple[type[Exception], ...] = (
    optuna.exceptions.StorageInternalError,  # what RDB storages make of database errors
    sqlalchemy.exc.SQLAlchemyError,  # raised outside Optuna's sessions (connecting)
    OSError,  # the journal file
)
"""What a storage raises when it cannot be reached or written: a worker logs these at the
trial boundary and in its heartbeat, and goes on."""


@dataclass(frozen=True, slots=True)
class HeartbeatSettings:
    """Heartbeat interval and grace period of database studies, in seconds.

    Read once at the edge (the command line reads ``PBT_HEARTBEAT_INTERVAL`` and
    ``PBT_GRACE_PERIOD`` through :meth:`from_environment`) and passed down to every worker;
    a shorter grace period fails a dead host's trials sooner, at the price of more writes.
    """

    interval_s: int = HEARTBEAT_INTERVAL_S
    grace_s: int = GRACE_PERIOD_S

    def __post_init__(self) -> None:
        if self.interval_s < 1 or self.grace_s <= self.interval_s:
            raise OptimizationError(
                f"the grace period ({self.grace_s} s) must be longer than the heartbeat "
                f"interval ({self.interval_s} s), and the interval at least 1 s"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> HeartbeatSettings:
        """The defaults, overridden by ``PBT_HEARTBEAT_INTERVAL`` and ``PBT_GRACE_PERIOD``."""
        env = os.environ if environ is None else environ
        return cls(
            interval_s=_positive_int(env, "PBT_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL_S),
            grace_s=_positive_int(env, "PBT_GRACE_PERIOD", GRACE_PERIOD_S),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise OptimizationError(f"{name} must be a whole number of seconds >= 1, got {text!r}")
    return int(text)


def default_storage_url(output_dir: Path) -> str:
    """A journal file in the run's output folder: safe for many local processes, no server."""
    return f"journal://{(output_dir / 'optuna-journal.log').resolve()}"


def is_shared_database(url: str) -> bool:
    """True for servers that hosts other than this one can reach."""
    return url.startswith(("postgresql", "mysql"))


def open_storage(url: str, heartbeat: HeartbeatSettings | None = None) -> BaseStorage:
    """Open (creating if needed) the storage a URL names; workers call this themselves.

    ``heartbeat`` applies to PostgreSQL, the multi-host storage (default: the defaults).
    """
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
        "or leave --storage out for a journal file in the output folder"
    )


def storage_heartbeat(storage: BaseStorage) -> HeartbeatSettings | None:
    """The heartbeat an opened storage records trials with; None when it records none."""
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
