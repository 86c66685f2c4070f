"""Mark each data directory with the process that owns it, and remove those whose owner died."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from portfolio_backtester.errors import DataError

__all__ = [
    "DIRECTORY_PREFIX",
    "MARKER_NAME",
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

    A directory is an orphan when its marker names this host and a process that is not
    this one and no longer runs. Directories without a readable marker (being created,
    or another user's) and those of other hosts are left alone. Returns the removed paths.
    """
    root = Path(tempfile.gettempdir() if parent is None else parent)
    host = socket.gethostname()
    removed: list[str] = []
    try:
        entries = sorted(root.glob(f"{DIRECTORY_PREFIX}*"))
    except OSError as exc:
        raise DataError(f"cannot list {root}: {exc}") from exc
    for path in entries:
        marker = read_marker(path)
        if marker is None or marker[1] != host:
            continue
        pid = marker[0]
        if pid == os.getpid() or pid_alive(pid):
            continue
        try:
            shutil.rmtree(path)
        except OSError as exc:
            logger.warning("could not remove orphaned data directory %s: %s", path, exc)
            continue
        logger.info("removed orphaned data directory %s (its process %d is gone)", path, pid)
        removed.append(str(path))
    return removed


def write_marker(path: Path) -> None:
    """Record this process and host as the owner of the data directory ``path``."""
    marker = {"pid": os.getpid(), "hostname": socket.gethostname(), "created_unix": time.time()}
    (path / MARKER_NAME).write_text(json.dumps(marker), encoding="utf-8")


def read_marker(path: Path) -> tuple[int, str] | None:
    """The owner's pid and host recorded in ``path``, or None without a valid marker."""
    try:
        marker = json.loads((path / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(marker, dict):
        return None
    pid, host = marker.get("pid"), marker.get("hostname")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not isinstance(host, str):
        return None
    return pid, host


if sys.platform == "win32":
    import ctypes

    def pid_alive(pid: int) -> bool:
        # os.kill(pid, 0) would send CTRL_C_EVENT on Windows; ask the kernel instead.
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: exists, not ours
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)

else:

    def pid_alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        # A worker whose parent was killed is reparented, and until it is reaped a dead one
        # is a zombie that signal 0 still reaches; where /proc exists it says so.
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False  # reaped meanwhile
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[:1] != ["Z"]
