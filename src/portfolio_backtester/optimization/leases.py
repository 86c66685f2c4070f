"""Leases: how a process that creates trials proves, on a storage without heartbeats, that it
is alive.

Optuna records heartbeats only in its RDB storage; the Redis journal and the gRPC proxy have
none. There, each process that creates trials holds one lease in the study's own server
(Redis: a key with an expiry; PostgreSQL: a row of ``pbt_leases`` with an expiry), renewed by
a thread every heartbeat interval and lapsing after the grace period, and every trial it
creates names the lease in a system attribute (written with the trial itself: no extra round
trip). Other hosts fail a running trial whose lease has lapsed. Expiry is judged on the
server's clock alone, never across hosts' clocks, and a process renews one lease however
many trials it runs: nothing is written per trial.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import uuid
from collections.abc import Collection
from typing import Any, Protocol

from optuna.exceptions import StorageInternalError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from .heartbeat import HeartbeatSettings

__all__ = ["LEASE_ATTR", "Lease", "LeaseServer", "LeasedStorage", "PostgresLeases"]

logger = logging.getLogger(__name__)

LEASE_ATTR = "pbt_lease"
"""The trial system attribute naming the lease of the process that created the trial."""


class LeaseServer(Protocol):
    """Where leases live: renewed with an expiry, checked, released; a server that cannot be
    reached raises ``StorageInternalError``, as Optuna's RDB storage does."""

    def renew(self, lease_id: str, holder: str, ttl_ms: int) -> None: ...

    def live(self, lease_ids: Collection[str]) -> set[str]: ...

    def release(self, lease_id: str) -> None: ...


class Lease:
    """This process's lease, started on first use (so processes that only read never hold
    one) and renewed by a daemon thread until :meth:`close`; a renewal that fails is logged
    and tried again at the next interval, as a heartbeat is."""

    def __init__(self, server: LeaseServer, heartbeat: HeartbeatSettings) -> None:
        self.id = uuid.uuid4().hex
        self._server = server
        self._heartbeat = heartbeat
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._started = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def running_trial(self) -> FrozenTrial:
        """A template for a new trial exactly like Optuna's default one, naming this lease
        (written with the trial itself: no extra round trip)."""
        return FrozenTrial(
            number=-1,
            state=TrialState.RUNNING,
            value=None,
            datetime_start=datetime.datetime.now(),
            datetime_complete=None,
            params={},
            distributions={},
            user_attrs={},
            system_attrs={LEASE_ATTR: self.ensure()},
            intermediate_values={},
            trial_id=-1,
        )

    def ensure(self) -> str:
        """The lease's id, renewed once now if this is its first use (before any trial names
        it, so no trial ever names a lease that does not exist yet)."""
        if self._thread is not None:
            return self.id
        with self._started:
            if self._thread is None:
                self._renew()
                thread = threading.Thread(target=self._beat, name="pbt-lease", daemon=True)
                thread.start()
                self._thread = thread
        return self.id

    def close(self) -> None:
        """Stop renewing and release the lease (a process that exits without this lets it
        lapse after the grace period)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._server.release(self.id)

    def _renew(self) -> None:
        self._server.renew(self.id, self._holder, self._heartbeat.grace_s * 1000)

    def _beat(self) -> None:
        while not self._stop.wait(self._heartbeat.interval_s):
            try:
                self._renew()
            except StorageInternalError as exc:  # a dropped connection must not end it
                logger.warning(
                    "renewing lease %s failed (%s: %s); trying again in %d s",
                    self.id,
                    type(exc).__name__,
                    exc,
                    self._heartbeat.interval_s,
                )


class LeasedStorage(BaseStorage):
    """A storage whose trials name the lease of their creator, instead of heartbeats."""

    heartbeat: HeartbeatSettings
    lease: Lease

    def live_leases(self, lease_ids: Collection[str]) -> set[str]:
        """Which of ``lease_ids`` are still renewed; one round trip (none for no ids)."""
        raise NotImplementedError

    def record_heartbeat(self, trial_id: int) -> None:
        """What the trial loop calls per trial: the lease covers every trial of this process,
        so nothing is written; the lease is started if it was not yet."""
        self.lease.ensure()


_LEASE_TABLE = """CREATE TABLE IF NOT EXISTS pbt_leases (
    lease_id text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)"""


class PostgresLeases:
    """Leases as rows of ``pbt_leases`` (created on first use), expiring on the server's
    clock (``now()``); one autocommit connection, used by one thread at a time."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self._dsn = dsn
        self._connection: Any = None
        self._lock = threading.Lock()

    def _execute(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        psycopg = self._psycopg
        with self._lock:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = psycopg.connect(self._dsn, autocommit=True)
                    try:
                        self._connection.execute(_LEASE_TABLE)
                    except psycopg.errors.UniqueViolation:
                        pass  # another process created it at the same moment
                cursor = self._connection.execute(sql, args)
                return list(cursor.fetchall()) if cursor.description else []
            except psycopg.OperationalError as exc:
                self._connection = None  # reconnect next time
                raise StorageInternalError(f"PostgreSQL leases: {exc}") from exc

    def renew(self, lease_id: str, holder: str, ttl_ms: int) -> None:
        self._execute(
            "INSERT INTO pbt_leases VALUES (%s, %s, now() + %s * interval '1 millisecond') "
            "ON CONFLICT (lease_id) DO UPDATE SET expires_at = excluded.expires_at",
            (lease_id, holder, ttl_ms),
        )

    def live(self, lease_ids: Collection[str]) -> set[str]:
        if not lease_ids:
            return set()
        rows = self._execute(
            "SELECT lease_id FROM pbt_leases WHERE lease_id = ANY(%s) AND expires_at > now()",
            (list(lease_ids),),
        )
        return {str(row[0]) for row in rows}

    def release(self, lease_id: str) -> None:
        # Rows of processes that died stay until they are a day old.
        self._execute(
            "DELETE FROM pbt_leases WHERE lease_id = %s OR expires_at < now() - interval '1 day'",
            (lease_id,),
        )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
