"""Results kept per object for as long as the object lives, found by its identity.

A notebook loop backtests the same data again and again: the checks and schedules that
depend only on the data are computed once per data object. An entry is dropped when its
object is collected, so a new object that reuses the identity never sees it. The objects
are treated as read-only (the data's frames are memory-mapped read-only in workers).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["cached_on"]

T = TypeVar("T")

_CACHES: dict[int, dict[Hashable, Any]] = {}


def cached_on(owner: object, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` the first time ``key`` is asked for on ``owner``, then its result."""
    cache = _CACHES.get(id(owner))
    if cache is None:
        cache = _CACHES[id(owner)] = {}
        weakref.finalize(owner, _CACHES.pop, id(owner), None)
    if key not in cache:
        cache[key] = compute()
    value: T = cache[key]
    return value
