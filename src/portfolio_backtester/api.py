"""The notebook face of the package: load once, backtest many, optimise in one call.

The command line and these functions run the same code; what differs is that nothing
here prints (Optuna's own messages included, unless ``verbose``), data may come as
DataFrames, and a study needs no storage URL unless it should outlive the call.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .backtest import BacktestResult, run_backtest
from .config import Scenario, load_scenario
from .data import OptimizationData, build_optimization_data, load_market_data
from .data.frames import market_data_from_frames
from .data.sources import DATAFRAME_SOURCE
from .errors import ScenarioError
from .optimization.results import OptimizationResult, PeriodResult

__all__ = ["Optimization", "backtest_many", "load_data", "optimize", "with_frames"]

logger = logging.getLogger(__name__)

ScenarioLike = Scenario | str | Path | Mapping[str, Any] | None


def with_frames(scenario: ScenarioLike = None, *, optimize: bool = False) -> Scenario:
    """The scenario with its data section marked as given from Python (``source:
    dataframe``), keeping its universe, benchmark ticker and dates."""
    resolved = _scenario(scenario, optimize=optimize)
    data = resolved.data.model_copy(update={"source": DATAFRAME_SOURCE, "path": None})
    return resolved.model_copy(update={"data": data})


def load_data(
    scenario: ScenarioLike = None,
    *,
    prices: pd.DataFrame | pd.Series | None = None,
    open: pd.DataFrame | pd.Series | None = None,
    benchmark: pd.Series | pd.DataFrame | None = None,
    high: pd.DataFrame | pd.Series | None = None,
    low: pd.DataFrame | pd.Series | None = None,
    volume: pd.DataFrame | pd.Series | None = None,
) -> OptimizationData:
    """The scenario's data, checked and prepared once, to pass as ``data=`` to many
    :func:`~portfolio_backtester.run_backtest` calls (each then takes milliseconds).

    With ``prices`` (one column per ticker, dates as the index) the frames are used instead
    of the data section's source, through the same checks as a file; ``open``, ``high``,
    ``low`` and ``volume`` (shares a day) are optional frames of the same shape.
    """
    resolved = _scenario(scenario, optimize=False)
    given = {"open": open, "benchmark": benchmark, "high": high, "low": low, "volume": volume}
    if prices is None:
        if any(v is not None for v in given.values()):
            named = ", ".join(f"{k}=" for k, v in given.items() if v is not None)
            raise ScenarioError(f"{named} go with prices=; pass the closes too")
        return build_optimization_data(load_market_data(resolved.data))
    return build_optimization_data(
        market_data_from_frames(
            resolved.data,
            prices,
            open=open,
            benchmark=benchmark,
            high=high,
            low=low,
            volume=volume,
        )
    )


def backtest_many(
    scenario: ScenarioLike,
    param_sets: Iterable[Mapping[str, Any]],
    *,
    data: OptimizationData | None = None,
    prices: pd.DataFrame | pd.Series | None = None,
    open: pd.DataFrame | pd.Series | None = None,
    benchmark: pd.Series | pd.DataFrame | None = None,
    keep: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, list[BacktestResult]]:
    """Backtest one scenario with many parameter sets on data loaded once.

    Returns one row per set: its parameters (as resolved, defaults filled in) then every
    metric. With ``keep`` the full results come too, in the same order.
    """
    resolved = _scenario(scenario, optimize=False)
    if prices is not None:
        resolved = with_frames(resolved)
    if data is None:
        data = load_data(resolved, prices=prices, open=open, benchmark=benchmark)
    rows: list[dict[str, Any]] = []
    results: list[BacktestResult] = []
    for params in param_sets:
        result = run_backtest(resolved, params=params, data=data)
        rows.append({**result.params, **result.metrics})
        if keep:
            results.append(result)
    table = pd.DataFrame(rows)
    return (table, results) if keep else table


@dataclass(frozen=True)
class Optimization:
    """What :func:`optimize` found, the honest estimate first.

    ``out_of_sample`` (walk-forward) and ``holdout`` are scored on data the search never
    saw; ``in_sample`` is the chosen parameters backtested over the whole period, which
    the search has seen, so its figures flatter them.
    """

    scenario: Scenario
    result: OptimizationResult
    in_sample: BacktestResult
    storage_url: str | None
    """Where the study lives; None when it was temporary and is gone."""

    @property
    def best_params(self) -> dict[str, Any]:
        return self.result.best_params

    @property
    def best_values(self) -> tuple[float, ...]:
        """The best trial's objective values (in-sample in cv mode)."""
        return self.result.best_values

    @property
    def out_of_sample(self) -> PeriodResult | None:
        return self.result.out_of_sample

    @property
    def holdout(self) -> PeriodResult | None:
        return self.result.holdout

    @property
    def overfitting(self) -> dict[str, Any]:
        """Deflated Sharpe, PBO and SPA results, as in ``metrics.json``."""
        return self.result.overfitting

    @property
    def trials(self) -> pd.DataFrame:
        """Every trial: number, state, parameters, objective values, per-window scores."""
        return self.result.trials

    def summary(self) -> str:
        """The text the ``optimize`` command prints, out-of-sample first."""
        from .reporting.summary import optimization_summary

        bench = self.in_sample.benchmark_returns
        lines = optimization_summary(
            self.result,
            in_sample_metrics=self.in_sample.metrics,
            in_sample_benchmark=self.in_sample.benchmark_metrics,
            benchmark_name="" if bench is None else str(bench.name),
        )
        return "\n".join(lines)

    def save(self, directory: str | Path, *, report: bool = True) -> Path:
        """Write the run folder ``optimize`` writes (complete or not at all); its path."""
        from .reporting.html import build_report
        from .reporting.run_folder import write_optimization_run
        from .reporting.staging import publishing

        output = Path(directory)
        with publishing(output) as staging:
            self.in_sample.save(staging)
            write_optimization_run(
                staging,
                self.result,
                scenario=self.scenario,
                storage_url=self.storage_url or "",
            )
        if report:
            with _optuna_quiet(verbose=False):  # the report rebuilds studies in memory
                build_report(output)
        return output


