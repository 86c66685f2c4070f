"""What the command line prints while and after it runs: progress and result summaries."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metrics.monte_carlo import MonteCarloResult

__all__ = ["ProgressPrinter", "monte_carlo_lines"]


def monte_carlo_lines(simulated: MonteCarloResult) -> str:
    """The Monte Carlo's percentiles beside the run's own figures."""
    lines = [
        f"\nMonte Carlo: {simulated.paths} stationary-bootstrap paths of the daily returns "
        f"(mean block {simulated.block_days:.1f} days, seed {simulated.seed})"
    ]
    for name, band in simulated.percentiles.items():
        cells = "  ".join(f"{key} {value:8.3f}" for key, value in band.items())
        lines.append(f"  {name:<13} {cells}  (run {simulated.observed[name]:.3f})")
    lines.append(f"  probability of a loss over the period: {simulated.probability_of_loss:.1%}")
    return "\n".join(lines)


class ProgressPrinter:
    """One updating line on a terminal; a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        self._last = 0.0

    def __call__(self, progress: Any) -> None:
        done, total = progress.done, max(progress.total, 1)
        fraction = min(done / total, 1.0)
        remaining = (progress.elapsed_s / done * (total - done)) if done else math.nan
        best = "—" if progress.best is None else f"{progress.best:.4f}"
        text = (
            f"trials {done}/{total} ({progress.running} running)  best {best}  "
            f"elapsed {_duration(progress.elapsed_s)}  left {_duration(remaining)}"
        )
        if self._tty:
            width = 24
            filled = round(fraction * width)
            bar = "█" * filled + "·" * (width - filled)
            end = "\n" if done >= total else ""
            print(f"\r{bar} {text}", end=end, file=sys.stderr, flush=True)  # noqa: T201
        elif time.monotonic() - self._last >= 5 or done >= total:
            self._last = time.monotonic()
            print(text, file=sys.stderr, flush=True)  # noqa: T201


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
