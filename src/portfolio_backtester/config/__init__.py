"""The scenario schema and ``load_scenario``: where user configuration enters and is checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from .._yaml import read_yaml_document
from ..errors import ScenarioError, did_you_mean
from ._model import _Model
from .data import DataConfig, LiquidityConfig, SyntheticConfig
from .overlays import OverlayConfig
from .portfolio import CostsConfig, PortfolioConfig, RebalanceConfig, StopsConfig

__all__ = [
    "CostsConfig",
    "DataConfig",
    "HoldoutConfig",
    "LiquidityConfig",
    "ObjectiveConfig",
    "OptimizeConfig",
    "OverfittingConfig",
    "OverlayConfig",
    "ParamSpace",
    "PortfolioConfig",
    "PruningConfig",
    "RebalanceConfig",
    "Scenario",
    "StopsConfig",
    "StrategyConfig",
    "SyntheticConfig",
    "WindowsConfig",
    "load_scenario",
]


class StrategyConfig(_Model):
    """``name``: a registered strategy or "module:ClassName", whose module is looked for in
    ``folder`` (from a file: the file's folder, or ``folder`` relative to it), then on the
    Python path. From Python, the class itself, kept as the name other processes import."""

    name: str = "simple_momentum"
    params: dict[str, Any] = Field(default_factory=dict)
    folder: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _named(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, type | str):
            value = {"name": value}
        if not isinstance(value, Mapping):
            return value
        name = value.get("name")
        if isinstance(name, type):
            value = {**value, **_class_reference(name)}
        elif hasattr(name, "generate_weights"):
            raise ValueError(f"give the class {type(name).__name__}, not an instance of it")
        base = (info.context or {}).get("base")
        if base is not None and ":" in str(value.get("name")):
            value = {**value, "folder": (base / (value.get("folder") or ".")).resolve()}
        return value


class ParamSpace(_Model):
    """The search range of one strategy parameter."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None or self.step is not None:
                raise ValueError("a categorical parameter takes 'choices', not low/high/step")
            return self
        if self.choices is not None:
            raise ValueError(f"an {self.type} parameter takes low/high, not 'choices'")
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} parameter needs both 'low' and 'high'")
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.type == "int":
            for key, value in (("low", self.low), ("high", self.high), ("step", self.step)):
                if value is not None and float(value) != int(value):
                    raise ValueError(f"an int parameter needs a whole '{key}', got {value}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scaled range needs low > 0, got {self.low}")
        if self.step is not None:
            if self.step <= 0:
                raise ValueError(f"step must be positive, got {self.step}")
            if self.log:
                raise ValueError("'step' and 'log' cannot be combined")
            n_steps = (self.high - self.low) / self.step
            if abs(n_steps - round(n_steps)) > 1e-9:
                raise ValueError(
                    f"step {self.step} does not fit the range {self.low}..{self.high}: "
                    f"high - low must be a whole number of steps"
                )
        return self


class ObjectiveConfig(_Model):
    metric: str
    direction: Literal["maximize", "minimize"] | None = None


class WindowsConfig(_Model):
    """Walk-forward windows, in trading days.

    Each test period starts ``embargo_days + 1`` trading days after its train period ends:
    the days between are scored by nothing, so that returns serially correlated with the
    end of the train period cannot flatter the start of the test period.
    """

    train_days: int = Field(756, ge=20)
    test_days: int = Field(252, ge=5)
    step_days: int | None = Field(None, ge=1)
    kind: Literal["rolling", "expanding"] = "rolling"
    embargo_days: int = Field(0, ge=0)
    """Trading days between each train period's end and its test period's start."""


class ConstraintsConfig(_Model):
    max_drawdown: float | None = Field(None, gt=0, le=1)
    min_trades: int | None = Field(None, ge=0)


class HoldoutConfig(_Model):
    """The last part of the data, kept from the optimiser and used once at the end.

    Give ``days`` (the last N trading days of the scenario's period) or ``start`` (the
    holdout runs from that date to the end), not both.
    """

    days: int | None = Field(None, ge=5)
    start: dt.date | None = None

    @model_validator(mode="after")
    def _one(self) -> HoldoutConfig:
        if (self.days is None) == (self.start is None):
            raise ValueError("give the holdout either 'days' or 'start', not both or neither")
        return self


