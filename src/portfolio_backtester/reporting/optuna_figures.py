"""The report's figures of a study: importance, Optuna's contour or slice, Pareto front.

Optuna draws with pyplot and changes global state as it does (the ggplot style, figures
registered with pyplot, warnings); ``_optuna_plot`` and ``_detach`` fence that off, so that
building a report leaves matplotlib as it found it. Optuna's plots reserve room for their
colour bars as they draw, so the page crops them (``crop=True``) instead of fixing margins.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from .importances import Importances, importance_figure
from .page import Page

if TYPE_CHECKING:
    import optuna

__all__ = [
    "completed",
    "pareto_front_figure",
    "study_figures",
    "top_params_figure",
]


def completed(study: optuna.Study) -> int:
    """The study's completed trials: the figures need two."""
    return sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def study_figures(
    page: Page,
    study: optuna.Study,
    importances: Importances | None,
    objectives: Sequence[str],
    *,
    walk_forward: bool,
) -> None:
    """Optuna's importance, contour (or slice) and Pareto front plots of one study."""
    n_complete = completed(study)
    where = f"study {study.study_name}" + (
        " (the last walk-forward window)" if walk_forward else ""
    )
    if n_complete < 2:
        page.notes([f"{where} has {n_complete} completed trial(s): too few to plot."])
        return
    notes: list[str] = []
    assert importances is not None  # made for every study of two trials or more
    first = importances.of(0, notes)
    ranked = list(first)
    page.heading(3, "Parameter importance")
    pair = " pair" if len(objectives) > 1 else ""
    page.add(
        f"<p class='sub'>Optuna's importance evaluator over {where}.</p><div class='cols{pair}'>"
    )
    for i, name in enumerate(objectives):
        found = first if i == 0 else importances.of(i, notes)
        image = importance_figure(found, name)
        page.figure(f"importance_{i}", image, f"parameter importance for {name}")
    page.add("</div>")
    page.notes(_optuna_notes(notes))
    if ranked:
        notes = []
        title = (
            f"Contour of {ranked[0]} and {ranked[1]}"
            if len(ranked) > 1
            else f"Slice of {ranked[0]}"
        )
        page.heading(3, title)
        image = top_params_figure(study, ranked, 0, objectives[0], notes)
        page.figure("params", image, title, crop=True)
        page.notes(_optuna_notes(notes))
    if len(objectives) > 1:
        notes = []
        page.heading(3, "Pareto front")
        image = pareto_front_figure(study, objectives, notes)
        page.figure("pareto_front", image, "Pareto front", crop=True)
        page.notes(_optuna_notes(notes))


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


@contextlib.contextmanager
def _optuna_plot(notes: list[str]) -> Iterator[None]:
    """Run Optuna's plotting without side effects on the caller.

    Optuna's matplotlib functions switch the global style to ggplot (undone by
    ``rc_context``), are marked experimental (ignored), and warn about too few trials:
    those warnings are collected into ``notes`` for the report.
    """
    with rc_context(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        import optuna

        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
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


def _optuna_notes(notes: Sequence[str]) -> list[str]:
    return [f"Optuna: {note}" for note in notes]
