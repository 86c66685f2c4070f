"""Optuna storage from a URL: a journal file by default, SQLite or PostgreSQL on request."""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from ..errors import OptimizationError

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "default_storage_url",
    "heartbeat_enabled",
    "heartbeat_settings",
    "is_shared_database",
    "open_storage",
]

HEARTBEAT_INTERVAL_S = 5
GRACE_PERIOD_S = 20


def heartbeat_settings() -> tuple[int, int]:
    """Heartbeat interval and grace period in seconds for database studies.

    ``PBT_HEARTBEAT_INTERVAL`` and ``PBT_GRACE_PERIOD`` override the defaults; a shorter
    grace period fails a dead host's trials sooner, at the price of more database writes.
    """
    interval = _positive_int("PBT_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL_S)
    grace = _positive_int("PBT_GRACE_PERIOD", GRACE_PERIOD_S)
    if grace <= interval:
        raise OptimizationError(
            f"PBT_GRACE_PERIOD ({grace} s) must be longer than PBT_HEARTBEAT_INTERVAL "
            f"({interval} s)"
        )
    return interval, grace


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name)
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


def open_storage(url: str) -> BaseStorage:
    """Open (creating if needed) the storage a URL names; workers call this themselves."""
    if url.startswith("journal://"):
        path = Path(url.removeprefix("journal://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # The open lock works on file systems without symlinks (some network shares).
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return JournalStorage(backend)
    if url.startswith("sqlite:"):
        return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if url.startswith("postgresql"):
        if importlib.util.find_spec("psycopg") is None:
            raise OptimizationError(
                "a postgresql:// storage needs the PostgreSQL driver: "
                "pip install 'portfolio-backtester[postgres]'"
            )
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        interval, grace = heartbeat_settings()
        try:
            with warnings.catch_warnings():
                # The heartbeat is experimental in Optuna; we rely on it knowingly.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=interval,
                    grace_period=grace,
                )
        except Exception as exc:  # noqa: BLE001  # SQLAlchemy/driver errors vary by cause
            raise OptimizationError(f"cannot open the study storage {url!r}: {exc}") from None
    raise OptimizationError(
        f"unsupported storage URL {url!r}; use sqlite:///path.db, postgresql://user@host/db, "
        "or leave --storage out for a journal file in the output folder"
    )


def heartbeat_enabled(storage: BaseStorage) -> bool:
    """Whether the storage records trial heartbeats (RDB storage opened with an interval)."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None


def study_exists(storage: BaseStorage, name: str) -> bool:
    """Whether a study of that name is already in the storage."""
    return any(s.study_name == name for s in storage.get_all_studies())
