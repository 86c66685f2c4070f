"""The gRPC storage proxy: the service Optuna's ``run_grpc_proxy_server`` runs, over PostgreSQL.

Workers on any host then use ``grpc://HOST:PORT?database=…`` as their storage: every storage
call goes to this one process, which alone runs SQLAlchemy and keeps Optuna's cache of
finished trials, instead of each worker running an ORM session per call. The budget lock and
the workers' leases stay in the database itself (see ``optimization.grpc_proxy``).
"""

from __future__ import annotations

import importlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

from .errors import OptimizationError
from .optimization.grpc_proxy import GrpcUrl, proxied_storage

__all__ = ["serve"]

logger = logging.getLogger(__name__)

_STOP_GRACE_S = 5.0
"""Calls in flight when a stop is asked for get this long to finish."""


def serve(
    storage_url: str,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str], None] | None = None,
    interceptors: tuple[Any, ...] = (),
) -> None:
    """Serve ``storage_url`` (``postgresql://…``) on ``host``:``port`` until SIGINT or SIGTERM.

    ``port`` 0 takes a free port. Once the server listens, the URL workers use is logged and
    passed to ``on_ready`` (the command line prints it). Stopping lets calls in flight
    finish for a few seconds, then returns normally. ``interceptors`` are gRPC server
    interceptors (the storage benchmark counts calls with one). Must run in the main thread,
    which receives the signals.
    """
    grpc: Any = importlib.import_module("grpc")  # no type stubs needed
    from optuna.storages._grpc.auto_generated import api_pb2_grpc
    from optuna.storages._grpc.servicer import OptunaStorageProxyService

    storage = proxied_storage(storage_url)
    server: Any = grpc.server(
        ThreadPoolExecutor(max_workers=16, thread_name_prefix="pbt-storage"),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    )
    api_pb2_grpc.add_StorageServiceServicer_to_server(  # type: ignore[no-untyped-call]
        OptunaStorageProxyService(storage), server
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise OptimizationError(f"cannot listen on {host}:{port}: {exc}") from None
    if bound == 0:
        raise OptimizationError(f"cannot listen on {host}:{port}: the port is taken or refused")
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            logger.info("%s: stopping the storage server", signal.Signals(signum).name)
            server.stop(_STOP_GRACE_S)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        url = GrpcUrl(_reachable_name(host), bound, storage_url).url()
        logger.info("storage server for %s listening on %s:%d", storage_url, host, bound)
        logger.info("workers use --storage '%s'", url)
        if on_ready is not None:
            on_ready(url)
        server.wait_for_termination()
    finally:
        server.stop(None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logger.info("storage server stopped")


def _reachable_name(host: str) -> str:
    """The name other hosts reach a server bound to ``host`` by (``0.0.0.0`` is none)."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        return socket.getfqdn()
    return host
