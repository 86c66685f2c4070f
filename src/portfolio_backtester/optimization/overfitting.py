"""How much of an optimisation's best result is luck, over every trial the search tried.

Each distinct completed or pruned trial's daily returns on the days the study scores,
recorded by the trial as it ran (``trial_returns``; rebuilt from its parameters when
another host ran it, or when it was pruned: a pruned trial was tried and rejected, so
leaving it out would count fewer trials than the selection saw), form a ``(days, trials)``
matrix held in memory, float64: 2,000 trials of 7,300 days take 117 MB. From it come the
Deflated Sharpe Ratio of the selected trial (with the effective number of independent
trials), the Probability of Backtest Overfitting by CSCV, Hansen's SPA test against the
benchmark, the Sharpe ratio luck alone gives the best of this many trials, and the minimum
backtest length. Walk-forward: one set per window study, then a summary.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from ..constants import TRADING_DAYS_PER_YEAR
from ..data import OptimizationData
from ..errors import DataError
from ..metrics import (
    deflated_sharpe_ratio,
    effective_number_of_trials,
    minimum_backtest_length,
    probability_of_backtest_overfitting,
    sharpe_ratio,
    spa_test,
)
from ..simulation.period import benchmark_period_returns
from .attributes import trial_evaluation
from .objective import Objective, window_positions
from .plan import StudyPlan
from .trial_returns import TrialReturnsReader

__all__ = ["overfitting_report"]

logger = logging.getLogger(__name__)

SIGNIFICANT = 0.95
LOGIT_EDGES = np.linspace(-8.0, 8.0, 65)
SPA_REPS = 500
"""Bootstrap replications of the SPA test: a p-value near 0.05 is known to about ±0.01."""
SPA_MAX_ROWS = 600
"""arch's SPA estimates variances in O(rows² x trials): longer series are summed over k-day
blocks first (2,000 trials of 8,300 days: 14-day sums, seconds instead of 4 minutes on
days). A mean of sums is k times the mean of days, so "no trial beats the benchmark" is the
same hypothesis; the test sees fewer, less dependent observations."""


def overfitting_report(
    objective: Objective,
    data: OptimizationData,
    plans: Sequence[StudyPlan],
    studies: Sequence[optuna.Study],
    best_numbers: Sequence[int],
    recorded: TrialReturnsReader | None = None,
) -> dict[str, Any]:
    """The statistics of every study, the rows the report shows and the lines stdout prints.

    ``recorded`` holds the returns the trials recorded as they ran; a trial not in it (run
    on another host, or an older study resumed) is rebuilt from its parameters.
    """
    settings = objective.config.overfitting
    if not settings.enabled:
        return {"skipped": "switched off (optimize.overfitting.enabled: false)"}
    started = time.perf_counter()
    per_study = []
    for plan, study, best in zip(plans, studies, best_numbers, strict=True):
        try:
            per_study.append(
                _study_statistics(
                    objective, data, plan, study, best, settings.cscv_blocks, recorded
                )
            )
        except DataError as exc:  # too few trials or days for a statistic: say so, go on
            per_study.append({"study": plan.name, "skipped": str(exc)})
    usable = [s for s in per_study if "skipped" not in s]
    if not usable:
        return {"skipped": per_study[0]["skipped"], "studies": per_study}
    report: dict[str, Any] = {
        "scope": (
            f"{usable[0]['n_trials']} distinct trials of the cv study"
            if len(plans) == 1
            else f"each of {len(plans)} walk-forward window studies"
        ),
        "studies": per_study,
        "logit_histograms": [s.pop("logit_histogram") for s in usable],
        "elapsed_s": time.perf_counter() - started,
    }
    report["rows"] = _rows(usable)
    report["sentences"] = [
        f"{r['statistic']} ({r['value']}): {r['meaning']}" for r in report["rows"]
    ]
    logger.info("overfitting statistics in %.2f s", report["elapsed_s"])
    return report


def _study_statistics(
    objective: Objective,
    data: OptimizationData,
    plan: StudyPlan,
    study: optuna.Study,
    best_number: int,
    n_blocks: int,
    recorded: TrialReturnsReader | None,
) -> dict[str, Any]:
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if trial_evaluation(t).get("duplicate_of") is None
    ]
    if len(trials) < 2:
        raise DataError(
            f"study {plan.name!r} has {len(trials)} distinct completed or pruned trial(s)"
        )
    n_days = sum(
        last + 1 - first
        for first, last in (window_positions(data, w, plan.period) for w in plan.windows)
    )
    matrix = np.empty((n_days, len(trials)))
    rebuilt = 0
    for j, trial in enumerate(trials):
        row = None if recorded is None else recorded.get(plan.name, trial.params)
        if row is None or len(row) != n_days:
            row = objective.daily_returns(data, trial.params, plan.windows, plan.period)
            rebuilt += 1
        matrix[:, j] = row
    numbers = [t.number for t in trials]
    best = numbers.index(best_number) if best_number in numbers else 0
    daily_rf = objective.scenario.portfolio.risk_free_rate / TRADING_DAYS_PER_YEAR
    sharpes = np.array([sharpe_ratio(matrix[:, j] - daily_rf) for j in range(len(trials))])
    finite = int(np.isfinite(sharpes).sum())
    n_eff = min(max(1.0, effective_number_of_trials(matrix)), float(max(finite, 1)))
    dsr = deflated_sharpe_ratio(matrix[:, best] - daily_rf, sharpes, n_effective_trials=n_eff)
    pbo = probability_of_backtest_overfitting(matrix, n_blocks=n_blocks)
    benchmark = _benchmark(data, plan, n_days)
    block = max(1, math.ceil(n_days / SPA_MAX_ROWS))
    spa = spa_test(
        _block_sums(matrix, block),
        _block_sums(benchmark[:, None], block)[:, 0],
        reps=SPA_REPS,
        seed=objective.config.seed or 0,
    )
    annual = math.sqrt(TRADING_DAYS_PER_YEAR)
    # Fixed edges, so that the windows of a walk-forward can be pooled in one chart.
    logits = np.clip(pbo.logits[np.isfinite(pbo.logits)], LOGIT_EDGES[0], LOGIT_EDGES[-1])
    counts, edges = np.histogram(logits, bins=LOGIT_EDGES)
    return {
        "study": plan.name,
        "n_trials": len(trials),
        "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "n_effective_trials": dsr.n_effective_trials,
        "n_days": int(matrix.shape[0]),
        "rebuilt_trials": rebuilt,
        "selected_trial": best_number,
        "sharpe_annual": dsr.sharpe_annual,
        "skew": dsr.skew,
        "kurtosis_raw": dsr.kurtosis,
        "variance_of_sharpes_annual": dsr.variance_of_sharpes * TRADING_DAYS_PER_YEAR,
        "expected_max_sharpe_annual": dsr.expected_max_sharpe * annual,
        "psr": dsr.psr,
        "dsr": dsr.dsr,
        "min_backtest_length_years": minimum_backtest_length(
            dsr.n_effective_trials, dsr.sharpe_annual
        ),
        "scored_years": matrix.shape[0] / TRADING_DAYS_PER_YEAR,
        "pbo": pbo.pbo,
        "cscv_splits": len(pbo.logits),
        "cscv_blocks": n_blocks,
        "degradation_slope": pbo.degradation_slope,
        "degradation_intercept": pbo.degradation_intercept,
        "probability_of_loss": pbo.probability_of_loss,
        "spa_pvalue": spa.pvalue_consistent,
        "spa_days_per_row": block,
        "reality_check_pvalue": spa.pvalue_upper,
        "spa_against": "the benchmark" if data.benchmark.shape[1] else "cash (no benchmark)",
        "logit_histogram": {
            "label": plan.name,
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "pbo": pbo.pbo,
        },
    }


def _benchmark(
    data: OptimizationData, plan: StudyPlan, n_days: int
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The benchmark's returns on the trials' days (cash, 0, without a benchmark); each
    window's first day earns nothing, as for the trials."""
    pieces = []
    for window in plan.windows:
        first, last = window_positions(data, window, plan.period)
        inside = data.daily.index[first : last + 1]
        bench = benchmark_period_returns(data, inside)
        pieces.append(np.zeros(len(inside)) if bench is None else bench.to_numpy())
    values = np.concatenate(pieces)
    if len(values) != n_days:
        raise DataError("the benchmark's days do not match the trials' days")
    return values


