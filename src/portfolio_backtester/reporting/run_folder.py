"""A run folder, written and read in one place: its file names, their columns, their checks.

``backtest`` writes ``metrics.json``, ``returns.csv``, ``weights.csv`` (the targets),
``holdings.csv`` (the weights after drift), ``trades.csv``, ``equity.png`` and ``run.json``;
``optimize`` adds ``best_params.yaml`` and ``trials.csv`` (and, walk-forward,
``windows.csv`` and ``oos_returns.csv``) and records in ``run.json`` what the report needs to
rebuild the studies in memory, so that reading a run folder never opens a study storage.
"""

from __future__ import annotations

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
from ._run_files import (
    BACKTEST_FILES,
    BEST_PARAMS,
    COST_PREFIX,
    EQUITY,
    HOLDINGS,
    HOLDOUT_RETURNS,
    METRICS,
    MONTE_CARLO,
    OOS_RETURNS,
    RESULT_FILES,
    RETURNS,
    RUN,
    TRADES,
    TRIALS,
    WEIGHTS,
    WINDOWS,
    finite,
    jsonable,
    plain,
    read_frame,
    read_holdings,
    read_json,
    read_trades,
    read_yaml,
    write_holdings,
    write_json,
    write_trades,
)
from .plots import equity_figure

if TYPE_CHECKING:
    from ..metrics.monte_carlo import MonteCarloResult

__all__ = [
    "BACKTEST_FILES",
    "RESULT_FILES",
    "RUN",
    "RunFolder",
    "read_run_folder",
    "rebuild_study",
    "write_backtest_run",
    "write_optimization_run",
]


def write_backtest_run(
    directory: Path,
    *,
    scenario: Scenario,
    params: Mapping[str, Any],
    returns: pd.Series,
    benchmark_returns: pd.Series | None,
    weights: pd.DataFrame,
    holdings: pd.DataFrame,
    trades: pd.DataFrame,
    turnover: pd.Series,
    costs: pd.Series,
    metrics: Mapping[str, float],
    benchmark_metrics: Mapping[str, float] | None,
    warnings: Sequence[str] = (),
    monte_carlo: MonteCarloResult | None = None,
    cost_breakdown: pd.DataFrame | None = None,
) -> list[Path]:
    """The files of :data:`BACKTEST_FILES`; the paths written.

    ``weights`` are the targets in force each rebalance, ``holdings`` the daily weights after
    drift and ``trades`` the trade list (:func:`portfolio_backtester.metrics.trade_list`);
    ``cost_breakdown`` adds a ``cost_<kind>`` column per cost kind to returns.csv.

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
        "strategy_metrics": finite(metrics),
        "benchmark_metrics": finite(benchmark_metrics or {}),
        "warnings": list(warnings),
    }
    if monte_carlo is not None:
        summary["monte_carlo"] = plain(monte_carlo.to_dict())
    paths = [directory / name for name in BACKTEST_FILES]
    write_json(directory / METRICS, summary)
    columns = {"portfolio": returns}
    if benchmark_returns is not None:
        columns["benchmark"] = benchmark_returns
    columns["turnover"] = turnover
    columns["costs"] = costs
    if cost_breakdown is not None:  # the costs by kind: cost_bps, cost_per_share, ...
        columns |= {f"{COST_PREFIX}{kind}": cost_breakdown[kind] for kind in cost_breakdown}
    frame = pd.DataFrame(columns).rename_axis("date")
    frame.to_csv(directory / RETURNS, date_format="%Y-%m-%d")
    weights.rename_axis("date").to_csv(directory / WEIGHTS, date_format="%Y-%m-%d")
    write_holdings(directory / HOLDINGS, holdings)
    write_trades(directory / TRADES, trades)
    title = f"{scenario.name}: {scenario.strategy.name}"
    figure = equity_figure(returns, benchmark_returns, title=title, label=scenario.strategy.name)
    figure.savefig(directory / EQUITY, dpi=110)
    write_json(directory / RUN, {"kind": "backtest", "scenario": scenario.model_dump(mode="json")})
    if monte_carlo is not None:
        paths.append(directory / MONTE_CARLO)
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
        "params": plain(result.best_params),
        "objectives": dict(zip(result.objectives, plain(list(result.best_values)), strict=True)),
        "studies": list(result.study_names),
    }
    if result.pareto_front:
        best["pareto_front"] = [plain(member) for member in result.pareto_front]
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
    write_json(directory / RUN, run)
    summary = read_json(directory, METRICS)
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
        summary["overfitting"] = jsonable(result.overfitting)
    write_json(directory / METRICS, summary)
    return paths


def _period_summary(period: PeriodResult) -> dict[str, Any]:
    return {
        "start": f"{period.start:%Y-%m-%d}",
        "end": f"{period.end:%Y-%m-%d}",
        "days": len(period.returns),
        "params": plain(period.params) if period.params else None,
        "strategy_metrics": finite(period.metrics),
        "benchmark_metrics": finite(period.benchmark_metrics or {}),
        "equal_weight_metrics": finite(period.equal_weight_metrics),
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


@dataclass(frozen=True, slots=True)
class RunFolder:
    """What a run folder holds; the optimisation parts are None for a backtest."""

    run_dir: Path
    run: dict[str, Any]
    metrics: dict[str, Any]
    returns: pd.DataFrame
    weights: pd.DataFrame
    """The targets in force at each rebalance (weights.csv)."""
    holdings: pd.DataFrame | None = None
    """Daily weights after drift, one column per asset, no cash (holdings.csv; the cash
    share is ``1 - holdings.sum(axis=1)``); None for a folder written before it existed."""
    trades: pd.DataFrame | None = None
    """One row per trade (trades.csv); None for a folder written before it existed."""
    monte_carlo: pd.DataFrame | None = None
    """Equity percentiles per day (monte_carlo.csv) of a ``--monte-carlo`` run, else None."""
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
    run = read_json(run_dir, RUN)
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
        metrics=read_json(run_dir, METRICS),
        returns=read_frame(run_dir, RETURNS, ("portfolio", "turnover")),
        weights=read_frame(run_dir, WEIGHTS, ()),
        holdings=read_holdings(run_dir),
        trades=read_trades(run_dir),
        monte_carlo=read_frame(run_dir, MONTE_CARLO, ("p50",))
        if (run_dir / MONTE_CARLO).is_file()
        else None,
    )
    if not optimize:
        return folder
    out_of_sample = read_frame(run_dir, OOS_RETURNS, ("portfolio",)) if walk_forward else None
    holdout = (
        read_frame(run_dir, HOLDOUT_RETURNS, ("portfolio",))
        if (run_dir / HOLDOUT_RETURNS).is_file()
        else None
    )
    return replace(
        folder,
        out_of_sample=out_of_sample,
        holdout=holdout,
        trials=read_frame(run_dir, TRIALS, ("study", "number", "state"), index=False),
        best=read_yaml(run_dir, BEST_PARAMS),
        windows=read_frame(run_dir, WINDOWS, ("test_start",), index=False)
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
