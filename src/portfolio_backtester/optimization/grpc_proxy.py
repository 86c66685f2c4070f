"""Studies through Optuna's gRPC storage proxy in front of PostgreSQL, with leases.

``grpc://HOST:PORT?database=postgresql://user@db/name``: workers send every storage call to
the proxy (:func:`portfolio_backtester.storage_server.serve`, Optuna's
``run_grpc_proxy_server`` over an RDB storage), which alone runs SQLAlchemy and keeps Optuna's
cache of finished trials. The proxy has no heartbeats and no lock, so the budget lock (a
PostgreSQL advisory lock) and each worker's lease (a row of ``pbt_leases``) go straight to the
database the URL names, the one the proxy serves: two short statements per trial.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from optuna.exceptions import ExperimentalWarning, StorageInternalError
from optuna.storages import BaseStorage, GrpcStorageProxy
from optuna.trial import FrozenTrial

from ..errors import OptimizationError
from .heartbeat import HeartbeatSettings
from .leases import Lease, LeasedStorage, PostgresLeases

__all__ = [
    "GrpcUrl",
    "LeasedGrpcStorage",
    "open_grpc_storage",
    "parse_grpc_url",
    "proxied_storage",
]

_EXAMPLE = "grpc://HOST:PORT?database=postgresql://user@db/name"


@dataclass(frozen=True, slots=True)
class GrpcUrl:
    """Where the proxy listens, and the PostgreSQL database behind it."""

    host: str
    port: int
    database: str

    def url(self) -> str:
        return f"grpc://{self.host}:{self.port}?database={self.database}"


def parse_grpc_url(url: str) -> GrpcUrl:
    """The parts of a ``grpc://`` storage URL; a clear error for one that lacks any."""
    parts = urlsplit(url)
    database = dict(parse_qsl(parts.query)).get("database", "")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or not database.startswith("postgresql"):
        raise OptimizationError(
            f"cannot read the storage URL {url!r}: a proxy URL is {_EXAMPLE} (the database "
            "the storage server serves, for the budget lock and the workers' leases); "
            "'portfolio-backtester storage-server' prints it when it starts"
        )
    return GrpcUrl(parts.hostname, port, database)


class LeasedGrpcStorage(LeasedStorage, GrpcStorageProxy):
    """Optuna's gRPC proxy client whose trials name this process's lease, and whose lost
    connections raise ``StorageInternalError`` (what workers handle) instead of gRPC's."""

    def __init__(self, url: GrpcUrl, heartbeat: HeartbeatSettings) -> None:
        with warnings.catch_warnings():
            # The proxy is experimental in Optuna; we rely on it knowingly.
            warnings.simplefilter("ignore", ExperimentalWarning)
            GrpcStorageProxy.__init__(self, host=url.host, port=url.port)
        self.heartbeat = heartbeat
        self._leases = PostgresLeases(url.database)
        self.lease = Lease(self._leases, heartbeat)

    def _setup(self) -> None:
        super()._setup()
        stub: Any = _Unavailable(self._stub, f"storage server {self._host}:{self._port}")
        self._stub = self._cache.grpc_client = stub

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:
            template_trial = self.lease.running_trial()
        return super().create_new_trial(study_id, template_trial)

    def live_leases(self, lease_ids: Collection[str]) -> set[str]:
        return self._leases.live(lease_ids)

    def close(self) -> None:
        """Release the lease and close the connections."""
        self.lease.close()
        self._leases.close()
        super().close()


def open_grpc_storage(url: str, heartbeat: HeartbeatSettings) -> LeasedGrpcStorage:
    """The study storage behind a ``grpc://`` URL, once its server answers."""
    parsed = parse_grpc_url(url)
    missing = [name for name in ("grpc", "psycopg") if importlib.util.find_spec(name) is None]
    if missing:
        raise OptimizationError(
            f"a grpc:// storage needs {' and '.join(missing)}: "
            "pip install grpcio 'psycopg[binary]'"
        )
    storage = LeasedGrpcStorage(parsed, heartbeat)
    try:
        storage.wait_server_ready(timeout=10)
    except ConnectionError:
        storage.close()
        raise OptimizationError(
            f"no storage server answers at {parsed.host}:{parsed.port}; start one with "
            f"'portfolio-backtester storage-server --storage {parsed.database} "
            f"--port {parsed.port}'"
        ) from None
    return storage


def proxied_storage(database_url: str) -> BaseStorage:
    """What the proxy serves: Optuna's RDB storage behind its cache, as Optuna advises."""
    import optuna

    if not database_url.startswith("postgresql"):
        raise OptimizationError(
            f"the storage server serves a PostgreSQL database (postgresql://user@host/db), "
            f"not {database_url!r}: the workers' budget lock and leases live there"
        )
    engine_url = database_url
    if engine_url.startswith("postgresql://"):
        engine_url = "postgresql+psycopg://" + engine_url.removeprefix("postgresql://")
    try:
        return optuna.storages.get_storage(
            optuna.storages.RDBStorage(engine_url, engine_kwargs={"pool_pre_ping": True})
        )
    except Exception as exc:  # noqa: BLE001  # SQLAlchemy/driver errors vary by cause
        raise OptimizationError(f"cannot open the database {database_url!r}: {exc}") from None


class _Unavailable:
    """A stub whose calls raise ``StorageInternalError`` when the server cannot be reached;
    every other gRPC error stays for the proxy client to map (NOT_FOUND to KeyError, …)."""

    def __init__(self, stub: Any, where: str) -> None:
        self._stub = stub
        self._where = where

    def __getattr__(self, name: str) -> Callable[..., Any]:
        grpc: Any = importlib.import_module("grpc")  # no type stubs needed
        method = getattr(self._stub, name)
        lost = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except grpc.RpcError as exc:
                if exc.code() in lost:
                    raise StorageInternalError(f"{self._where}: {exc.details()}") from exc
                raise

        setattr(self, name, call)  # looked up once per method
        return call