class OverfittingConfig(_Model):
    """How much of a result is luck: statistics over every completed trial."""

    enabled: bool = True
    cscv_blocks: int = Field(16, ge=4, le=24, multiple_of=2)


class PruningConfig(_Model):
    """Stopping a cv trial early once its running score over the windows seen so far trails
    the median of the finished trials at the same window (Optuna's ``MedianPruner``).

    Off by default: a pruned trial is not scored on every window, which changes what a
    study records.
    """

    enabled: bool = False
    pruner: Literal["median"] = "median"
    n_startup_trials: int = Field(5, ge=0)
    """Trials that finish unpruned before any is pruned: the median needs some to be fair."""
    n_warmup_steps: int = Field(1, ge=0)
    """Windows scored before a trial can be pruned (1: never on the first window alone)."""
    interval_steps: int = Field(1, ge=1)
    """Windows between two checks after the warm-up: each check writes the running score to
    the storage, a round trip that may cost as much as scoring a window."""


class OptimizeConfig(_Model):
    params: dict[str, ParamSpace]
    objectives: Annotated[
        list[ObjectiveConfig],
        Field(min_length=1, default_factory=lambda: [ObjectiveConfig(metric="Sharpe")]),
    ]
    sampler: Literal["tpe", "random", "grid", "cmaes", "nsga2"] = "tpe"
    seed: int | None = 42
    trials: int = Field(100, ge=1)
    timeout: float | None = Field(None, gt=0)
    mode: Literal["cv", "walk_forward"] = "cv"
    aggregate: Literal["mean", "median", "worst"] = "mean"
    windows: WindowsConfig = WindowsConfig()
    constraints: ConstraintsConfig = ConstraintsConfig()
    holdout: HoldoutConfig | None = None
    overfitting: OverfittingConfig = OverfittingConfig()
    pruning: PruningConfig = PruningConfig()

    @model_validator(mode="after")
    def _check(self) -> OptimizeConfig:
        if not self.params:
            raise ValueError("'params' must name at least one parameter to optimise")
        if self.pruning.enabled and self.mode != "cv":
            raise ValueError(
                "pruning stops a trial between the windows of a cv study; a walk-forward "
                "study scores one window. Use mode: cv, or pruning: {enabled: false}"
            )
        if self.pruning.enabled and len(self.objectives) > 1:
            raise ValueError(
                f"pruning compares one score, and {len(self.objectives)} objectives are set "
                "(Optuna prunes single-objective studies only); keep one objective, or "
                "pruning: {enabled: false}"
            )
        if self.sampler == "grid" and any(
            p.type == "float" and p.step is None for p in self.params.values()
        ):
            raise ValueError("the grid sampler needs a 'step' for every float parameter")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Pruning left out while off (its settings then change nothing): the fingerprints of
        # studies made before pruning existed stay as they were.
        dumped = handler(self)
        if isinstance(dumped, dict) and not self.pruning.enabled:
            dumped.pop("pruning", None)
        return dumped


class Scenario(_Model):
    """A validated scenario: what to backtest or optimise, on which data."""

    name: str = "scenario"
    data: DataConfig = DataConfig()
    strategy: StrategyConfig = StrategyConfig()
    costs: CostsConfig = CostsConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    overlays: list[OverlayConfig] = Field(default_factory=list)
    """Sizing overlays on the strategy's targets, applied in order (``overlays``)."""
    optimize: OptimizeConfig | None = None
    source_path: Path | None = Field(None, exclude=True)

    def fingerprint(self) -> str:
        """A stable hash of everything that changes results, to refuse resuming a changed study."""
        payload = self.model_dump(mode="json", exclude={"source_path"})
        payload["strategy"].pop("folder", None)  # where its module was found changes nothing
        if payload.get("optimize"):
            payload["optimize"].pop("trials", None)
            payload["optimize"].pop("timeout", None)
            # Statistics read the trials, they do not change them; no holdout is how studies
            # were made before holdouts existed, and they keep resuming.
            payload["optimize"].pop("overfitting", None)
        _drop_new_defaults(payload, _NEW_DEFAULTS)
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_NEW_DEFAULTS: dict[str, Any] = {
    "overlays": [],
    "optimize": {"holdout": None, "windows": {"embargo_days": 0}},
}
"""Settings added after studies were first made, at values that change nothing: left out of
the fingerprint, so that older studies keep resuming (no holdout is how studies were made
before holdouts existed)."""