def optimize(
    scenario: ScenarioLike = None,
    *,
    trials: int | None = None,
    n_jobs: int = 1,
    storage: str | Path | None = None,
    study_name: str | None = None,
    fresh: bool = False,
    timeout: float | None = None,
    prices: pd.DataFrame | pd.Series | None = None,
    open: pd.DataFrame | pd.Series | None = None,
    benchmark: pd.Series | pd.DataFrame | None = None,
    data: OptimizationData | None = None,
    on_progress: Callable[[Any], None] | None = None,
    verbose: bool = False,
) -> Optimization:
    """Optimise the scenario's ``optimize`` section (None: the built-in default).

    ``storage`` None keeps the study in a temporary journal deleted afterwards; a path
    keeps it in a journal file there (run again to resume it, ``fresh`` to start over);
    a URL (``journal://``, ``sqlite://``, ``postgresql://``) is used as given. With
    ``n_jobs > 1`` workers are spawned processes: in a script, call this under
    ``if __name__ == "__main__":``, and define your own strategy in a module file.
    """
    from .optimization.parallel_optimization_runner import ParallelOptimizationRunner

    resolved = _scenario(scenario, optimize=True)
    if resolved.optimize is None:
        raise ScenarioError(
            "the scenario has no 'optimize' section; add one with 'params' to search, "
            "or call run_backtest"
        )
    if trials is not None and trials < 1:
        raise ScenarioError(f"trials must be at least 1, got {trials}")
    if prices is not None:
        resolved = with_frames(resolved, optimize=True)
    if data is None:
        data = load_data(resolved, prices=prices, open=open, benchmark=benchmark)
    with _optuna_quiet(verbose), _study_storage(storage) as url:
        runner = ParallelOptimizationRunner(
            scenario=resolved,
            data=data,
            storage_url=url,
            study_name=study_name or resolved.name,
            n_jobs=n_jobs,
            trials=trials,
            fresh=fresh,
            timeout=timeout,
            on_progress=on_progress,
            on_event=lambda event: logger.warning("%s", event),
        )
        result, data = runner.run()
        del runner
    in_sample = run_backtest(resolved, params=result.best_params, data=data)
    return Optimization(
        scenario=resolved,
        result=result,
        in_sample=in_sample,
        storage_url=None if storage is None else url,
    )


def _scenario(scenario: ScenarioLike, *, optimize: bool) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if scenario is None and optimize:
        from .scenarios import default_optimize_scenario

        return default_optimize_scenario()
    return load_scenario(scenario)


@contextlib.contextmanager
def _study_storage(storage: str | Path | None) -> Iterator[str]:
    if storage is None:
        with tempfile.TemporaryDirectory(prefix="pbt-study-") as folder:
            yield f"journal://{Path(folder) / 'optuna-journal.log'}"
        return
    text = str(storage)
    if "://" in text:
        yield text
    else:
        yield f"journal://{Path(text).expanduser().resolve()}"


@contextlib.contextmanager
def _optuna_quiet(verbose: bool) -> Iterator[None]:
    """Optuna's INFO lines ("A new study created…") off for the call, then as they were."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)
