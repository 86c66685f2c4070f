"""How often a worker proves it is alive on a shared storage, and how long others wait."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import OptimizationError

__all__ = ["GRACE_PERIOD_S", "HEARTBEAT_INTERVAL_S", "HeartbeatSettings"]

HEARTBEAT_INTERVAL_S = 5
GRACE_PERIOD_S = 20


@dataclass(frozen=True, slots=True)
class HeartbeatSettings:
    """Heartbeat interval and grace period of shared studies, in seconds.

    Read once at the edge (the command line reads ``PBT_HEARTBEAT_INTERVAL`` and
    ``PBT_GRACE_PERIOD`` through :meth:`from_environment`) and passed down to every worker;
    a shorter grace period fails a dead host's trials sooner, at the price of more writes.
    PostgreSQL records Optuna's heartbeats at this interval; Redis and the gRPC proxy renew
    each process's lease at it, the lease expiring after the grace period.
    """

    interval_s: int = HEARTBEAT_INTERVAL_S
    grace_s: int = GRACE_PERIOD_S

    def __post_init__(self) -> None:
        if self.interval_s < 1 or self.grace_s <= self.interval_s:
            raise OptimizationError(
                f"the grace period ({self.grace_s} s) must be longer than the heartbeat "
                f"interval ({self.interval_s} s), and the interval at least 1 s"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> HeartbeatSettings:
        """The defaults, overridden by ``PBT_HEARTBEAT_INTERVAL`` and ``PBT_GRACE_PERIOD``."""
        env = os.environ if environ is None else environ
        return cls(
            interval_s=_positive_int(env, "PBT_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL_S),
            grace_s=_positive_int(env, "PBT_GRACE_PERIOD", GRACE_PERIOD_S),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise OptimizationError(f"{name} must be a whole number of seconds >= 1, got {text!r}")
    return int(text)
