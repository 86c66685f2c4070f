"""Scenario files read as safe, bounded YAML: no code, no alias bombs, no duplicate keys.

A scenario is a few lines of settings: a file of megabytes, aliases that expand to millions
of values, or a key given twice is a mistake (or an attack), refused before it costs time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError

__all__ = ["MAX_ALIASED_VALUES", "MAX_SCENARIO_BYTES", "read_yaml_document"]

MAX_SCENARIO_BYTES = 1_000_000
MAX_ALIASED_VALUES = 10_000  # a billion-laughs document expands to millions
_MAX_MESSAGE = 500


def read_yaml_document(path: Path) -> Any:
    """The YAML document in ``path``, or a ScenarioError saying what is wrong and where."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SCENARIO_BYTES + 1)
        if len(raw) > MAX_SCENARIO_BYTES:
            raise ScenarioError(
                f"{path}: is larger than {MAX_SCENARIO_BYTES:,} bytes; a scenario "
                "is a few lines of settings, not data"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from None
    try:
        loader, sizes = _Loader(text), dict[int, float]()
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, sizes) - len(sizes) > MAX_ALIASED_VALUES:
            raise ScenarioError(
                f"{path}: its aliases (*name) expand to more than {MAX_ALIASED_VALUES:,} "
                "values, or contain themselves; write the values out"
            )
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}: invalid YAML{where}: {problem}"[:_MAX_MESSAGE]) from None
    except RecursionError:
        raise ScenarioError(f"{path}: the YAML is nested too deeply") from None


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys and leaves impossible dates to the schema."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k for k, _ in node.value if k.tag == "tag:yaml.org,2002:str"]
        for i, key in enumerate(keys):
            if any(other.value == key.value for other in keys[:i]):
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key.value!r} appears twice", key.start_mark
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:  # "2015-02-30" stays text, for the schema to name its key
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _expanded_size(node: yaml.Node, sizes: dict[int, float]) -> float:
    """Values in the document with its aliases expanded; infinite for a recursive alias."""
    if id(node) not in sizes:
        sizes[id(node)] = math.inf  # reached again before it is known: an alias to itself
        children = node.value if isinstance(node, yaml.CollectionNode) else []
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in children for child in pair]
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]
