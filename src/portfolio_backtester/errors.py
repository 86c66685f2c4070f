"""The project's exceptions: every mistake a user can make ends in one of these."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DataError",
    "OptimizationError",
    "PortfolioBacktesterError",
    "ScenarioError",
    "StrategyError",
    "did_you_mean",
]


class PortfolioBacktesterError(Exception):
    """Base of every error the CLI reports as one line with exit code 2."""


class ScenarioError(PortfolioBacktesterError, ValueError):
    """The scenario file or its values are wrong."""


class DataError(PortfolioBacktesterError, ValueError):
    """Market data is missing, malformed or inconsistent with the scenario."""


class OptimizationError(PortfolioBacktesterError):
    """An optimisation cannot start, resume or finish as asked."""


class StrategyError(PortfolioBacktesterError):
    """A user's own strategy raised: its name, parameters and exception, in one line."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix for near misses, or '' when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
