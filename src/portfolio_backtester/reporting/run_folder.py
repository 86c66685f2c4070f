"""A run folder, written and read in one place: its file names, their columns, their checks.

``backtest`` writes ``metrics.json``, ``returns.csv``, ``weights.csv``, ``equity.png`` and
``run.json``; ``optimize`` adds ``best_params.yaml`` and ``trials.csv`` (and, walk-forward,
``windows.csv`` and ``oos_returns.csv``) and records in ``run.json`` what the report needs to
rebuild the studies in memory, so that reading a run folder never opens a study storage.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd
import yaml

from ..config import Scenario
from ..errors import DataError
from ..optimization.results import OptimizationResult, PeriodResult
from .plots import equity_figure

if TYPE_CHECKING:
    from ..metrics.monte_carlo import MonteCarloResult

__all__ = [
    "BACKTEST_FILES",
    "RunFolder",
    "read_run_folder",
    "rebuild_study",
    "write_backtest_run",
    "write_optimization_run",
]

METRICS = "metrics.json"
RETURNS = "returns.csv"
WEIGHTS = "weights.csv"
EQUITY = "equity.png"
RUN = "run.json"
BEST_PARAMS = "best_params.yaml"
TRIALS = "trials.csv"
WINDOWS = "windows.csv"
OOS_RETURNS = "oos_returns.csv"
HOLDOUT_RETURNS = "holdout_returns.csv"
BACKTEST_FILES = (METRICS, RETURNS, WEIGHTS, EQUITY, RUN)
RESULT_FILES = (
    *BACKTEST_FILES,
    BEST_PARAMS,
    TRIALS,
    WINDOWS,
    OOS_RETURNS,
    HOLDOUT_RETURNS,
    "report.html",
)
"""Everything a run writes into its folder; files of an earlier run not written again by
this one are removed, so that a folder never mixes two runs."""


def write_backtest_run(
    directory: Path,
    *,
    scenario: Scenario,
    params: Mapping[str, Any],
    returns: pd.Series,
    benchmark_returns: pd.Series | None,
    weights: pd.DataFrame,
    turnover: pd.Series,
    costs: pd.Series,
    metrics: Mapping[str, float],
    benchmark_metrics: Mapping[str, float] | None,
    warnings: Sequence[str] = (),
    monte_carlo: MonteCarloResult | None = None,
) -> list[Path]:
    """metrics.json, returns.csv, weights.csv, equity.png and run.json; the paths written.

    With a Monte Carlo, its percentiles go into metrics.json and the pointwise percentiles of
    its equity paths (growth of 1) into monte_carlo.csv.
    """
    directory.mkdir(parents=True, exist_ok=True)
    summary = {
        "scenario": scenario.name,
        "strategy": scenario.strategy.name,
        "params": dict(params),
        "start": f"{returns.index[0]:%Y-%m-%d}",
        "end": f"{returns.index[-1]:%Y-%m-%d}",
        "strategy_metrics": _finite(metrics),
        "benchmark_metrics": _finite(benchmark_metrics or {}),
        "warnings": list(warnings),
    }
    if monte_carlo is not None:
        summary["monte_carlo"] = _plain(monte_carlo.to_dict())
    paths = [directory / name for name in BACKTEST_FILES]
    _write_json(paths[0], summary)
    columns = {"portfolio": returns}
    if benchmark_returns is not None:
        columns["benchmark"] = benchmark_returns
    columns["turnover"] = turnover
    columns["costs"] = costs
    pd.DataFrame(columns).rename_axis("date").to_csv(paths[1], date_format="%Y-%m-%d")
    weights.rename_axis("date").to_csv(paths[2], date_format="%Y-%m-%d")
    title = f"{scenario.name}: {scenario.strategy.name}"
    figure = equity_figure(returns, benchmark_returns, title=title, label=scenario.strategy.name)
    figure.savefig(paths[3], dpi=110)
    _write_json(paths[4], {"kind": "backtest", "scenario": scenario.model_dump(mode="json")})
    if monte_carlo is not None:
        paths.append(directory / "monte_carlo.csv")
        monte_carlo.fan.rename_axis("date").to_csv(paths[-1], date_format="%Y-%m-%d")
    return paths


def write_optimization_run(
    directory: Path, result: OptimizationResult, *, scenario: Scenario, storage_url: str
) -> list[Path]:
    """best_params.yaml, trials.csv and the walk-forward files, beside a backtest's files
    (written first, with :func:`write_backtest_run`); run.json then describes the optimisation.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / METRICS).is_file():
        raise DataError(f"{directory}: write the backtest's files first (write_backtest_run)")
    best = {
        "strategy": scenario.strategy.name,
        "params": _plain(result.best_params),
        "objectives": dict(zip(result.objectives, _plain(list(result.best_values)), strict=True)),
        "studies": list(result.study_names),
    }
    if result.pareto_front:
        best["pareto_front"] = [_plain(member) for member in result.pareto_front]
    paths = [directory / BEST_PARAMS, directory / TRIALS]
    paths[0].write_text(yaml.safe_dump(best, sort_keys=False), encoding="utf-8")
    result.trials.to_csv(paths[1], index=False)
    if result.windows:
        rows = [
            {
                "train_start": f"{w.window.train_start:%Y-%m-%d}",
                "train_end": f"{w.window.train_end:%Y-%m-%d}",
                "test_start": f"{w.window.test_start:%Y-%m-%d}",
                "test_end": f"{w.window.test_end:%Y-%m-%d}",
                **{f"param_{k}": v for k, v in w.params.items()},
                **{
                    f"in_sample_{n}": v
                    for n, v in zip(result.objectives, w.in_sample, strict=True)
                },
                **{
                    f"out_of_sample_{n}": v
                    for n, v in zip(result.objectives, w.out_of_sample, strict=True)
                },
            }
            for w in result.windows
        ]
        paths.append(directory / WINDOWS)
        pd.DataFrame(rows).to_csv(paths[-1], index=False)
    run = {
        "kind": "optimize",
        "scenario": scenario.model_dump(mode="json"),
        "storage_url": storage_url,
        "study_names": list(result.study_names),
        "objectives": list(result.objectives),
        "directions": list(result.directions),
        "mode": "walk_forward" if result.windows else "cv",
        "n_jobs": result.n_jobs,
        "elapsed_s": result.elapsed_s,
        "trial_states": result.trial_states,
        "events": list(result.events),
        "distributions": dict(result.distributions),
    }
    _write_json(directory / RUN, run)
    summary = _read_json(directory, METRICS)
    summary["strategy_metrics_are"] = (
        "in-sample: the final parameters over the whole period, including the days they "
        "were chosen on"
    )
    for key, period, name in (
        ("out_of_sample", result.out_of_sample, OOS_RETURNS),
        ("holdout", result.holdout, HOLDOUT_RETURNS),
    ):
        if period is None:
            continue
        summary[key] = _period_summary(period)
        paths.append(directory / name)
        _period_frame(period).to_csv(paths[-1], date_format="%Y-%m-%d")
    if result.overfitting:
        summary["overfitting"] = _jsonable(result.overfitting)
    _write_json(directory / METRICS, summary)
    return paths


