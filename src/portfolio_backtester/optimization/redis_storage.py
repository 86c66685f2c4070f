"""Studies in Redis: Optuna's journal storage on a Redis backend, with leases for liveness.

The journal's keys are exactly those of Optuna's ``JournalRedisBackend`` (``:log_number``,
``:log:N``, ``:snapshot`` after an optional prefix), so ``optuna-dashboard redis://host/db``
and any Optuna client read the studies. What differs is the traffic: Optuna's backend sends
two commands per log written and one per log read; here one Lua script appends the logs and
returns every log up to them (so the sync that follows every write costs nothing), and one
reads every new log. A process also reads back neither the trials it created nor finished
trials (they change only through its own writes, or not at all), as Optuna's cache does for
finished trials of a database. About nine round trips per trial, the budget lock included.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Generator, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from optuna.exceptions import StorageInternalError
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalRedisBackend
from optuna.trial import FrozenTrial
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import OptimizationError
from .heartbeat import HeartbeatSettings
from .leases import Lease, LeasedStorage

__all__ = [
    "RedisJournalBackend",
    "RedisJournalStorage",
    "RedisLeases",
    "open_redis_storage",
    "redis_client",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_READ_BATCH = 5000
"""Logs per read script: a study of 10,000 trials is about 80,000 logs, read in pieces so
that Redis, which runs one script at a time, never stops for long."""

_APPEND = """
local counter = ARGV[1] .. ':log_number'
if redis.call('exists', counter) == 0 then redis.call('set', counter, -1) end
for i = 3, #ARGV do
  local n = redis.call('incr', counter)
  redis.call('set', ARGV[1] .. ':log:' .. n, ARGV[i])
