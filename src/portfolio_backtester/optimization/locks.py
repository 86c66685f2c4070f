"""Locks under which workers count trials and ask for the next one.

On one machine a ``multiprocessing`` lock does; across machines the study's PostgreSQL server
holds the lock (a session advisory lock), so hosts need nothing but the database in common.
"""

from __future__ import annotations

import hashlib
from types import TracebackType
from typing import Any

from ..errors import OptimizationError

__all__ = ["AdvisoryLock", "advisory_key"]


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
