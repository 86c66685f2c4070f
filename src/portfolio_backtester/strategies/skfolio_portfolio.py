"""Portfolio optimisers from skfolio, fitted at each rebalance date on trailing daily returns.

skfolio is an optional dependency (``pip install 'portfolio-backtester[skfolio]'``): it is
imported when the strategy first computes weights, so the package imports without it.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from ..data import OptimizationData
from ..errors import ScenarioError
from ._base import BaseStrategy, Parameter
from ._parameters import rebalance_parameter
from ._weights import FloatArray, daily_prices, daily_returns, rebalance_rows, weights_frame

__all__ = [
    "ESTIMATORS",
    "RISK_MEASURES",
    "FitError",
    "SkfolioPortfolioStrategy",
    "estimator_factory",
    "fit_weights",
]

INSTALL = "pip install 'portfolio-backtester[skfolio]'"
ESTIMATORS = ("mean_risk", "hrp", "herc", "risk_budgeting", "nested_clusters")
# Our names for skfolio's RiskMeasure members, the ones every estimator here accepts.
RISK_MEASURES = (
    "variance",
    "semi_variance",
    "standard_deviation",
    "semi_deviation",
    "mean_absolute_deviation",
    "first_lower_partial_moment",
    "cvar",
    "evar",
    "worst_realization",
    "cdar",
    "max_drawdown",
    "average_drawdown",
    "edar",
    "ulcer_index",
)
OBJECTIVES = ("minimize_risk", "maximize_ratio")

logger = logging.getLogger(__name__)


class Estimator(Protocol):
    """What the strategy uses of a skfolio portfolio optimiser."""

    weights_: FloatArray

    def fit(self, X: FloatArray) -> Any: ...  # noqa: N803 (scikit-learn's name)


class SkfolioPortfolioStrategy(BaseStrategy):
    """Weights of a skfolio estimator fitted on the ``lookback_days`` daily returns up to and
    including each rebalance date.

    An asset enters a fit only with a return on every day of the window and not all of them
    equal (a stale price has no variance to estimate); the others get weight 0. One usable
    asset gets weight 1; none, or a date with less history than the window, is cash. Solver
    noise below 0 is set to 0 (every estimator here is long-only).

    A window skfolio cannot fit (its solver fails: CVaR risk budgeting on about one window
    in twenty of the embedded data; no asset's mean beats the risk-free rate, for
    maximize_ratio) keeps the previous date's weights, and the failures are logged as a
    warning; when every fit fails, a ScenarioError says so.
    """

    name: ClassVar[str] = "skfolio_portfolio"
    description: ClassVar[str] = (
        "A skfolio optimiser (mean-risk, HRP, HERC, risk budgeting, nested clusters) fitted "
        "on trailing daily returns at each rebalance date."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            name="estimator",
            kind="categorical",
            default="hrp",
            choices=ESTIMATORS,
            doc="the skfolio optimiser: MeanRisk, HierarchicalRiskParity, "
            "HierarchicalEqualRiskContribution, RiskBudgeting, NestedClustersOptimization",
        ),
        Parameter(
            name="risk_measure",
            kind="categorical",
            default="variance",
            choices=RISK_MEASURES,
            doc="the risk the estimator minimises or budgets (skfolio's RiskMeasure)",
        ),
        Parameter(
            name="objective",
            kind="categorical",
            default="minimize_risk",
            choices=OBJECTIVES,
            doc="mean_risk only: minimise the risk, or maximise return over risk",
        ),
        Parameter(
            name="lookback_days",
            kind="int",
            default=252,
            low=63,
            high=504,
            step=1,
            min=20,
            doc="trading days of daily returns each fit uses, up to the rebalance date",
        ),
        rebalance_parameter("monthly"),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        p = self.resolve_params(params)
        make = estimator_factory(p["estimator"], p["risk_measure"], p["objective"])
        dates, rows = rebalance_rows(data, p["rebalance"])
        returns, prices = daily_returns(data), daily_prices(data)
        length = p["lookback_days"]
        weights = np.zeros((len(rows), returns.shape[1]))
        failures: list[tuple[pd.Timestamp, str]] = []
        # skfolio warns per fit (a covariance made positive definite, an inaccurate
        # solution): one log line per distinct warning instead of hundreds on stderr.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i, row in enumerate(rows):
                if row < length:  # the first return (row 0) is NaN: a full window ends here
                    continue
                try:
                    weights[i] = fit_weights(make, returns[row + 1 - length : row + 1])
                except FitError as error:
                    failures.append((dates[i], str(error)))
                    if i > 0:  # the previous weights, but nothing without a price today
                        weights[i] = np.where(np.isfinite(prices[row]), weights[i - 1], 0.0)
        for message, count in Counter(str(w.message) for w in caught).items():
            logger.warning("skfolio %s warned %d time(s): %s", p["estimator"], count, message)
        if failures:
            _report(failures, int(np.count_nonzero(rows >= length)), p)
        return weights_frame(weights, dates, data)

    def lookback_days(self, params: Mapping[str, Any]) -> int:
        return int(self.resolve_params(params)["lookback_days"])


def estimator_factory(
    estimator: str, risk_measure: str, objective: str
) -> Callable[[], Estimator]:
    """A maker of fresh, unfitted skfolio estimators; a ScenarioError without skfolio."""
    try:
        import skfolio  # type: ignore[import-untyped]  # skfolio ships no types
    except ModuleNotFoundError as error:
        if error.name is None or error.name.partition(".")[0] != "skfolio":
            raise
        raise ScenarioError(
            f"strategy {SkfolioPortfolioStrategy.name!r} needs skfolio, which is not "
            f"installed; install it with {INSTALL}"
        ) from None
    from skfolio import optimization as opt

    measure = skfolio.RiskMeasure[risk_measure.upper()]
    makers: dict[str, Callable[[], Any]] = {
        "mean_risk": lambda: opt.MeanRisk(
            risk_measure=measure, objective_function=opt.ObjectiveFunction[objective.upper()]
        ),
        "hrp": lambda: opt.HierarchicalRiskParity(risk_measure=measure),
        "herc": lambda: opt.HierarchicalEqualRiskContribution(risk_measure=measure),
        "risk_budgeting": lambda: opt.RiskBudgeting(risk_measure=measure),
        # The outer fit on the clusters' in-sample returns, as the method was first given:
        # skfolio's default cross-validates it, at about seven times the cost per fit.
        "nested_clusters": lambda: opt.NestedClustersOptimization(
            inner_estimator=opt.MeanRisk(risk_measure=measure),
            outer_estimator=opt.MeanRisk(risk_measure=measure),
            cv="ignore",
        ),
    }
    return makers[estimator]


def fit_weights(make: Callable[[], Estimator], window: FloatArray) -> FloatArray:
    """One rebalance: a fresh estimator fitted on the window's usable columns.

    ``window``: (days, assets) daily returns; the result has one weight per asset, 0 for
    those left out of the fit. A FitError when skfolio cannot fit the window.
    """
    usable = np.flatnonzero(np.isfinite(window).all(axis=0) & (np.ptp(window, axis=0) > 0))
    weights = np.zeros(window.shape[1])
    if len(usable) < 2:
        weights[usable] = 1.0  # all in the one asset, or nothing to weigh
        return weights
    from skfolio.exceptions import SkfolioError  # type: ignore[import-untyped]

    model = make()
    try:
        model.fit(window[:, usable])
    except (SkfolioError, ValueError) as error:
        # ValueError too: skfolio's own refusals of a window (no asset beats the risk-free
        # rate for maximize_ratio); our input is finite and two-dimensional by now.
        raise FitError(str(error)) from error
    weights[usable] = np.clip(np.asarray(model.weights_, dtype=np.float64), 0.0, None)
    return weights


class FitError(Exception):
    """skfolio could not fit one window (its solver failed)."""


def _report(
    failures: list[tuple[pd.Timestamp, str]], fits: int, params: Mapping[str, Any]
) -> None:
    first, message = failures[0]
    what = (
        f"strategy {SkfolioPortfolioStrategy.name!r}: skfolio's {params['estimator']} "
        f"({params['risk_measure']}) could not be fitted on {len(failures)} of {fits} windows, "
        f"first the one ending {first.date()}: {message}"
    )
    if len(failures) == fits:
        raise ScenarioError(f"{what}; try a longer lookback_days or another risk_measure")
    logger.warning("%s; those dates kept the previous weights", what)