end
local last = tonumber(redis.call('get', counter))
local logs = {}
for n = tonumber(ARGV[2]), last do logs[#logs + 1] = redis.call('get', ARGV[1] .. ':log:' .. n) end
return logs
"""

_READ = """
local last = redis.call('get', ARGV[1] .. ':log_number')
if not last then return {} end
last = math.min(tonumber(last), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)
local logs = {}
for n = tonumber(ARGV[2]), last do logs[#logs + 1] = redis.call('get', ARGV[1] .. ':log:' .. n) end
return logs
"""

_SET = "redis.call('set', KEYS[1], ARGV[1]) return 1"
_GET = "return redis.call('get', KEYS[1])"


def redis_client(url: str) -> tuple[redis.Redis, str]:
    """A client of the server a ``redis://`` (or ``rediss://``) URL names, and the URL's key
    prefix (``?prefix=NAME``; none by default, which is what optuna-dashboard reads).

    Commands are never retried by the client: appending a log twice would record an
    operation twice (two trials for one ``ask``). Reads are retried here instead.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((value for key, value in query if key == "prefix"), "")
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    try:
        client = redis.Redis.from_url(plain, retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise OptimizationError(f"cannot read the Redis URL {url!r}: {exc}") from None
    return client, prefix


class RedisJournalBackend(JournalRedisBackend):
    """Optuna's Redis journal keys, one round trip per append and per read."""

    def __init__(self, client: redis.Redis, prefix: str = "", where: str = "Redis") -> None:
        # The parent's __init__ would open a client of its own from a URL; this one is given.
        self._url = where
        self._redis = client
        self._use_cluster = False
        self._prefix = prefix
        self._where = where
        self._append = client.register_script(_APPEND)
        self._read = client.register_script(_READ)
        self._set = client.register_script(_SET)
        self._get = client.register_script(_GET)
        self._next = 0  # the first log not yet handed to the journal storage
        self._fetched: tuple[int, list[Any]] | None = None  # logs an append brought back

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        fetched, self._fetched = self._fetched, None
        if fetched is not None and fetched[0] == log_number_from:
            raw = fetched[1]
        else:
            raw = []
            while True:
                start = log_number_from + len(raw)
                batch = self._call(self._read, [self._prefix, start, _READ_BATCH], retry=True)
                raw.extend(batch)
                if len(batch) < _READ_BATCH:
                    break
        self._next = log_number_from + len(raw)
        return (json.loads(log) for log in raw)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        encoded = [json.dumps(log) for log in logs]
        start = self._next
        self._fetched = (start, self._call(self._append, [self._prefix, start, *encoded]))

    def save_snapshot(self, snapshot: bytes) -> None:
        self._call(self._set, [snapshot], keys=[f"{self._prefix}:snapshot"])

    def load_snapshot(self) -> bytes | None:
        value = self._call(self._get, [], keys=[f"{self._prefix}:snapshot"], retry=True)
        return value if isinstance(value, bytes) else None

    def _call(
        self,
        script: Any,
        args: Sequence[Any],
        *,
        keys: Sequence[str] = (),
        retry: bool = False,
    ) -> Any:
        return _redis_call(lambda: script(keys=list(keys), args=list(args)), self._where, retry)


class RedisLeases:
    """Leases as keys ``PREFIX:pbt:lease:ID`` that expire on the Redis server's clock."""

    def __init__(self, client: redis.Redis, prefix: str, where: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._where = where

    def _key(self, lease_id: str) -> str:
        return f"{self._prefix}:pbt:lease:{lease_id}"

    def renew(self, lease_id: str, holder: str, ttl_ms: int) -> None:
        _redis_call(lambda: self._redis.psetex(self._key(lease_id), ttl_ms, holder), self._where)

    def live(self, lease_ids: Collection[str]) -> set[str]:
        ids = sorted(lease_ids)
        if not ids:
            return set()
        values = _redis_call(
            lambda: self._redis.mget([self._key(i) for i in ids]), self._where, retry=True
        )
        return {lease_id for lease_id, value in zip(ids, values, strict=True) if value}

    def release(self, lease_id: str) -> None:
        _redis_call(lambda: self._redis.unlink(self._key(lease_id)), self._where)


class RedisJournalStorage(LeasedStorage, JournalStorage):
    """A journal storage in Redis whose trials name this process's lease."""

    def __init__(self, url: str, heartbeat: HeartbeatSettings) -> None:
        client, prefix = redis_client(url)
        where = f"Redis at {_without_password(url)}"
        super().__init__(RedisJournalBackend(client, prefix, where))
        self.heartbeat = heartbeat
        self._leases = RedisLeases(client, prefix, where)
        self.lease = Lease(self._leases, heartbeat)
        self._created: set[int] = set()
        self._client = client

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:
            template_trial = self.lease.running_trial()
        trial_id = super().create_new_trial(study_id, template_trial)
        self._created.add(trial_id)
        return trial_id

    def get_trial(self, trial_id: int) -> FrozenTrial:
        # A finished trial never changes, and one this process created changes only through
        # its own writes (each of which brings the journal up to date) or by being failed by
        # another process, which its next write learns: neither needs a read.
        with self._thread_lock:
            known = self._replay_result._trials.get(trial_id)
        if known is not None and (known.state.is_finished() or trial_id in self._created):
            return known
        return super().get_trial(trial_id)

    def live_leases(self, lease_ids: Collection[str]) -> set[str]:
        return self._leases.live(lease_ids)

    def close(self) -> None:
        """Release the lease and the connections."""
        self.lease.close()
        self._client.close()


def open_redis_storage(url: str, heartbeat: HeartbeatSettings) -> RedisJournalStorage:
    """The study storage at a ``redis://`` URL, with a clear error when Redis is not there."""
    try:
        return RedisJournalStorage(url, heartbeat)
    except StorageInternalError as exc:
        raise OptimizationError(
            f"cannot open the study storage {_without_password(url)!r}: {exc.__cause__ or exc}"
        ) from None


def _redis_call(call: Callable[[], _T], where: str, retry: bool = False) -> _T:
    """One command or script; Redis errors become Optuna's ``StorageInternalError`` (what the
    workers handle for every storage). ``retry`` only for commands that may run twice."""
    attempts = 3 if retry else 1
    for attempt in range(attempts):
        try:
            return call()
        except redis.ConnectionError as exc:
            if attempt + 1 == attempts:
                raise StorageInternalError(f"{where}: {exc}") from exc
            time.sleep(0.1 * 2**attempt)
        except redis.RedisError as exc:
            raise StorageInternalError(f"{where}: {exc}") from exc
    raise AssertionError("unreachable")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
