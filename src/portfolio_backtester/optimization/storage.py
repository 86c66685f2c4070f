"""Optuna storage from a URL: a journal file by default, SQLite or PostgreSQL on request."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from ..errors import OptimizationError

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "default_storage_url",
    "is_shared_database",
    "open_storage",
]

HEARTBEAT_INTERVAL_S = 5
GRACE_PERIOD_S = 20


def default_storage_url(output_dir: Path) -> str:
    """A journal file in the run's output folder: safe for many local processes, no server."""
    return f"journal:///{(output_dir / 'optuna-journal.log').resolve()}"


def is_shared_database(url: str) -> bool:
    """True for servers that hosts other than this one can reach."""
    return url.startswith(("postgresql", "mysql"))


def open_storage(url: str) -> BaseStorage:
    """Open (creating if needed) the storage a URL names; workers call this themselves."""
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:").lstrip("/"))
        path = Path("/") / path if url.startswith("journal:///") else path
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
        try:
            return RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=GRACE_PERIOD_S,
            )
        except Exception as exc:  # noqa: BLE001  # SQLAlchemy/driver errors vary by cause
            raise OptimizationError(f"cannot open the study storage {url!r}: {exc}") from None
    raise OptimizationError(
        f"unsupported storage URL {url!r}; use sqlite:///path.db, postgresql://user@host/db, "
        "or leave --storage out for a journal file in the output folder"
    )


def study_exists(storage: BaseStorage, name: str) -> bool:
    """Whether a study of that name is already in the storage."""
    return any(s.study_name == name for s in optuna.get_all_study_summaries(storage))
