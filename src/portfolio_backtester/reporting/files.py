"""The files a backtest leaves in its output folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

if TYPE_CHECKING:
    from ..backtest import BacktestResult
    from ..optimization.results import OptimizationResult

__all__ = ["write_backtest_files", "write_optimization_files"]


def write_backtest_files(result: BacktestResult, directory: Path) -> list[Path]:
    """metrics.json, returns.csv, weights.csv and equity.png; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    metrics = {
        "scenario": result.scenario.name,
        "strategy": result.scenario.strategy.name,
        "params": result.params,
        "start": f"{result.returns.index[0]:%Y-%m-%d}",
        "end": f"{result.returns.index[-1]:%Y-%m-%d}",
        "strategy_metrics": _finite(result.metrics),
        "benchmark_metrics": _finite(result.benchmark_metrics or {}),
    }
    paths = [
        directory / name
        for name in ("metrics.json", "returns.csv", "weights.csv", "equity.png", "run.json")
    ]
    paths[0].write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    columns = {"portfolio": result.returns}
    if result.benchmark_returns is not None:
        columns["benchmark"] = result.benchmark_returns
    columns["turnover"] = result.turnover
    columns["costs"] = result.costs
    pd.DataFrame(columns).rename_axis("date").to_csv(paths[1], date_format="%Y-%m-%d")
    result.weights.rename_axis("date").to_csv(paths[2], date_format="%Y-%m-%d")
    result.plot().savefig(paths[3], dpi=110)
    run = {"kind": "backtest", "scenario": result.scenario.model_dump(mode="json")}
    paths[4].write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    return paths


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: undefined metrics are written as null."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in values.items()
    }


def write_optimization_files(
    result: OptimizationResult, backtest: BacktestResult, directory: Path, *, storage_url: str
) -> list[Path]:
    """best_params.yaml, trials.csv, the best backtest's files, and walk-forward outcomes."""
    import optuna

    from ..optimization.storage import open_storage
    from ..optimization.study import study_trials_frame

    directory.mkdir(parents=True, exist_ok=True)
    paths = write_backtest_files(backtest, directory)
    best = {
        "strategy": backtest.scenario.strategy.name,
        "params": _plain(result.best_params),
        "objectives": dict(zip(result.objectives, _plain(list(result.best_values)), strict=True)),
        "studies": list(result.study_names),
    }
    if result.pareto_front:
        best["pareto_front"] = [_plain(member) for member in result.pareto_front]
    paths.append(directory / "best_params.yaml")
    paths[-1].write_text(yaml.safe_dump(best, sort_keys=False), encoding="utf-8")
    storage = open_storage(storage_url)
    frames = [
        study_trials_frame(optuna.load_study(study_name=name, storage=storage))
        for name in result.study_names
    ]
    paths.append(directory / "trials.csv")
    pd.concat(frames, ignore_index=True).to_csv(paths[-1], index=False)
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
        paths.append(directory / "windows.csv")
        pd.DataFrame(rows).to_csv(paths[-1], index=False)
    run = {
        "kind": "optimize",
        "scenario": backtest.scenario.model_dump(mode="json"),
        "storage_url": storage_url,
        "study_names": list(result.study_names),
        "objectives": list(result.objectives),
        "directions": list(result.directions),
        "mode": "walk_forward" if result.windows else "cv",
        "n_jobs": result.n_jobs,
        "elapsed_s": result.elapsed_s,
        "trial_states": result.trial_states,
        "events": list(result.events),
    }
    (directory / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    if result.out_of_sample_returns is not None:
        paths.append(directory / "oos_returns.csv")
        result.out_of_sample_returns.rename("portfolio").rename_axis("date").to_csv(
            paths[-1], date_format="%Y-%m-%d"
        )
    return paths


def _plain(value: Any) -> Any:
    """Numpy scalars and tuples as plain YAML-safe values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
