"""Figures that tell a plateau from a spike and skill from luck.

The CSCV logit distribution, the score around the chosen parameters, a heatmap over two
parameters, and the parameters each walk-forward window chose. Each is a function of plain
frames and numbers read from a run folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .drawing import WIDTH, dates, grid

__all__ = [
    "logit_figure",
    "neighbourhood_figure",
    "pair_heatmap_figure",
    "params_per_window_figure",
]


def logit_figure(histograms: Sequence[Mapping[str, Any]]) -> Figure:
    """CSCV: how the in-sample best ranks out of sample, as logits (left of 0: overfit).

    Each histogram is ``{"label", "edges", "counts", "pbo"}``; several (walk-forward
    windows) are drawn as outlines on one axis.
    """
    figure, (ax,) = grid(3.6, top=0.1, bottom=0.5)
    for i, histogram in enumerate(histograms):
        edges = np.asarray(histogram["edges"], dtype=float)
        counts = np.asarray(histogram["counts"], dtype=float)
        total = counts.sum() or 1.0
        label = f"{histogram['label']} (PBO {float(histogram['pbo']):.0%})"
        if len(histograms) == 1:
            ax.stairs(counts / total, edges, fill=True, alpha=0.5, color="tab:blue", label=label)
        else:
            ax.stairs(counts / total, edges, alpha=0.7, lw=1.0, label=label if i < 12 else None)
    ax.axvline(0.0, color="tab:red", lw=1.2)
    used = [
        float(e)
        for h in histograms
        for e, c in zip(h["edges"], [*h["counts"], 0], strict=True)
        if c
    ]
    if used:
        ax.set_xlim(min(used) - 0.5, max(used) + 0.75)
    ax.set_xlabel("logit of the out-of-sample rank of the in-sample best (≤ 0: below median)")
    ax.set_ylabel("share of splits")
    ax.legend(fontsize=8, ncols=2 if len(histograms) > 4 else 1)
    ax.grid(True, alpha=0.3)
    return figure


def neighbourhood_figure(
    trials: pd.DataFrame, params: Sequence[str], chosen: Mapping[str, Any], objective: str
) -> Figure:
    """Each trial's score against each parameter, the median per value, the chosen value.

    A chosen value on a broad plateau of good scores holds up; one on a lone spike, with
    poor scores just beside it, is more likely noise.
    """
    shown = list(params)[:4]
    figure, axes = grid(3.2, 1, max(len(shown), 1), top=0.1, bottom=0.5, wgap=0.15, sharey=True)
    for ax, name in zip(axes, shown, strict=False):
        column = f"param_{name}"
        values = pd.to_numeric(trials[column], errors="coerce")
        scores = trials["value_0"].astype(float)
        if values.notna().all():
            ax.scatter(values, scores, s=10, alpha=0.45, color="tab:blue")
            medians = scores.groupby(_bins(values)).median()
            centres = values.groupby(_bins(values)).median()
            ax.plot(centres.to_numpy(), medians.to_numpy(), color="tab:orange", lw=1.8)
            if name in chosen:
                ax.axvline(float(chosen[name]), color="tab:red", lw=1.2, ls="--")
        else:  # categorical: one box per choice
            groups = scores.groupby(trials[column].astype(str))
            ax.boxplot(
                [g.to_numpy() for _, g in groups], tick_labels=[str(k) for k in groups.groups]
            )
        ax.set_xlabel(name)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"{objective} (in-sample)")
    return figure


def pair_heatmap_figure(trials: pd.DataFrame, first: str, second: str, objective: str) -> Figure:
    """Median score over a grid of two parameters (binned when they take many values)."""
    x = pd.to_numeric(trials[f"param_{first}"], errors="coerce")
    y = pd.to_numeric(trials[f"param_{second}"], errors="coerce")
    medians = (
        pd.DataFrame({"x": _bins(x), "y": _bins(y), "v": trials["value_0"].astype(float)})
        .groupby(["y", "x"], observed=True)["v"]
        .median()
        .unstack("x")
    )
    # Room on the right for the colour bar, which takes its space from the axes.
    figure, (ax,) = grid(4.2, width=WIDTH * 0.6, left=0.6, right=0.8, top=0.1, bottom=0.5)
    image = ax.imshow(medians.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(medians.columns)), [_label(c) for c in medians.columns], fontsize=7)
    ax.set_yticks(range(len(medians.index)), [_label(c) for c in medians.index], fontsize=7)
    ax.set_xlabel(first)
    ax.set_ylabel(second)
    figure.colorbar(image, ax=ax, label=f"median {objective} (in-sample)")
    return figure


def params_per_window_figure(windows: pd.DataFrame) -> Figure:
    """The parameters each walk-forward window chose: steady choices are a good sign."""
    params = [c for c in windows.columns if c.startswith("param_")]
    figure, axes = grid(1.2 + 1.6 * len(params), len(params), top=0.1, bottom=0.5, sharex=True)
    starts = dates(pd.DatetimeIndex(pd.to_datetime(windows["test_start"])))
    for ax, column in zip(axes, params, strict=True):
        values = pd.to_numeric(windows[column], errors="coerce")
        if values.notna().all():
            ax.step(starts, values, where="post", color="tab:blue")
            ax.plot(starts, values, "o", color="tab:blue", ms=4)
        else:
            ax.plot(starts, windows[column].astype(str), "o", color="tab:blue", ms=4)
        ax.set_ylabel(column.removeprefix("param_"))
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("first day of the window's test period")
    return figure


def _bins(values: pd.Series) -> pd.Series:
    """The values themselves when there are few, else eight quantile bins."""
    if values.nunique() <= 12:
        return values
    return pd.qcut(values, 8, duplicates="drop").map(lambda b: b.mid).astype(float)


def _label(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
