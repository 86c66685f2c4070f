"""The operating-system side of worker processes: threads, logging, parent watch, stopping.

Workers are started with ``spawn`` on every OS; these helpers keep what that needs in one
place: one BLAS thread per worker, logging configured once in each, an exit when the parent
dies, and a stop that escalates from terminate to kill.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import threading
from collections.abc import Iterator

import optuna

from .trial_loop import WorkerShutdown

__all__ = [
    "configure_worker_logging",
    "single_threaded_children",
    "stop_workers",
    "watch_parent",
]

logger = logging.getLogger(__name__)

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def watch_parent(shutdown: WorkerShutdown) -> None:
    """Exit soon after the parent dies, even if it was killed outright."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        logger.warning("parent process is gone; worker exits")
        # Not between asking for a trial and tagging it: an untagged running trial could
        # never be attributed to this worker and failed by the next run.
        shutdown.wait_until_tagged(timeout_s=5)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def configure_worker_logging(level: int) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s",
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Spawned children inherit the environment: one BLAS/OpenMP thread each, so N workers
    do not oversubscribe the cores. The parent's own settings are restored afterwards."""
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def stop_workers(workers: list[multiprocessing.process.BaseProcess]) -> None:
    """Terminate and reap every worker still alive; kill one that has not exited 10 s later.

    ``terminate()`` is SIGTERM on POSIX (the worker's handler fails its trial, then exits)
    and TerminateProcess on Windows; ``kill()`` SIGKILL or TerminateProcess.
    """
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
