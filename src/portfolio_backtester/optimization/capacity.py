"""How many workers a run gets: at most one per core unless asked, never more than fit in memory.

Workers are CPU-bound and each holds an interpreter with NumPy, pandas and Optuna plus the
arrays of the trial it evaluates; the data themselves are mapped once for all. More workers
than cores only add memory and switching, and more than fit in memory swap or meet the OOM
killer, so both are settled before anything is written.
"""

from __future__ import annotations

import logging

from .._platform import available_memory_bytes, resident_bytes, usable_cores
from ..errors import OptimizationError, ScenarioError

__all__ = ["WORKER_BASE_BYTES", "check_memory", "resolve_n_jobs", "worker_bytes"]

logger = logging.getLogger(__name__)

WORKER_BASE_BYTES = 100 * 2**20
"""The least a worker is counted for: a spawned worker running trials on the small built-in
data holds about 85 MB of private memory (RssAnon; Python 3.11, pandas 3, Optuna 5)."""


def resolve_n_jobs(
    n_jobs: int, trials: int, *, oversubscribe: bool = False, events: list[str] | None = None
) -> int:
    """-1 means every usable core; more workers than cores are capped at the cores (with a
    warning) unless ``oversubscribe``; 0, or more workers than trials, is a mistake."""
    if n_jobs == 0 or n_jobs < -1:
        raise ScenarioError(f"--n-jobs must be a positive number or -1 (all cores), got {n_jobs}")
    cores = usable_cores()
    if n_jobs == -1:
        return max(1, min(cores, trials))
    if n_jobs > trials:
        raise ScenarioError(
            f"--n-jobs {n_jobs} asks for more workers than the {trials} trials to run; "
            f"use at most {trials} workers"
        )
    if n_jobs > cores and not oversubscribe:
        message = (
            f"--n-jobs {n_jobs} asks for more workers than the {cores} core(s) this process "
            f"may use; running {cores} (add --oversubscribe to run {n_jobs} anyway)"
        )
        logger.warning(message)
        if events is not None:
            events.append(message)
        return cores
    return n_jobs


def worker_bytes(data_bytes: int, data_in_memory_bytes: int) -> int:
    """Estimated private memory of one worker: what this process holds besides its copy of
    the data (it imported what a worker imports), at least :data:`WORKER_BASE_BYTES`, plus
    a trial's arrays, counted as large as the data (weights, positions and returns of every
    day and asset)."""
    measured = resident_bytes() - data_in_memory_bytes
    return max(measured, WORKER_BASE_BYTES) + data_bytes


def check_memory(n_jobs: int, data_bytes: int, data_in_memory_bytes: int) -> None:
    """Refuse a run whose workers would not fit in the memory available now.

    ``data_bytes`` are the shared files (mapped once, counted once); ``data_in_memory_bytes``
    the copy this process holds.
    """
    if n_jobs == 1:
        return
    per_worker = worker_bytes(data_bytes, data_in_memory_bytes)
    needed = data_bytes + n_jobs * per_worker
    available = available_memory_bytes()
    if needed <= available:
        return
    fits = max(1, (available - data_bytes) // per_worker)
    raise OptimizationError(
        f"{n_jobs} workers would need about {needed / 1e9:.1f} GB ({per_worker / 1e6:.0f} MB "
        f"each, plus {data_bytes / 1e6:.0f} MB of shared data) but {available / 1e9:.1f} GB "
        f"are available; use --n-jobs {fits} or fewer, or free memory"
    )
