"""The strategies a scenario can name: an explicit table, so what is available is plain to read.

A strategy of one's own needs no registration: name it as ``"module:ClassName"`` and it
is imported from the Python path when asked for.
"""

from __future__ import annotations

import importlib

from ..errors import ScenarioError, did_you_mean
from ._base import BaseStrategy
from .buy_and_hold import BuyAndHoldStrategy
from .dummy_signal import DummySignalStrategy
from .equal_weight import EqualWeightStrategy
from .inverse_volatility import InverseVolatilityStrategy
from .low_volatility import LowVolatilityStrategy
from .sharpe_momentum import SharpeMomentumStrategy
from .simple_momentum import SimpleMomentumStrategy
from .sma_crossover import SmaCrossoverStrategy

__all__ = ["STRATEGIES", "get_strategy", "is_builtin", "strategy_names"]

STRATEGIES: dict[str, type[BaseStrategy]] = {
    "buy_and_hold": BuyAndHoldStrategy,
    "dummy_signal_strategy": DummySignalStrategy,
    "equal_weight": EqualWeightStrategy,
    "inverse_volatility": InverseVolatilityStrategy,
    "low_volatility": LowVolatilityStrategy,
    "sharpe_momentum": SharpeMomentumStrategy,
    "simple_momentum": SimpleMomentumStrategy,
    "sma_crossover": SmaCrossoverStrategy,
}


def get_strategy(name: str) -> type[BaseStrategy]:
    """The strategy class registered as ``name``, or the one a ``"module:ClassName"`` names.

    A ScenarioError says what is wrong and lists the registered names.
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    if ":" in name:
        return _import_strategy(name)
    raise ScenarioError(
        f"unknown strategy {name!r}"
        + did_you_mean(name, STRATEGIES)
        + f"; available strategies: {', '.join(strategy_names())}"
        + " (or give your own as 'module:ClassName')"
    )


def is_builtin(strategy: type[BaseStrategy]) -> bool:
    """Whether a strategy class ships with the package (its exceptions are our bugs)."""
    return STRATEGIES.get(strategy.name) is strategy


def strategy_names() -> list[str]:
    """Registered strategy names, sorted, for help texts and error messages."""
    return sorted(STRATEGIES)


def _import_strategy(path: str) -> type[BaseStrategy]:
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ScenarioError(f"strategy {path!r}: expected 'module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only the named module itself being absent is the user's mistake; a dependency
        # missing inside it keeps its traceback.
        missing = error.name or ""
        if module_name != missing and not module_name.startswith(missing + "."):
            raise
        raise ScenarioError(
            f"strategy {path!r}: no module named {missing!r}; "
            "is its folder on PYTHONPATH (and in every worker's environment)?"
        ) from None
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, BaseStrategy)):
        candidates = [
            key
            for key, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, BaseStrategy)
        ]
        raise ScenarioError(
            f"strategy {path!r}: module {module_name!r} has no BaseStrategy subclass "
            f"{class_name!r}" + did_you_mean(class_name, candidates)
        )
    return found
