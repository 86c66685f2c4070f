"""The sampler's own time per trial against the trial number, and what each sampler finds.

    python benchmarks/sampler_cost.py cost --max-trials 10000 --samplers tpe,optuna-tpe,random
    python benchmarks/sampler_cost.py cost --space dummy --in-flight 4 --max-trials 2000
    python benchmarks/sampler_cost.py quality --trials 500 --seeds 1,2,3,4,5

``cost``: ask, suggest (the project's ``suggest`` on the space of the embedded data's default
optimisation, or ``--space dummy``: examples/dummy_signal_optimize.yaml's) and tell, with a
trivial objective, on in-memory (default) or journal storage. ``--in-flight K`` keeps K
trials asked and not yet told, as K workers do (constant liar on): each trial is told K - 1
asks later. A trial's time is its ask and suggest plus its tell; the median over a bin of
trials around 100, 1,000, 5,000 and 10,000 (± 10 %) is reported, and over each tenth
of the run. The random sampler's figure is the
floor (Optuna and the storage); the rest is the sampler's.

``quality``: the default optimisation itself (walk-forward, one study per window,
``n_jobs=1``, the overfitting statistics off) with each sampler, for each seed: the best
in-sample Sharpe of each window's study, and the gap to the window's true optimum (the
whole grid of the default space, found once by the grid sampler). A finite space caps each
study's budget at its size (432 for the default space).

Samplers: ``tpe`` is the project's default (``make_sampler``: the bounded TPE);
``optuna-tpe`` Optuna's TPE as the project used it before; ``-independent``, ``-ei8``,
``-startup50`` variants of it; ``tpe-m<N>`` the bounded TPE with another memory;
``tpe-then-cmaes`` TPE for 100 trials then CMA-ES from the best point; ``random``,
``cmaes``, ``nsga2`` as ``make_sampler`` builds them. Prints JSON with the machine's load.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from portfolio_backtester.config import OptimizeConfig, load_scenario
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.samplers import BoundedTPESampler, make_sampler
from portfolio_backtester.optimization.space import suggest
from portfolio_backtester.optimization.storage import default_storage_url, open_storage
from portfolio_backtester.scenarios import DEFAULT_OPTIMIZE

ROOT = Path(__file__).resolve().parents[1]
Factory = Callable[[OptimizeConfig, int | None, bool], optuna.samplers.BaseSampler]
BINS = (100, 1000, 5000, 10000)
SWITCH_AFTER = 100


def _project(name: str) -> Factory:
    def build(config: OptimizeConfig, seed: int | None, parallel: bool) -> Any:
        return make_sampler(config.model_copy(update={"sampler": name}), seed, parallel=parallel)

    return build


def _optuna_tpe(**options: Any) -> Factory:
    def build(config: OptimizeConfig, seed: int | None, parallel: bool) -> Any:
        return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel, **options)

    return build


def _bounded(memory: int) -> Factory:
    def build(config: OptimizeConfig, seed: int | None, parallel: bool) -> Any:
        return BoundedTPESampler(seed=seed, constant_liar=parallel, memory=memory)

    return build


class TPEThenCmaEs(optuna.samplers.BaseSampler):
    """TPE for the first ``after`` trials, then CMA-ES started from the best point so far.

    The candidate "switch samplers after N trials": Optuna has no such sampler. CMA-ES only
    reads trials it sampled itself (its generation is in their system attributes), so the
    TPE trials are left alone; ``x0`` is fixed when the first CMA-ES trial is asked.
    """

    def __init__(self, seed: int | None, parallel: bool, after: int = SWITCH_AFTER) -> None:
        self._tpe = BoundedTPESampler(seed=seed, constant_liar=parallel)
        self._seed = seed
        self._after = after
        self._cmaes: optuna.samplers.CmaEsSampler | None = None

    def _current(self, study: optuna.Study, trial: FrozenTrial) -> optuna.samplers.BaseSampler:
        if trial.number < self._after:
            return self._tpe
        if self._cmaes is None:
            x0 = study.best_trial.params if study.best_trials else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # x0: deprecated, still works
                self._cmaes = optuna.samplers.CmaEsSampler(
                    x0=x0, seed=self._seed, warn_independent_sampling=False
                )
        return self._cmaes

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._current(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._current(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, name: str, dist: BaseDistribution
    ) -> Any:
        return self._current(study, trial).sample_independent(study, trial, name, dist)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._current(study, trial).before_trial(study, trial)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any
    ) -> None:
        self._current(study, trial).after_trial(study, trial, state, values)


SAMPLERS: dict[str, Factory] = {
    "tpe": _project("tpe"),
    "optuna-tpe": _optuna_tpe(),
    "optuna-tpe-independent": _optuna_tpe(multivariate=False),
    "optuna-tpe-ei8": _optuna_tpe(n_ei_candidates=8),
    "optuna-tpe-startup50": _optuna_tpe(n_startup_trials=50),
    "tpe-m250": _bounded(250),
    "tpe-m1000": _bounded(1000),
    "tpe-m2000": _bounded(2000),
    "tpe-then-cmaes": lambda config, seed, parallel: TPEThenCmaEs(seed, parallel),
    "random": _project("random"),
    "cmaes": _project("cmaes"),
    "nsga2": _project("nsga2"),
}


def _space(name: str) -> OptimizeConfig:
    if name == "default":
        config = load_scenario(DEFAULT_OPTIMIZE).optimize
    else:
        config = load_scenario(ROOT / "examples" / "dummy_signal_optimize.yaml").optimize
    assert config is not None
    return config


def _trivial(config: OptimizeConfig, params: dict[str, Any]) -> float:
    """A smooth bowl with its top at 30 % of every range: costs nothing, has an optimum."""
    score = 0.0
    for name, spec in config.params.items():
        assert spec.low is not None and spec.high is not None
        x = (float(params[name]) - spec.low) / (spec.high - spec.low)
        score -= (x - 0.3) ** 2
    return score


def time_sampler(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Milliseconds per trial of one sampler, trial by trial, binned."""
    config = _space(args.space)
    sampler = SAMPLERS[name](config, args.seed, args.in_flight > 1)
    with tempfile.TemporaryDirectory() as folder:
        storage: Any = None
        if args.storage == "journal":
            storage = open_storage(default_storage_url(Path(folder)))
        study = optuna.create_study(storage=storage, sampler=sampler, direction="maximize")
        elapsed = [0.0] * args.max_trials
        pending: collections.deque[tuple[optuna.Trial, dict[str, Any]]] = collections.deque()
        started = time.perf_counter()
        for number in range(args.max_trials + args.in_flight - 1):
            if number < args.max_trials:
                t0 = time.perf_counter()
                trial = study.ask()
                params = suggest(trial, config.params)
                elapsed[trial.number] += time.perf_counter() - t0
                pending.append((trial, params))
            if len(pending) == args.in_flight or number >= args.max_trials:
                trial, params = pending.popleft()
                value = _trivial(config, params)
                t0 = time.perf_counter()
                study.tell(trial, value)
                elapsed[trial.number] += time.perf_counter() - t0
        total_s = time.perf_counter() - started
    bins = {}
    for at in BINS:
        if at > args.max_trials:
            continue
        half = max(10, at // 10)  # wide: a burst of load on a shared machine moves a median
        part = elapsed[max(0, at - half) : min(args.max_trials, at + half)]
        bins[str(at)] = round(1000 * statistics.median(part), 2)
    step = max(1, args.max_trials // 10)
    curve = {
        str(start + step): round(1000 * statistics.median(elapsed[start : start + step]), 2)
        for start in range(0, args.max_trials - step + 1, step)
    }
    return {
        "ms_per_trial": bins,
        "ms_per_trial_by_tenth": curve,
        "total_s": round(total_s, 1),
        "best": study.best_value,
    }


def run_cost(args: argparse.Namespace) -> dict[str, Any]:
    results = {}
    for name in args.samplers:
        results[name] = time_sampler(name, args)
        print(json.dumps({name: results[name]}), flush=True)
    return {
        "what": "ms per trial of ask + suggest + tell, trivial objective (median over a bin)",
        "space": args.space,
        "storage": args.storage,
        "in_flight": args.in_flight,
        "max_trials": args.max_trials,
        "seed": args.seed,
        "results": results,
    }


def _factory(name: str) -> Any:
    build = SAMPLERS[name]

    def factory(config: OptimizeConfig, seed: int | None, *, parallel: bool = False) -> Any:
        return build(config, seed, parallel)

    return factory


def _optimise(name: str, seed: int, trials: int, data: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(DEFAULT_OPTIMIZE)
    document["optimize"].update(seed=seed, overfitting={"enabled": False})
    if name == "grid":
        document["optimize"]["sampler"] = "grid"
    scenario = load_scenario(document)
    factory = make_sampler if name == "grid" else _factory(name)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result, _ = ParallelOptimizationRunner(
            scenario=scenario,
            data=data,
            storage_url=default_storage_url(Path(folder)),
            study_name="quality",
            trials=trials,
            sampler_factory=factory,
        ).run()
        elapsed_s = time.perf_counter() - started
    return {
        "in_sample": [window.in_sample[0] for window in result.windows],
        "out_of_sample_sharpe": (
            None if result.out_of_sample is None else result.out_of_sample.metrics.get("Sharpe")
        ),
        "trials": sum(result.trial_states.values()),
        "elapsed_s": round(elapsed_s, 1),
    }


def run_quality(args: argparse.Namespace) -> dict[str, Any]:
    scenario = load_scenario(DEFAULT_OPTIMIZE)
    data = build_optimization_data(load_market_data(scenario.data))
    optimum = _optimise("grid", 0, 10**6, data)["in_sample"]
    print(json.dumps({"optimum": optimum}), flush=True)
    results: dict[str, Any] = {}
    for name in args.samplers:
        runs = {}
        for seed in args.seeds:
            run = _optimise(name, seed, args.trials, data)
            gaps = [best - found for best, found in zip(optimum, run["in_sample"], strict=True)]
            run["mean_in_sample"] = statistics.fmean(run["in_sample"])
            run["mean_gap"] = statistics.fmean(gaps)
            run["windows_at_optimum"] = sum(gap <= 1e-12 for gap in gaps)
            runs[str(seed)] = run
            print(json.dumps({name: {str(seed): run}}), flush=True)
        results[name] = {
            "mean_in_sample": statistics.fmean(r["mean_in_sample"] for r in runs.values()),
            "mean_gap": statistics.fmean(r["mean_gap"] for r in runs.values()),
            "windows_at_optimum": [r["windows_at_optimum"] for r in runs.values()],
            "seeds": runs,
        }
    return {
        "what": "best in-sample Sharpe per walk-forward window of the default optimisation",
        "trials_asked": args.trials,
        "windows": len(optimum),
        "optimum": optimum,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cost = commands.add_parser("cost", help="time per trial against the trial number")
    cost.add_argument("--max-trials", type=int, default=10000)
    cost.add_argument("--space", choices=["default", "dummy"], default="default")
    cost.add_argument("--storage", choices=["memory", "journal"], default="memory")
    cost.add_argument("--in-flight", type=int, default=1)
    cost.add_argument("--seed", type=int, default=42)
    quality = commands.add_parser("quality", help="best scores of the default optimisation")
    quality.add_argument("--trials", type=int, default=500)
    quality.add_argument(
        "--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3]
    )
    for command in (cost, quality):
        command.add_argument(
            "--samplers",
            type=lambda s: s.split(","),
            default=["tpe", "optuna-tpe", "random", "cmaes", "nsga2"],
            help=f"comma-separated, of: {', '.join(SAMPLERS)}",
        )
        command.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    unknown = [name for name in args.samplers if name not in SAMPLERS]
    if unknown:
        parser.error(f"unknown sampler(s) {unknown}; known: {', '.join(SAMPLERS)}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_before = os.getloadavg()
    report = run_cost(args) if args.command == "cost" else run_quality(args)
    report["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "optuna": optuna.__version__,
    }
    text = json.dumps(report, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
