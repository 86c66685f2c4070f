"""The report's parameter importances: computed beside the page when that pays, and drawn.

See :mod:`._importance_child` for why a second process: a fresh report of an optimisation
would otherwise wait for scikit-learn's import. The child is started before the page's
other sections are built and read when the importances are needed; if it cannot help (one
core, Optuna's importance module already imported, no scikit-learn) or fails, the same
function runs here. It never outlives the report: :meth:`Importances.close` kills it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from .._platform import usable_cores
from . import _importance_child
from .drawing import grid, set_title

if TYPE_CHECKING:
    import optuna

__all__ = ["Importances", "importance_figure"]

logger = logging.getLogger(__name__)

CHILD_TIMEOUT_S = 120.0
"""Longer than any study's importances take; then they are computed here instead."""


class Importances:
    """Optuna's importances of one study, per objective, with Optuna's warnings."""

    def __init__(self, study: optuna.Study, *, in_child: bool | None = None) -> None:
        """``in_child``: compute them in a child process (None: when that pays)."""
        self.study = study
        self._results: list[tuple[dict[str, float], list[str]]] | None = None
        self._child: subprocess.Popen[bytes] | None = None
        if _child_pays() if in_child is None else in_child:
            global _CHILD_STARTED
            _CHILD_STARTED = True
            self._child = _start(_importance_child.study_payload(study))

    def of(self, objective: int, notes: list[str]) -> dict[str, float]:
        """The importances for one objective, most important first; warnings to ``notes``."""
        if self._results is None and self._child is not None:
            self._results = self._from_child(self._child)
            self._child = None  # only once it has been waited for
        if self._results is None:
            found, warned = _importance_child.importances(self.study, objective)
        else:
            found, warned = self._results[objective]
        notes.extend(warned)
        return found

    def close(self) -> None:
        """End the child, running or not (the report failed or was interrupted): it never
        outlives the report, and its pipes are closed."""
        child, self._child = self._child, None
        if child is not None:
            _reap(child)

    @staticmethod
    def _from_child(
        child: subprocess.Popen[bytes],
    ) -> list[tuple[dict[str, float], list[str]]] | None:
        try:
            out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _reap(child)
            logger.debug("importances: the child took too long; computing them here")
            return None
        except BaseException:  # interrupted while waiting: the child goes with the report
            _reap(child)
            raise
        if child.returncode != 0:
            logger.debug("importances: the child failed (%s); computing them here", err[-500:])
            return None
        try:
            return [(dict(found), list(warned)) for found, warned in json.loads(out)]
        except (ValueError, TypeError) as exc:
            logger.debug("importances: unreadable answer from the child (%s)", exc)
            return None


_CHILD_STARTED = False
"""Whether a report of this process has used a child: later ones compute here (the first
paid for the import in the child, a notebook's next reports would wait for one each)."""


def _reap(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    try:
        child.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # a grandchild holds the pipes: close them
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()


def _child_pays() -> bool:
    """A second process helps when there is a second core and the import is slow here."""
    if os.environ.get("PBT_REPORT_IMPORTANCE_CHILD") == "0" or not sys.executable:
        return False
    if _CHILD_STARTED or "optuna.importance" in sys.modules:
        return False
    if usable_cores() < 2:
        return False
    return importlib.util.find_spec("sklearn") is not None


def _start(payload: dict[str, Any]) -> subprocess.Popen[bytes] | None:
    script = Path(_importance_child.__file__)
    try:
        # -P: the script's folder (this package's modules) must not shadow Optuna's imports.
        child = subprocess.Popen(
            [sys.executable, "-P", str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # No console window for the child of a windowless interpreter on Windows.
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except (OSError, ValueError) as exc:
        logger.debug("importances: no child process (%s); computing them here", exc)
        return None
    stdin, child.stdin = child.stdin, None  # written and closed here, not by communicate()
    assert stdin is not None
    try:
        with stdin:
            stdin.write(json.dumps(payload).encode())
    except OSError:  # it died at once: its exit status says so when it is read
        pass
    return child


def importance_figure(importances: dict[str, float], name: str) -> Figure:
    """Horizontal bars of the importances, the most important on top, with their values."""
    names = list(importances)[::-1]
    values = [importances[n] for n in names]
    height = 1.1 + 0.4 * max(len(names), 1)
    figure, (ax,) = grid(height, width=8.0, left=1.8, right=0.3, bottom=0.6)
    bars = ax.barh(names, values, color="#1f77b4")
    ax.bar_label(bars, fmt="%.2f", padding=3)
    ax.set_xlim(0.0, max([*values, 0.0]) * 1.15 or 1.0)
    ax.set_xlabel("importance (sums to 1)")
    ax.grid(True, axis="x", alpha=0.3)
    set_title(ax, f"Parameter importance for {name}")
    return figure
