"""Field checks for metadata.json: a crafted file ends in a DataError, never a traceback."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from portfolio_backtester.errors import DataError

__all__ = [
    "VALUE_KINDS",
    "json_object",
    "numeric_dtype",
    "optional",
    "plain_file_name",
    "required",
]

VALUE_KINDS = "biuf"
"""The numpy dtype kinds that can be shared: bool, signed and unsigned int, float."""

_T = TypeVar("_T")


def required(spec: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T:
    """``spec[key]``, which must be a ``kind`` (a bool is not an int)."""
    value = spec.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(
            f"{where}: {key!r} should be {kind.__name__}, found {type(value).__name__} "
            f"{value!r:.60}"
        )
    return value


def optional(spec: Mapping[str, Any], key: str, kind: type[_T], where: str) -> _T | None:
    """``spec[key]`` as ``required`` checks it, or None when it is missing or null."""
    return None if spec.get(key) is None else required(spec, key, kind, where)


def json_object(value: object, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object (a dict)."""
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(value).__name__}")
    return value


def numeric_dtype(name: str, where: str) -> np.dtype[Any]:
    """The numpy dtype called ``name``, which must be of a kind in ``VALUE_KINDS``."""
    try:
        dtype = np.dtype(name)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: unknown dtype {name!r:.60}") from exc
    if dtype.kind not in VALUE_KINDS:
        raise DataError(f"{where}: dtype {dtype} is not numeric")
    return dtype


def plain_file_name(name: object, where: str) -> str:
    """Only plain names inside the data directory: metadata must not point elsewhere."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise DataError(f"{where}: {name!r:.60} is not a file name inside the data directory")
    return name
