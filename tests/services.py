"""The servers the shared-storage tests run against: PostgreSQL, Redis, and a storage server
(the gRPC proxy) started as a real process. Missing servers fail the tests, never skip them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("PBT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PBT_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_postgres(url: str = POSTGRES_URL) -> None:
    """Fail (never skip) when the server is not there: the contract must hold on it."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL at {url} is not reachable ({exc}); start it or set PBT_POSTGRES_URL"
        )


def require_redis(url: str = REDIS_URL) -> None:
    """Fail (never skip) when Redis is not there; ``.ci/run`` starts it."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {url} is not reachable ({exc}); start it (redis-server --daemonize "
            "yes) or set PBT_REDIS_URL"
        )


def redis_url(prefix: str) -> str:
    """A Redis journal of its own (keys under ``prefix``) in the test server."""
    require_redis()
    return f"{REDIS_URL}?prefix={prefix}"


def redis_keys_removed(url: str) -> None:
    """Delete every key of the journal at ``url`` (its prefix's)."""
    import redis

    prefix = dict(part.split("=", 1) for part in urlsplit(url).query.split("&"))["prefix"]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


@contextmanager
def storage_server(database_url: str = POSTGRES_URL) -> Iterator[str]:
    """``portfolio-backtester storage-server`` over ``database_url``, as a user starts it;
    yields the ``grpc://`` URL it prints, and stops it with SIGTERM afterwards."""
    require_postgres(database_url)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "portfolio_backtester", "storage-server"),
            *("--storage", database_url, "--host", "127.0.0.1", "--port", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("grpc://"):
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the storage server did not start: {err[-2000:]}")
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise AssertionError("the storage server did not stop on SIGTERM") from None
        assert process.returncode == 0, err[-2000:]
        assert "storage server stopped" in err
