"""The report's figures, each a function of plain frames read from a run folder or of a study.

Every figure is a ``matplotlib.figure.Figure`` built with the object API, so building a report
never touches pyplot's global state; Optuna's own plots are the one exception, fenced off in
``_optuna_plot``.
"""

from __future__ import annotations

import calendar
import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure

from ..constants import TRADING_DAYS_PER_YEAR as TRADING_DAYS
from ..metrics import drawdown_series

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes

__all__ = [
    "distribution_figure",
    "equity_drawdown_figure",
    "holdings_figure",
    "monthly_heatmap_figure",
    "monthly_table",
    "optimization_history_figure",
    "param_importance_figure",
    "param_importances",
    "pareto_front_figure",
    "rolling_figure",
    "top_params_figure",
    "walk_forward_figure",
    "window_scores_figure",
    "worst_drawdowns",
]

WIDTH = 11.0
LEGEND_TICKERS = 15
# Strategy, benchmark, then anything else: the same colour for the same series everywhere.
SERIES_COLORS = ("tab:blue", "tab:gray", "tab:orange", "tab:green")


def equity_drawdown_figure(returns: pd.DataFrame, title: str) -> Figure:
    """Growth of 1 on a log scale for every column, each column's drawdown below."""
    figure = Figure(figsize=(WIDTH, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    for color, (name, series) in zip(SERIES_COLORS, returns.items(), strict=False):
        equity = (1.0 + series.fillna(0.0)).cumprod()
        top.plot(equity.index, equity.to_numpy(), label=str(name), color=color, lw=1.2)
        under = drawdown_series(series) * 100
        bottom.fill_between(under.index, under.to_numpy(), 0, color=color, alpha=0.35, lw=0)
    top.set_yscale("log")
    top.set_ylabel("growth of 1 (log scale)")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(True, alpha=0.3)
    return figure


def monthly_table(returns: pd.Series) -> pd.DataFrame:
    """Compounded returns by year (rows) and month (columns 1-12), with a 'Year' total column."""
    index = pd.DatetimeIndex(returns.index)
    growth = 1.0 + returns
    monthly = growth.groupby([index.year, index.month]).prod() - 1.0
    table = monthly.unstack(level=1).reindex(columns=range(1, 13))
    table["Year"] = growth.groupby(index.year).prod() - 1.0
    return table


def monthly_heatmap_figure(returns: pd.Series) -> Figure:
    """Years by months, green for gains and red for losses; yearly totals on their own scale."""
    table = monthly_table(returns) * 100
    height = max(3.0, 0.24 * len(table) + 1.2)
    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    months_ax, year_ax = figure.subplots(1, 2, sharey=True, width_ratios=[12, 1.5])
    _annotated_heatmap(months_ax, table.iloc[:, :12].to_numpy(dtype=float))
    _annotated_heatmap(year_ax, table[["Year"]].to_numpy(dtype=float))
    months_ax.set_xticks(range(12), calendar.month_abbr[1:])
    months_ax.set_yticks(range(len(table)), [str(year) for year in table.index])
    year_ax.set_xticks([0], ["Year"])
    for ax in (months_ax, year_ax):
        ax.tick_params(length=0, labeltop=True, labelbottom=False)
    months_ax.set_title("Monthly returns (%)", loc="left")
    return figure


def rolling_figure(returns: pd.DataFrame, window: int = TRADING_DAYS) -> Figure:
    """Rolling 12-month compounded return, annualised volatility and Sharpe ratio."""
    figure = Figure(figsize=(WIDTH, 7), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True)
    for color, (name, series) in zip(SERIES_COLORS, returns.items(), strict=False):
        growth = np.expm1(np.log1p(series).rolling(window).sum())
        mean = series.rolling(window).mean() * TRADING_DAYS
        vol = series.rolling(window).std() * np.sqrt(TRADING_DAYS)
        sharpe = mean / vol.where(vol > 0)
        axes[0].plot(growth.index, growth.to_numpy() * 100, label=str(name), color=color, lw=1)
        axes[1].plot(vol.index, vol.to_numpy() * 100, color=color, lw=1)
        axes[2].plot(sharpe.index, sharpe.to_numpy(), color=color, lw=1)
    labels = ("12-month return (%)", "volatility (%)", "Sharpe")
    for ax, label in zip(axes, labels, strict=True):
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.axhline(0, color="black", lw=0.6)
    axes[0].legend(loc="upper left")
    axes[0].set_title(f"Rolling {window} trading days")
    return figure


def holdings_figure(weights: pd.DataFrame, turnover: pd.Series) -> Figure:
    """Target weights held from each rebalance to the next (stacked) and turnover per year.

    The largest ``LEGEND_TICKERS`` holdings by average weight get their own colour; the rest
    are summed into one grey band so that a large universe stays readable.
    """
    held = weights.astype("float64").fillna(0.0)
    end = pd.Timestamp(turnover.index[-1])
    if end > held.index[-1]:
        # The last targets are held until the end of the backtest.
        held = pd.concat([held, held.iloc[[-1]].set_axis(pd.DatetimeIndex([end]))])
    order = held.abs().mean().sort_values(ascending=False).index
    named, rest = list(order[:LEGEND_TICKERS]), list(order[LEGEND_TICKERS:])
    # tab20 without its two greys, which are kept for the "others" band.
    palette = [colormaps["tab20"](i) for i in range(20) if i not in (14, 15)]
    colors = [palette[i % len(palette)] for i in range(len(named))] + ["0.75"] * bool(rest)
    labels = [str(c) for c in named] + [f"{len(rest)} others"] * bool(rest)
    figure = Figure(figsize=(WIDTH, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    longs, shorts = held.clip(lower=0.0), held.clip(upper=0.0)
    for part, legend in ((longs, labels), (shorts, [])):
        if part is shorts and not (shorts < 0).to_numpy().any():
            continue
        bands = [part[c].to_numpy() for c in named]
        if rest:
            bands.append(part[rest].sum(axis=1).to_numpy())
        top.stackplot(
            held.index, np.vstack(bands), labels=legend, colors=colors, step="post", lw=0
        )
    top.set_ylabel("target weight")
    top.set_title("Holdings: target weights between rebalances", loc="left")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    top.margins(x=0, y=0.02)
    top.grid(True, alpha=0.3)
    index = pd.DatetimeIndex(turnover.index)
    yearly = turnover.groupby(index.year).sum() * 100
    middles = pd.to_datetime([f"{year}-07-01" for year in yearly.index])
    bottom.bar(middles, yearly.to_numpy(), width=300, color="tab:purple", alpha=0.8)
    bottom.set_ylabel("turnover per year (%)")
    bottom.grid(True, alpha=0.3)
    return figure


def distribution_figure(returns: pd.DataFrame) -> Figure:
    """Histograms of daily and monthly returns on common bins, one outline per column."""
    monthly = (1.0 + returns).groupby(pd.DatetimeIndex(returns.index).to_period("M")).prod()
    figure = Figure(figsize=(WIDTH, 4), layout="constrained")
    daily_ax, monthly_ax = figure.subplots(1, 2)
    # The daily range is cut at 0.1% and 99.9%: a few crash days would squash the rest.
    for ax, frame, bins, cut, title in (
        (daily_ax, returns * 100, 100, 0.1, "Daily returns (%)"),
        (monthly_ax, (monthly - 1.0) * 100, 40, 0.0, "Monthly returns (%)"),
    ):
        values = frame.to_numpy(dtype=float)
        low, high = np.nanpercentile(values, [cut, 100 - cut])
        edges = np.histogram_bin_edges(values[np.isfinite(values)], bins, (low, high))
        for color, (name, series) in zip(SERIES_COLORS, frame.items(), strict=False):
            data = series.dropna().clip(low, high).to_numpy()
            ax.hist(data, edges, histtype="stepfilled", color=color, alpha=0.3)
            ax.hist(data, edges, histtype="step", color=color, lw=1.2, label=str(name))
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(title)
        ax.set_ylabel("count")
        ax.legend()
        ax.grid(True, alpha=0.3)
    return figure


def worst_drawdowns(returns: pd.Series, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest drawdowns, deepest first.

    Columns: ``start`` (the peak), ``trough``, ``recovery`` (first day back at the peak, or
    "not recovered"), ``depth`` (negative fraction) and ``length_days``: trading days below
    the peak, counted as ``Max Drawdown Duration`` counts them.
    """
    under = drawdown_series(returns).to_numpy()
    below = np.concatenate([[False], under < 0, [False]])
    starts = np.flatnonzero(~below[:-1] & below[1:])  # first day below a peak
    stops = np.flatnonzero(below[:-1] & ~below[1:])  # first day back at the peak (or len)
    dates = list(pd.DatetimeIndex(returns.index).strftime("%Y-%m-%d"))
    rows = []
    for first, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        trough = first + int(np.argmin(under[first:stop]))
        rows.append(
            {
                "start": dates[max(first - 1, 0)],
                "trough": dates[trough],
                "recovery": dates[stop] if stop < len(under) else "not recovered",
                "depth": float(under[trough]),
                "length_days": int(stop - first),
            }
        )
    frame = pd.DataFrame(rows, columns=["start", "trough", "recovery", "depth", "length_days"])
    return frame.sort_values("depth", kind="stable").head(n).reset_index(drop=True)


def optimization_history_figure(
    trials: pd.DataFrame, objectives: Sequence[str], directions: Sequence[str]
) -> Figure:
    """Every completed trial's value, coloured by worker, and the best so far in each study.

    Studies (one per walk-forward window) follow each other along the x axis in run order,
    so one picture shows every trial of every worker.
    """
    done = trials[trials["state"] == "COMPLETE"]
    studies = list(dict.fromkeys(done["study"]))
    done = done.assign(_study=done["study"].map({s: i for i, s in enumerate(studies)}))
    done = done.sort_values(["_study", "number"]).reset_index(drop=True)
    workers = done["worker"].fillna("unknown").astype(str)
    figure = Figure(figsize=(WIDTH, 1.5 + 2.6 * len(objectives)), layout="constrained")
    axes = figure.subplots(len(objectives), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, name, direction) in enumerate(zip(axes, objectives, directions, strict=True)):
        values = done[f"value_{i}"].astype(float)
        for worker in dict.fromkeys(workers):
            mine = workers == worker
            ax.scatter(done.index[mine], values[mine], s=14, alpha=0.7, label=worker)
        grouped = values.groupby(done["_study"])
        best = grouped.cummax() if direction == "maximize" else grouped.cummin()
        for position, (_, segment) in enumerate(best.groupby(done["_study"])):
            label = "best so far" if position == 0 else None
            ax.step(segment.index, segment.to_numpy(), where="post", color="black", label=label)
            if position:
                ax.axvline(segment.index[0] - 0.5, color="0.8", lw=0.6)
        ax.set_ylabel(f"{name} ({direction[:3]})")
        ax.grid(True, alpha=0.3)
    if workers.nunique() <= 12:
        axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="worker")
    span = f"{len(studies)} studies, one after another" if len(studies) > 1 else "trial"
    axes[-1].set_xlabel(span)
    axes[0].set_title(f"Optimisation history: {len(done)} completed trials", loc="left")
    return figure


def walk_forward_figure(out_of_sample: pd.Series, in_sample: pd.Series) -> Figure:
    """Stitched out-of-sample equity against the best parameters' in-sample equity."""
    start, end = out_of_sample.index[0], out_of_sample.index[-1]
    frame = pd.DataFrame(
        {
            "out of sample (stitched test windows)": out_of_sample,
            "in sample (best parameters over the whole period)": in_sample.loc[start:end],
        }
    ).fillna(0.0)
    return equity_drawdown_figure(frame, "Walk-forward: out of sample against in sample")


def window_scores_figure(windows: pd.DataFrame, objective: str) -> Figure:
    """Each window's in- and out-of-sample score side by side, means dashed: overfitting shows
    as a gap between the two."""
    inside = windows[f"in_sample_{objective}"].astype(float)
    outside = windows[f"out_of_sample_{objective}"].astype(float)
    figure = Figure(figsize=(WIDTH, 4), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(windows))
    for offset, values, color, label in (
        (-0.2, inside, "tab:gray", "in sample"),
        (0.2, outside, "tab:blue", "out of sample"),
    ):
        mean = float(values.mean())
        axes.bar(positions + offset, values.to_numpy(), 0.4, color=color, label=label)
        axes.axhline(mean, color=color, ls="--", lw=1, label=f"{label} mean {mean:.2f}")
    axes.set_xticks(positions, windows["test_start"].astype(str).str[:7], rotation=60)
    axes.set_xlabel("test window start")
    axes.set_ylabel(objective)
    axes.set_title(f"{objective} per walk-forward window", loc="left")
    axes.axhline(0, color="black", lw=0.6)
    axes.legend(fontsize=8, ncols=2)
    axes.grid(True, axis="y", alpha=0.3)
    return figure


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


def _annotated_heatmap(ax: Axes, values: npt.NDArray[np.float64]) -> None:
    """Red-to-green cells with their value printed; the colour scale ignores the 5% extremes."""
    finite = np.abs(values[np.isfinite(values)])
    limit = float(np.percentile(finite, 95)) if finite.size and finite.max() > 0 else 1.0
    ax.imshow(values, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            # Layout ignores the hundreds of cell labels; it is much faster that way.
            color = "white" if abs(value) > 0.8 * limit else "black"
            ax.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=7,
                    color=color, in_layout=False)  # fmt: skip


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
