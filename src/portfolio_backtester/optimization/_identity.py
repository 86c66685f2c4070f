"""Who a worker is: a tag unique to it, and whether its process still runs.

A tag reads ``host:TOKEN-ID:pid`` (``host:ID:pid`` where the OS gives no machine token):
``ID`` is random, so two workers never share a tag, even in containers that share a host
name, or when a PID is reused; ``TOKEN`` names this boot and PID namespace
(:func:`~portfolio_backtester._platform.machine_token`), so only a process on the same
process table judges whether the worker still runs. Tags of older studies, ``host:pid``,
still parse.
"""

from __future__ import annotations

import datetime
import socket
import uuid
from dataclasses import dataclass

from .._platform import machine_token, pid_alive

__all__ = ["WorkerTag", "new_worker_id", "worker_gone", "worker_tag"]


@dataclass(frozen=True, slots=True)
class WorkerTag:
    """A parsed worker tag; ``token`` and ``worker_id`` are None in tags of older studies."""

    host: str
    token: str | None
    worker_id: str | None
    pid: int

    @classmethod
    def parse(cls, text: str) -> WorkerTag | None:
        parts = text.split(":")
        if len(parts) == 2 and parts[1].isdigit():  # host:pid, before worker ids
            return cls(parts[0], None, None, int(parts[1]))
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        token, _, worker_id = parts[1].rpartition("-")
        return cls(parts[0], token or None, worker_id, int(parts[2]))

    def is_local(self) -> bool:
        """Whether the worker ran on this host's process table (only then can its PID be
        looked up here)."""
        if self.host != socket.gethostname():
            return False
        return self.worker_id is None or self.token == machine_token()


def new_worker_id() -> str:
    return uuid.uuid4().hex[:8]


def worker_tag(pid: int, worker_id: str) -> str:
    token = machine_token()
    middle = worker_id if token is None else f"{token}-{worker_id}"
    return f"{socket.gethostname()}:{middle}:{pid}"


def worker_gone(tag: str, trial_started: datetime.datetime | None) -> bool:
    """Whether the worker named by ``tag``, which ran a trial started at ``trial_started``,
    certainly no longer runs: it is on this process table and its PID is free, a zombie, or
    held by a process that started after the trial did (the PID was reused)."""
    parsed = WorkerTag.parse(tag)
    if parsed is None or not parsed.is_local():
        return False
    # Naive times are this host's local time (RDB storages), aware ones UTC (the journal).
    started_by = None if trial_started is None else trial_started.timestamp()
    return not pid_alive(parsed.pid, started_by=started_by)
