"""Optuna's own plots of a study, for the report: importance, contour or slice, Pareto front.

Optuna draws with pyplot and changes global state as it does (the ggplot style, figures
registered with pyplot, warnings); ``_optuna_plot`` and ``_detach`` fence that off, so that
building a report leaves matplotlib as it found it. Optuna's plots reserve room for their
colour bars as they draw, so the page crops them (``crop=True``) instead of fixing margins.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

if TYPE_CHECKING:
    import optuna

__all__ = [
    "param_importance_figure",
    "param_importances",
    "pareto_front_figure",
    "top_params_figure",
]


def param_importances(study: optuna.Study, objective: int, notes: list[str]) -> dict[str, float]:
    """Optuna's importances of the parameters for one objective, most important first."""
    import optuna

    with _optuna_plot(notes):
        return optuna.importance.get_param_importances(study, target=_target(study, objective))


def param_importance_figure(
    study: optuna.Study, objective: int, name: str, notes: list[str]
) -> Figure:
    """Optuna's parameter importance bars for one objective."""
    import optuna

    with _optuna_plot(notes):
        axes = optuna.visualization.matplotlib.plot_param_importances(
            study, target=_target(study, objective), target_name=name
        )
        return _detach(axes, (8, 1.6 + 0.45 * len(axes.get_yticks())))


def top_params_figure(
    study: optuna.Study, params: Sequence[str], objective: int, name: str, notes: list[str]
) -> Figure:
    """Optuna's contour plot of two parameters, or its slice plot of one."""
    import optuna

    plot = optuna.visualization.matplotlib
    # The contour shows the objective as it is: no sign flip for maximised objectives.
    target = (lambda t: t.values[objective]) if len(study.directions) > 1 else None
    with _optuna_plot(notes):
        if len(params) >= 2:
            axes = plot.plot_contour(
                study, params=list(params[:2]), target=target, target_name=name
            )
        else:
            axes = plot.plot_slice(study, params=list(params), target=target, target_name=name)
        return _detach(axes, (8, 5.5))


def pareto_front_figure(
    study: optuna.Study, objectives: Sequence[str], notes: list[str]
) -> Figure:
    """Optuna's Pareto front of a multi-objective study."""
    import optuna

    with _optuna_plot(notes):
        axes = optuna.visualization.matplotlib.plot_pareto_front(
            study, target_names=list(objectives)
        )
        return _detach(axes, (8, 5.5))


def _target(study: optuna.Study, objective: int) -> Callable[[Any], float] | None:
    """None for a single objective; otherwise one objective, negated when maximised, because
    Optuna's default importance evaluator treats a given target as lower-is-better."""
    import optuna

    if len(study.directions) == 1:
        return None
    sign = -1.0 if study.directions[objective] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return lambda trial: sign * float(trial.values[objective])


@contextlib.contextmanager
def _optuna_plot(notes: list[str]) -> Iterator[None]:
    """Run Optuna's plotting without side effects on the caller.

    Optuna's matplotlib functions switch the global style to ggplot (undone by
    ``rc_context``), are marked experimental (ignored), and warn about too few trials or
    equal importances: those warnings are collected into ``notes`` for the report.
    """
    with rc_context(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        import optuna

        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # ``_target`` already makes every objective lower-is-better.
        warnings.filterwarnings("ignore", "PedAnovaImportanceEvaluator computes", UserWarning)
        yield
    notes.extend(dict.fromkeys(str(w.message) for w in caught))


def _detach(axes: Any, size: tuple[float, float]) -> Figure:
    """The figure behind Optuna's axes, released from pyplot (which created it) and resized."""
    from matplotlib import pyplot

    first = axes.flat[0] if isinstance(axes, np.ndarray) else axes
    figure: Figure = first.figure
    pyplot.close(figure)
    # Optuna adds colourbars by stealing space, which no layout engine can rearrange later;
    # the page crops these figures to their contents instead.
    figure.set_size_inches(*size)
    return figure
