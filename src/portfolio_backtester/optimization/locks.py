"""Locks under which workers count trials and ask for the next one.

Each is released when its holder dies, however it dies (the OOM killer's SIGKILL inside
``study.ask()`` included): on one machine a lock on a file in the run's data directory
(``filelock``: ``flock`` on POSIX, ``LockFileEx`` on Windows); across machines a lock in the
study's own server, so hosts need nothing but that server in common: a session advisory lock
of PostgreSQL (``postgresql://``, and the database behind a ``grpc://`` proxy), which the
server releases with the holder's connection, or a Redis key with an expiry (``redis://``),
renewed while it is held and lapsing ``REDIS_LOCK_TTL_S`` after its holder died.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import filelock

from ..errors import OptimizationError

logger = logging.getLogger(__name__)

__all__ = [
    "BUDGET_LOCK_NAME",
    "REDIS_LOCK_TTL_S",
    "AdvisoryLock",
    "PostgresAdvisoryLock",
    "RedisLock",
    "advisory_key",
    "budget_lock",
]

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
    """The budget lock of a study shared across hosts, in the study's own server (the lock
    each worker of a database, Redis or proxy study holds while it counts and asks)."""

    def __init__(self, url: str, name: str) -> None:
        self._lock: PostgresAdvisoryLock | RedisLock
        if url.startswith(("redis://", "rediss://")):
            self._lock = RedisLock(url, name)
        elif url.startswith("grpc://"):
            from .grpc_proxy import parse_grpc_url

            self._lock = PostgresAdvisoryLock(parse_grpc_url(url).database, name)
        else:
            self._lock = PostgresAdvisoryLock(url, name)

    def __enter__(self) -> AdvisoryLock:
        self._lock.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.__exit__(exc_type, exc, traceback)

    def close(self) -> None:
        self._lock.close()


class PostgresAdvisoryLock:
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

    def __enter__(self) -> PostgresAdvisoryLock:
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


REDIS_LOCK_TTL_S = 10
"""How long a Redis budget lock outlives a holder that died; a live holder renews it."""

_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('get', KEYS[1]) == ARGV[1] then return 0 end
return math.max(redis.call('pttl', KEYS[1]), 1)
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('lpush', KEYS[2], 1)
  redis.call('ltrim', KEYS[2], 0, 0)
  redis.call('pexpire', KEYS[2], ARGV[2])
end
return 1
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLock:
    """A lock in Redis: ``SET NX PX`` with a token of its own, released only by its holder.

    A waiter blocks on a list the holder pushes to when it releases (``BLPOP``), instead of
    polling; it looks again at least every 100 ms, so a lock whose holder died is taken as
    soon as it expires. A thread renews the expiry while the lock is held, so a live holder
    that takes longer than the expiry (a slow sampler, a paused machine) keeps it.
    """

    def __init__(self, url: str, name: str) -> None:
        from .redis_storage import redis_client

        self._redis, prefix = redis_client(url)
        self._keys = [f"{prefix}:pbt:lock:{name}", f"{prefix}:pbt:lock-released:{name}"]
        self._ttl_ms = REDIS_LOCK_TTL_S * 1000
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._extend = self._redis.register_script(_EXTEND)
        self._token: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> RedisLock:
        token = uuid.uuid4().hex
        while True:
            wait_ms = int(self._acquire(keys=self._keys, args=[token, self._ttl_ms]))
            if wait_ms == 0:
                break
            self._redis.blpop([self._keys[1]], timeout=min(wait_ms, 100) / 1000)
        self._token = token
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="pbt-lock", daemon=True)
            self._renewer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        assert token is not None, "released a Redis lock that is not held"
        self._release(keys=self._keys, args=[token, self._ttl_ms])

    def close(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self._redis.close()

    def _renew(self) -> None:
        import redis

        while not self._stop.wait(self._ttl_ms / 3000):
            token = self._token
            if token is None:
                continue
            try:
                self._extend(keys=self._keys[:1], args=[token, self._ttl_ms])
            except redis.RedisError as exc:  # the next renewal tries again
                logger.warning("renewing the budget lock failed: %s", exc)