def _period_summary(period: PeriodResult) -> dict[str, Any]:
    return {
        "start": f"{period.start:%Y-%m-%d}",
        "end": f"{period.end:%Y-%m-%d}",
        "days": len(period.returns),
        "params": _plain(period.params) if period.params else None,
        "strategy_metrics": _finite(period.metrics),
        "benchmark_metrics": _finite(period.benchmark_metrics or {}),
        "equal_weight_metrics": _finite(period.equal_weight_metrics),
    }


def _period_frame(period: PeriodResult) -> pd.DataFrame:
    """Daily returns of the period beside the benchmark and equal weight, and who traded."""
    columns: dict[str, pd.Series] = {"portfolio": period.returns}
    if period.benchmark_returns is not None:
        columns["benchmark"] = period.benchmark_returns
    columns["equal_weight"] = period.equal_weight_returns
    columns["turnover"] = period.turnover
    columns["costs"] = period.costs
    if period.window is not None:
        columns["window"] = period.window
    return pd.DataFrame(columns).rename_axis("date")


def _jsonable(value: Any) -> Any:
    """Numbers, lists and mappings as JSON values; NaN and infinities as null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class RunFolder:
    """What a run folder holds; the optimisation parts are None for a backtest."""

    run_dir: Path
    run: dict[str, Any]
    metrics: dict[str, Any]
    returns: pd.DataFrame
    weights: pd.DataFrame
    trials: pd.DataFrame | None = None
    best: dict[str, Any] | None = None
    windows: pd.DataFrame | None = None
    oos_returns: pd.Series | None = None
    out_of_sample: pd.DataFrame | None = None
    """Daily out-of-sample returns with benchmark, equal weight and window columns."""
    holdout: pd.DataFrame | None = None


def read_run_folder(run_dir: Path) -> RunFolder:
    """Every file of a run folder, read and checked; a ``DataError`` names what is wrong."""
    if not run_dir.is_dir():
        raise DataError(
            f"{run_dir}: no such folder; give the output folder of a backtest or optimize run"
        )
    run = _read_json(run_dir, RUN)
    names = [METRICS, RETURNS, WEIGHTS]
    optimize = run.get("kind") == "optimize"
    walk_forward = optimize and run.get("mode") == "walk_forward"
    names += [BEST_PARAMS, TRIALS] * optimize
    names += [WINDOWS, OOS_RETURNS] * walk_forward
    missing = [name for name in names if not (run_dir / name).is_file()]
    if missing:
        raise DataError(
            f"{run_dir}: missing {', '.join(missing)} — is this the output folder of a "
            "finished backtest or optimize run?"
        )
    folder = RunFolder(
        run_dir=run_dir,
        run=run,
        metrics=_read_json(run_dir, METRICS),
        returns=_read_frame(run_dir, RETURNS, ("portfolio", "turnover")),
        weights=_read_frame(run_dir, WEIGHTS, ()),
    )
    if not optimize:
        return folder
    out_of_sample = _read_frame(run_dir, OOS_RETURNS, ("portfolio",)) if walk_forward else None
    holdout = (
        _read_frame(run_dir, HOLDOUT_RETURNS, ("portfolio",))
        if (run_dir / HOLDOUT_RETURNS).is_file()
        else None
    )
    return replace(
        folder,
        out_of_sample=out_of_sample,
        holdout=holdout,
        trials=_read_frame(run_dir, TRIALS, ("study", "number", "state"), index=False),
        best=_read_yaml(run_dir, BEST_PARAMS),
        windows=_read_frame(run_dir, WINDOWS, ("test_start",), index=False)
        if walk_forward
        else None,
        oos_returns=None if out_of_sample is None else out_of_sample["portfolio"],
    )


def rebuild_study(folder: RunFolder, study_name: str) -> tuple[optuna.Study | None, str]:
    """One study's completed trials as an in-memory Optuna study, or None and why.

    Built from ``trials.csv`` and the distributions in ``run.json``, so a report needs
    neither the study storage nor a connection to it (a moved folder, a database gone).
    """
    encoded = folder.run.get("distributions")
    directions = [str(d) for d in folder.run.get("directions", [])]
    if set(directions) - {"maximize", "minimize"}:
        return None, f"run.json has unknown directions {directions}"
    if not isinstance(encoded, dict) or not encoded or not directions:
        return None, "run.json records no parameter distributions (a run of an older version)"
    try:
        distributions = {
            str(k): optuna.distributions.json_to_distribution(str(v)) for k, v in encoded.items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"run.json has unreadable parameter distributions ({exc})"
    assert folder.trials is not None
    rows = folder.trials[
        (folder.trials["study"].astype(str) == study_name) & (folder.trials["state"] == "COMPLETE")
    ]
    trials = []
    for row in rows.to_dict("records"):
        params = {name: _param(row.get(f"param_{name}"), d) for name, d in distributions.items()}
        values = [float(row[f"value_{i}"]) for i in range(len(directions))]
        if any(v is None for v in params.values()) or not all(map(math.isfinite, values)):
            continue
        trials.append(
            optuna.trial.create_trial(params=params, distributions=distributions, values=values)
        )
    study = optuna.create_study(
        study_name=study_name,
        directions=[optuna.study.StudyDirection[d.upper()] for d in directions],
    )
    study.add_trials(trials)
    return study, ""


def _param(value: Any, distribution: optuna.distributions.BaseDistribution) -> Any:
    """A parameter as read from the CSV, in its distribution's type (None if absent)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        by_text = {str(choice): choice for choice in distribution.choices}
        return by_text.get(str(value), value)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return int(value)
    return float(value)


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def _finite(values: Mapping[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: undefined metrics are written as null."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in values.items()
    }


def _plain(value: Any) -> Any:
    """Numpy scalars and tuples as plain YAML-safe values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def _read_json(run_dir: Path, name: str) -> dict[str, Any]:
    text = _read_text(run_dir, name)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DataError(f"{run_dir}: {name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{run_dir}: {name} should hold a JSON object, not {type(value).__name__}")
    return value


def _read_yaml(run_dir: Path, name: str) -> dict[str, Any]:
    text = _read_text(run_dir, name)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{run_dir}: {name} is not valid YAML ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{run_dir}: {name} should hold a mapping")
    return value


def _read_frame(
    run_dir: Path, name: str, columns: Sequence[str], *, index: bool = True
) -> pd.DataFrame:
    """A CSV of the run folder, dated index first when ``index``, with the columns we use."""
    text = _read_text(run_dir, name)  # a missing file gets the same message as the JSON files
    try:
        frame = pd.read_csv(io.StringIO(text), index_col=0 if index else None, parse_dates=index)
    except ValueError as exc:
        raise DataError(f"{run_dir}: cannot read {name} ({exc})") from None
    if index and not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{run_dir}: {name} should start with a date column")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{run_dir}: {name} lacks column(s) {', '.join(missing)}; found {list(frame.columns)}"
        )
    return frame


def _read_text(run_dir: Path, name: str) -> str:
    try:
        return (run_dir / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"{run_dir}: missing {name} — is this the output folder of a backtest or optimize run?"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{run_dir}: cannot read {name} ({exc})") from None
