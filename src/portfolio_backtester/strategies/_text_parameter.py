"""A parameter that takes any text (a ticker, a file path), which ``Parameter`` has no kind for."""

from __future__ import annotations

from typing import Any

from ..errors import ScenarioError
from ._base import Parameter


class TextParameter(Parameter):
    """Any string, declared as a categorical parameter whose only listed choice is the default.

    ``Parameter`` knows numbers, booleans and fixed choices; a ticker or a path is none of
    them. Declared as categorical, an optimiser searches only the choices an optimize section
    lists, and the default is the one choice a search without such a list would draw.
    """

    __slots__ = ()

    def validate(self, value: Any, strategy: str) -> Any:
        if not isinstance(value, str):
            raise ScenarioError(
                f"strategy {strategy!r} parameter {self.name!r}: expected text, got {value!r}"
            )
        return value


def text_parameter(name: str, default: str, doc: str) -> TextParameter:
    """A text parameter with ``default``, listed as its only choice."""
    return TextParameter(name, "categorical", default, doc, choices=(default,))