def _block_sums(
    values: np.ndarray[Any, np.dtype[np.float64]], block: int
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Sums over consecutive ``block``-day groups (the last one may be shorter)."""
    if block == 1:
        return values
    starts = np.arange(0, values.shape[0], block)
    return np.add.reduceat(np.nan_to_num(values, nan=0.0), starts, axis=0)


def _rows(studies: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per statistic with one plain sentence of what it means for this run."""
    if len(studies) == 1:
        return _single(studies[0])
    return _summary(studies)


def _single(s: dict[str, Any]) -> list[dict[str, str]]:
    n, n_eff, sr = s["n_trials"], s["n_effective_trials"], s["sharpe_annual"]
    luck = s["expected_max_sharpe_annual"]
    enough = s["scored_years"] >= s["min_backtest_length_years"]
    return [
        {
            "statistic": "Deflated Sharpe ratio",
            "value": f"{s['dsr']:.0%}",
            "meaning": (
                f"the chance that the selected trial's Sharpe ratio of {sr:.2f} over the scored "
                f"days is more than the best of the {n} trials tried (about {n_eff:.0f} "
                "independent) would show with no skill at all (a true Sharpe ratio of 0); "
                f"{'above' if s['dsr'] >= SIGNIFICANT else 'below'} the 95% usually asked for. "
                "A long-only strategy earns the market's own Sharpe ratio without skill: "
                "whether it beats the benchmark is the SPA test's question."
            ),
        },
        {
            "statistic": "Probabilistic Sharpe ratio",
            "value": f"{s['psr']:.0%}",
            "meaning": (
                "the chance that the selected trial's true Sharpe ratio is above 0 if it had been "
                "the only trial: it ignores the selection, which the deflated ratio accounts for."
            ),
        },
        {
            "statistic": "Sharpe ratio luck alone gives",
            "value": f"{luck:.2f}",
            "meaning": (
                f"the best of {n_eff:.0f} independent trials with no skill at all would show "
                "about this annual Sharpe ratio on these days; the selected trial shows "
                f"{sr:.2f}."
            ),
        },
        {
            "statistic": "Minimum backtest length",
            "value": f"{s['min_backtest_length_years']:.1f} years",
            "meaning": (
                f"the data needed before the best of {n_eff:.0f} skill-less trials no longer "
                f"reaches a Sharpe ratio of {sr:.2f}; the trials were scored on "
                f"{s['scored_years']:.1f} years, {'enough' if enough else 'too few'}."
            ),
        },
        {
            "statistic": "Probability of backtest overfitting",
            "value": f"{s['pbo']:.0%}",
            "meaning": (
                f"in this share of the {s['cscv_splits']:,} ways of splitting the scored days "
                f"into two halves ({s['cscv_blocks']} blocks), the trial best on one half ranked "
                "below the median on the other; 50% or more is what pure noise gives."
            ),
        },
        {
            "statistic": "Performance degradation",
            "value": f"slope {s['degradation_slope']:.2f}, loss {s['probability_of_loss']:.0%}",
            "meaning": (
                "how the selected trial's Sharpe ratio on the unseen half moves with its Sharpe "
                "ratio on the half it was chosen on (a slope near 0 or below: in-sample gains do "
                "not carry over), and how often it lost money on the unseen half."
            ),
        },
        {
            "statistic": "Hansen's SPA test",
            "value": f"p = {s['spa_pvalue']:.3f}",
            "meaning": (
                f"against {s['spa_against']}: "
                + (
                    "the best trial beats it by more than luck over this many trials explains."
                    if s["spa_pvalue"] < 0.05
                    else "no trial beats it by more than luck over this many trials explains "
                    "(p of 0.05 or more)."
                )
                + f" White's Reality Check: p = {s['reality_check_pvalue']:.3f}."
            ),
        },
    ]


def _summary(studies: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    k = len(studies)
    pbo = float(np.median([s["pbo"] for s in studies]))
    significant = sum(s["dsr"] >= SIGNIFICANT for s in studies)
    spa = sum(s["spa_pvalue"] < 0.05 for s in studies)
    slope = float(np.median([s["degradation_slope"] for s in studies]))
    return [
        {
            "statistic": "Probability of backtest overfitting",
            "value": f"median {pbo:.0%} over {k} windows",
            "meaning": (
                "within each window's train period, how often the trial best on one half of the "
                "days ranked below the median on the other; 50% or more is what noise gives."
            ),
        },
        {
            "statistic": "Deflated Sharpe ratio",
            "value": f"at least 95% in {significant} of {k} windows",
            "meaning": (
                "in how many windows the chosen trial's train-period Sharpe ratio is more than "
                "the luck of the best of that window's trials explains."
            ),
        },
        {
            "statistic": "Hansen's SPA test",
            "value": f"p < 0.05 in {spa} of {k} windows",
            "meaning": (
                f"in how many windows some trial beats {studies[0]['spa_against']} over the "
                "train period by more than luck over that many trials explains."
            ),
        },
        {
            "statistic": "Performance degradation",
            "value": f"median slope {slope:.2f}",
            "meaning": (
                "how a window's in-sample best does on the unseen half of its train days; the "
                "out-of-sample result above is the direct answer."
            ),
        },
    ]
