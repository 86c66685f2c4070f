"""What differs between operating systems, in one place: processes, cores, memory, identity.

The rest of the package calls these and stays portable. Processes, cores and memory come from
psutil (Windows, macOS, Linux alike); the one POSIX-only detail left, the Linux boot and PID
namespace identity, is guarded by platform with a branch for every other OS
(``tests/test_portability.py`` checks that no such call appears anywhere else).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from functools import cache

import psutil

__all__ = [
    "available_memory_bytes",
    "machine_token",
    "pid_alive",
    "process_started",
    "resident_bytes",
    "usable_cores",
]

_SAME_START_S = 1.0
"""How far two readings of one process's start time may differ: Linux derives it from the boot
time, which the kernel reports in whole seconds and NTP may nudge."""


def pid_alive(pid: int, *, started: float | None = None, started_by: float | None = None) -> bool:
    """Whether process ``pid`` runs; a zombie (dead, not yet reaped) does not.

    ``started`` (a start time recorded from :func:`process_started`) or ``started_by`` (a time
    the process certainly ran at) make it this very process: a process with the same PID that
    started at another time, or after ``started_by``, is another one reusing the PID.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if started is None and started_by is None:
            return True
        created = process.create_time()
    except psutil.NoSuchProcess:  # ZombieProcess is one too
        return False
    except psutil.AccessDenied:
        return True  # it exists, owned by someone else
    if started is not None and abs(created - started) > _SAME_START_S:
        return False
    return started_by is None or created <= started_by + _SAME_START_S


def process_started(pid: int | None = None) -> float | None:
    """When process ``pid`` (default: this one) started, in seconds since the epoch."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    process = psutil.Process()
    if hasattr(process, "cpu_affinity"):  # Linux, Windows, FreeBSD; not macOS
        return max(1, len(process.cpu_affinity()))
    return psutil.cpu_count() or 1


def available_memory_bytes() -> int:
    """Memory that can be given to new processes without swapping (free plus reclaimable)."""
    return int(psutil.virtual_memory().available)


def resident_bytes(pid: int | None = None) -> int:
    """Resident memory of process ``pid`` (default: this one)."""
    return int(psutil.Process(pid).memory_info().rss)


@cache
def machine_token() -> str | None:
    """A short token naming this boot and process table, or None where the OS has no cheap,
    stable one.

    Two containers can share a host name and a kernel but not a PID namespace: PID 57 in one
    is not PID 57 in the other, so a process's liveness can only be judged by processes with
    the same token.
    """
    if sys.platform.startswith("linux"):
        parts = []
        with contextlib.suppress(OSError):
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
                parts.append(handle.read().strip())
        with contextlib.suppress(OSError):
            parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
        if not parts:
            return None
        return hashlib.sha256(":".join(parts).encode()).hexdigest()[:6]
    else:
        # Windows and macOS: no PID namespaces, and psutil's boot time moves by a second
        # between readings there; the host name alone identifies the process table.
        return None
