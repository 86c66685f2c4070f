"""Locks under which workers count trials and ask for the next one.

Each is released by the system when its holder dies, however it dies (the OOM killer's
SIGKILL inside ``study.ask()`` included): on one machine a lock on a file in the run's data
directory (``filelock``: ``flock`` on POSIX, ``LockFileEx`` on Windows), across machines a
session advisory lock of the study's PostgreSQL server, so hosts need nothing but the
database in common.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import TracebackType
from typing import Any

import filelock

from ..errors import OptimizationError

__all__ = ["BUDGET_LOCK_NAME", "AdvisoryLock", "advisory_key", "budget_lock"]

BUDGET_LOCK_NAME = "budget.lock"
_POLL_S = 0.002
"""filelock polls a busy lock; the lock is held for a few storage calls (milliseconds), so a
waiting worker looks often instead of sleeping filelock's default 50 ms per look."""


def budget_lock(directory: str | Path, timeout_s: float = -1) -> filelock.BaseFileLock:
    """The lock on ``directory``'s budget file (created on first use), for every process of a
    run; ``timeout_s`` < 0 waits as long as it takes.

    Never a "soft" lock (a file that merely exists): one of those outlives a killed holder
    and would hang every other worker, so a file system without ``flock`` is an error.
    """
    return filelock.FileLock(
        Path(directory) / BUDGET_LOCK_NAME,
        timeout=timeout_s,
        poll_interval=_POLL_S,
        fallback_to_soft=False,
    )


def advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, the same on every host for a name."""
    digest = hashlib.sha256(f"portfolio-backtester:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session advisory lock; the server releases it if the holder dies."""

    def __init__(self, url: str, name: str) -> None:
        import psycopg

        self._key = advisory_key(name)
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            self._connection: Any = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            raise OptimizationError(
                f"cannot connect to {dsn!r} for the trial lock: {exc}"
            ) from None

    def __enter__(self) -> AdvisoryLock:
        self._connection.execute("SELECT pg_advisory_lock(%s)", (self._key,))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._connection.execute("SELECT pg_advisory_unlock(%s)", (self._key,))

    def close(self) -> None:
        self._connection.close()
