"""A content hash of ``OptimizationData``: the same on every host, whatever the memory layout."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import numpy.typing as npt

from portfolio_backtester.optimization._frames import FramePlan, fortran_values, plan_frames
from portfolio_backtester.optimization.results import OptimizationData

__all__ = ["data_fingerprint", "hash_frame", "hash_windows", "new_digest"]


def data_fingerprint(data: OptimizationData) -> str:
    """A sha256 over every frame's values, labels and dtypes and the windows.

    It depends only on content (not on memory layout, process or host), so a worker can
    check that the data it mapped is the data the parent meant.
    """
    digest = new_digest()
    for item in plan_frames(data):
        hash_frame(digest, item, fortran_values(item))
    hash_windows(digest, data)
    return digest.hexdigest()


def new_digest() -> hashlib._Hash:
    """An empty fingerprint digest; feed it with ``hash_frame`` and ``hash_windows``."""
    return hashlib.sha256(b"portfolio-backtester data fingerprint v1\0")


def hash_frame(digest: hashlib._Hash, item: FramePlan, values: npt.NDArray[Any]) -> None:
    """Add one frame's description, label arrays and F-ordered ``values`` to ``digest``."""
    digest.update(_canonical_json({"name": item.name, **item.spec}))
    for file in sorted(item.arrays):
        digest.update(file.encode())
        digest.update(_little_endian_c_order(item.arrays[file]).data)
    digest.update(_little_endian_c_order(values.T).data)  # the transpose of an F array is C


def hash_windows(digest: hashlib._Hash, data: OptimizationData) -> None:
    """Add the walk-forward windows of ``data`` to ``digest``."""
    digest.update(_canonical_json([window.to_dict() for window in data.windows]))


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _little_endian_c_order(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Hash the same bytes on every host (no copy on little-endian machines)."""
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
