"""Mark each data directory with the process that owns it, and remove those whose owner died."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from portfolio_backtester._platform import machine_token, pid_alive, process_started
from portfolio_backtester.errors import DataError

__all__ = [
    "DIRECTORY_PREFIX",
    "MARKER_NAME",
    "Owner",
    "pid_alive",
    "read_marker",
    "remove_orphaned_data_dirs",
    "write_marker",
]

logger = logging.getLogger(__name__)

DIRECTORY_PREFIX = "pbt-data-"
MARKER_NAME = "owner.json"


def remove_orphaned_data_dirs(parent: str | os.PathLike[str] | None = None) -> list[str]:
    """Remove data directories under ``parent`` whose writer died without cleaning up.

    A directory is an orphan when its marker names this host's process table and a process
    that is not this one and no longer runs (a PID now held by a process that started at
    another time counts as gone). Directories without a readable marker (being created, or
    another user's), those of other hosts and those of containers sharing this host name but
    not its PID namespace are left alone. Returns the removed paths.
    """
    root = Path(tempfile.gettempdir() if parent is None else parent)
    removed: list[str] = []
    try:
        entries = sorted(root.glob(f"{DIRECTORY_PREFIX}*"))
    except OSError as exc:
        raise DataError(f"cannot list {root}: {exc}") from exc
    for path in entries:
        owner = read_marker(path)
        if owner is None or not owner.is_local() or owner.pid == os.getpid():
            continue
        if pid_alive(owner.pid, started=owner.started):
            continue
        try:
            shutil.rmtree(path)
        except OSError as exc:
            logger.warning("could not remove orphaned data directory %s: %s", path, exc)
            continue
        logger.info("removed orphaned data directory %s (its process %d is gone)", path, owner.pid)
        removed.append(str(path))
    return removed


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that wrote a data directory, as its marker records it."""

    pid: int
    hostname: str
    token: str | None = None
    started: float | None = None
    directory_id: str | None = None

    def is_local(self) -> bool:
        """Whether the owner ran on this host's process table. Markers written before the
        machine token was recorded are judged by the host name alone, as they were then."""
        if self.hostname != socket.gethostname():
            return False
        return self.directory_id is None or self.token == machine_token()


def write_marker(path: Path) -> None:
    """Record this process, its start time, this host and a unique id in ``path``."""
    marker = {
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "token": machine_token(),
        "started": process_started(),
        "id": uuid.uuid4().hex,
        "created_unix": time.time(),
    }
    (path / MARKER_NAME).write_text(json.dumps(marker), encoding="utf-8")


def read_marker(path: Path) -> Owner | None:
    """The owner recorded in ``path``, or None without a valid marker."""
    try:
        marker = json.loads((path / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(marker, dict):
        return None
    pid, host = marker.get("pid"), marker.get("hostname")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not isinstance(host, str):
        return None
    token, started, directory_id = marker.get("token"), marker.get("started"), marker.get("id")
    return Owner(
        pid,
        host,
        token if isinstance(token, str) else None,
        float(started) if isinstance(started, int | float) else None,
        directory_id if isinstance(directory_id, str) else None,
    )
