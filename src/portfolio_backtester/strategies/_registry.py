"""The strategies a scenario can name: an explicit table, so what is available is plain to read.

A strategy of one's own needs no registration: name it as ``"module:ClassName"``. The module
is looked for in the scenario's folder first, then on the Python path. One found in the folder
is imported by its path under its own name (``sys.path`` is left alone), so that every later
import of that name, and pickle, finds the same module; a spawned worker or a joining host
does the same from the folder recorded in the scenario.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import ScenarioError, did_you_mean
from ._base import BaseStrategy
from .buy_and_hold import BuyAndHoldStrategy
from .dual_momentum import DualMomentumStrategy
from .dummy_signal import DummySignalStrategy
from .equal_weight import EqualWeightStrategy
from .fifty_two_week_high import FiftyTwoWeekHighStrategy
from .file_signal import FileSignalStrategy
from .inverse_volatility import InverseVolatilityStrategy
from .low_beta import LowBetaStrategy
from .low_volatility import LowVolatilityStrategy
from .minimum_variance import MinimumVarianceStrategy
from .risk_parity import RiskParityStrategy
from .sharpe_momentum import SharpeMomentumStrategy
from .short_term_reversal import ShortTermReversalStrategy
from .simple_momentum import SimpleMomentumStrategy
from .skfolio_portfolio import SkfolioPortfolioStrategy
from .sma_crossover import SmaCrossoverStrategy
from .time_series_momentum import TimeSeriesMomentumStrategy

__all__ = [
    "STRATEGIES",
    "check_importable_by_workers",
    "get_strategy",
    "is_builtin",
    "strategy_names",
]


class _Strategies(Mapping[str, type[BaseStrategy]]):
    """The table of built-in strategies. Strategies made of strategies (``blend``) look
    their children up in this table, so they are listed by module path and imported when
    first asked for, as a user's ``module:Class`` is: the table never imports them."""

    def __init__(self, classes: dict[str, type[BaseStrategy]], by_path: dict[str, str]):
        self._classes = dict(classes)
        self._by_path = by_path
        self._names = sorted([*classes, *by_path])

    def __getitem__(self, name: str) -> type[BaseStrategy]:
        if name not in self._classes and name in self._by_path:
            module, _, attribute = self._by_path[name].partition(":")
            self._classes[name] = getattr(importlib.import_module(module), attribute)
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


STRATEGIES: Mapping[str, type[BaseStrategy]] = _Strategies(
    {
        "buy_and_hold": BuyAndHoldStrategy,
        "dual_momentum": DualMomentumStrategy,
        "dummy_signal_strategy": DummySignalStrategy,
        "equal_weight": EqualWeightStrategy,
        "fifty_two_week_high": FiftyTwoWeekHighStrategy,
        "file_signal": FileSignalStrategy,
        "inverse_volatility": InverseVolatilityStrategy,
        "low_beta": LowBetaStrategy,
        "low_volatility": LowVolatilityStrategy,
        "minimum_variance": MinimumVarianceStrategy,
        "risk_parity": RiskParityStrategy,
        "sharpe_momentum": SharpeMomentumStrategy,
        "short_term_reversal": ShortTermReversalStrategy,
        "simple_momentum": SimpleMomentumStrategy,
        "skfolio_portfolio": SkfolioPortfolioStrategy,
        "sma_crossover": SmaCrossoverStrategy,
        "time_series_momentum": TimeSeriesMomentumStrategy,
    },
    {"blend": f"{__package__}.blend:BlendStrategy"},
)


def get_strategy(name: str, folder: str | Path | None = None) -> type[BaseStrategy]:
    """The strategy class registered as ``name``, or the one a ``"module:ClassName"`` names,
    its module looked for in ``folder`` (the scenario's ``strategy.folder``) first.

    A ScenarioError says what is wrong and lists the registered names.
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    if ":" in name:
        return _import_strategy(name, None if folder is None else Path(folder))
    raise ScenarioError(
        f"unknown strategy {name!r}"
        + did_you_mean(name, STRATEGIES)
        + f"; available strategies: {', '.join(strategy_names())}"
        + " (or give your own as 'module:ClassName')"
    )


def check_importable_by_workers(name: str) -> None:
    """Refuse, before any worker starts, a strategy that a spawned process cannot import: a
    class defined in a notebook or an interactive session (``__main__`` without a file)."""
    module_name = name.partition(":")[0]
    main = sys.modules.get("__main__")
    if module_name == "__main__" and getattr(main, "__file__", None) is None:
        raise ScenarioError(
            f"strategy {name!r} is defined in a notebook or an interactive session, which "
            "worker processes cannot import; move the class into a module file (such as "
            "my_strategies.py beside the notebook) and import it from there, or use n_jobs=1"
        )


def is_builtin(strategy: type[BaseStrategy]) -> bool:
    """Whether a strategy class ships with the package (its exceptions are our bugs)."""
    return STRATEGIES.get(strategy.name) is strategy


def strategy_names() -> list[str]:
    """Registered strategy names, sorted, for help texts and error messages."""
    return sorted(STRATEGIES)


def _import_strategy(path: str, folder: Path | None) -> type[BaseStrategy]:
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ScenarioError(f"strategy {path!r}: expected 'module:ClassName'")
    if folder is not None:
        _import_from_folder(path, module_name, folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only the named module itself being absent is the user's mistake; a dependency
        # missing inside it keeps its traceback.
        missing = error.name or ""
        if module_name != missing and not module_name.startswith(missing + "."):
            raise
        beside = "" if folder is None else f"in {folder} (the scenario's folder) nor "
        raise ScenarioError(
            f"strategy {path!r}: no module named {missing!r} {beside}on the Python path; put "
            f"{missing.partition('.')[0]}.py beside the scenario file, or its folder on "
            "PYTHONPATH (in every worker's environment too)"
        ) from None
    found: object = module
    for part in class_name.split("."):  # a nested class: Outer.Inner
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, BaseStrategy)):
        candidates = [
            key
            for key, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, BaseStrategy)
        ]
        where = ""
        if module_name == "__main__":
            where = " (this process's __main__, not the one that defined the class)"
        raise ScenarioError(
            f"strategy {path!r}: module {module_name!r}{where} has no BaseStrategy subclass "
            f"{class_name!r}" + did_you_mean(class_name, candidates)
        )
    return found


def _import_from_folder(path: str, module_name: str, folder: Path) -> None:
    """Import the top-level module of ``module_name`` from ``folder`` by its file, under its
    own name, when it is there: a module file, or a package (a folder with ``__init__.py``)."""
    top = module_name.partition(".")[0]
    files = [f for f in (folder / top / "__init__.py", folder / f"{top}.py") if f.is_file()]
    if not files:
        return
    file = files[0]
    loaded = sys.modules.get(top)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
        if origin is None or Path(origin).resolve() != file.resolve():
            raise ScenarioError(
                f"strategy {path!r}: {file} cannot be imported as {top!r}, a module of that "
                f"name is already imported (from {origin or 'the interpreter'}); rename "
                f"{file.name if file.name != '__init__.py' else file.parent.name}"
            )
        return
    package = [str(file.parent)] if file.name == "__init__.py" else None
    spec = importlib.util.spec_from_file_location(top, file, submodule_search_locations=package)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[top] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[top]  # a failed import leaves nothing behind, as `import` does
        raise