def _drop_new_defaults(payload: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    for key, default in defaults.items():
        value = payload.get(key)
        if isinstance(default, Mapping):
            if isinstance(value, dict):
                _drop_new_defaults(value, default)
        elif key in payload and value == default:
            del payload[key]


_PACKAGE = __name__.partition(".")[0]
PATH_PARAMETER = "path"
"""A strategy parameter of this name is a file (``file_signal``'s scores): a relative one is
relative to the scenario file, as the data section's paths are."""
MAX_MESSAGE = 500  # characters of an error message


def load_scenario(source: str | Path | Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario from a YAML file, a mapping, or None for the default."""
    if source is None:
        return _validate({}, "the default scenario", None)
    if isinstance(source, Mapping):
        return _validate(dict(source), "the scenario", None)
    path = Path(source)
    document = read_yaml_document(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ScenarioError(
            f"{path}: a scenario must be a mapping of keys to values, "
            f"got {type(document).__name__}"
        )
    scenario = _validate(document, str(path), path)
    return _resolve_paths(scenario, path.parent)


def _validate(document: dict[str, Any], where: str, path: Path | None) -> Scenario:
    try:
        context = None if path is None else {"base": path.parent}
        return Scenario.model_validate({**document, "source_path": path}, context=context)
    except ValidationError as exc:
        raise ScenarioError(_format_validation_error(exc, where)) from None


def _format_validation_error(exc: ValidationError, where: str) -> str:
    messages = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            parent = _model_at(error["loc"][:-1])
            known = list(parent.model_fields) if parent else []
            known = [name for name in known if name != "source_path"]
            key = str(error["loc"][-1])
            message = f"unknown key{did_you_mean(key, known)}"
            if known:
                message += f"; allowed keys: {', '.join(known)}"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] not in ("value_error", "assertion_error") and "input" in error:
                shown = repr(error["input"])
                message += f" (got {shown[:80] + '…' if len(shown) > 80 else shown})"
        messages.append(f"{location}: {message}")
    first = messages[0]
    more = f" (and {len(messages) - 1} more problem(s))" if len(messages) > 1 else ""
    text = f"{where}: {first}{more}"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Scenario
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _resolve_paths(scenario: Scenario, base: Path) -> Scenario:
    """Relative data paths are relative to the scenario file, as users expect."""
    data = scenario.data
    updates: dict[str, Any] = {}
    for key in ("path", "benchmark_path", "membership"):
        value = getattr(data, key)
        if value is not None and not value.is_absolute():
            updates[key] = base / value
    changes: dict[str, Any] = {}
    if updates:
        changes["data"] = data.model_copy(update=updates)
    strategy = scenario.strategy
    path = strategy.params.get(PATH_PARAMETER)
    if isinstance(path, str) and path and not Path(path).is_absolute():
        params = {**strategy.params, PATH_PARAMETER: str(base / path)}
        changes["strategy"] = strategy.model_copy(update={"params": params})
    return scenario.model_copy(update=changes) if changes else scenario


def _class_reference(strategy: type) -> dict[str, Any]:
    """A class as the name (and folder) other processes import it by; a built-in by its name."""
    module_name, qualname = strategy.__module__, strategy.__qualname__
    if module_name.startswith(f"{_PACKAGE}.strategies."):
        return {"name": getattr(strategy, "name", qualname)}
    module = sys.modules.get(module_name)
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not strategy:
        raise ValueError(f"define {qualname} at the top level of a module, to be found by name")
    file = getattr(module, "__file__", None)
    if file is None or module_name == "__main__":
        return {"name": f"{module_name}:{qualname}", "folder": None}
    path = Path(file).resolve()  # the folder the module's top-level package is in:
    levels = module_name.count(".") + (path.name == "__init__.py")
    return {"name": f"{module_name}:{qualname}", "folder": path.parents[levels]}
