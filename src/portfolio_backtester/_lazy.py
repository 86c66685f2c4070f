"""A value computed when it is first read, for results whose parts are not always read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """``compute()`` on the first :meth:`get`, then its value; pickled as the value.

    A notebook loop over parameter sets reads a backtest's metrics and seldom its trade
    list, whose frame costs more than the trades' statistics: such parts wait until read.
    """

    __slots__ = ("_compute", "_value")

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute: Callable[[], T] | None = compute
        self._value: T | None = None

    @classmethod
    def ready(cls, value: T) -> Lazy[T]:
        lazy: Lazy[T] = cls(lambda: value)
        lazy.get()
        return lazy

    def get(self) -> T:
        compute = self._compute
        if compute is not None:
            self._value = compute()
            self._compute = None  # drops what the computation held on to
        return self._value  # type: ignore[return-value]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lazy.ready, (self.get(),))

    def __repr__(self) -> str:
        return "Lazy(<not computed>)" if self._compute is not None else f"Lazy({self._value!r})"
