"""Progress of an optimisation, read from its studies for a display while trials run."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from .plan import StudyPlan, spent_trials

__all__ = ["Progress", "ProgressReporter"]


@dataclass(frozen=True, slots=True)
class Progress:
    """One look at the studies for a progress display."""

    done: int
    running: int
    total: int
    best: float | None
    elapsed_s: float


class ProgressReporter:
    """Counts the studies' trials and hands a :class:`Progress` to a callback."""

    def __init__(
        self,
        callback: Callable[[Progress], None] | None,
        storage: optuna.storages.BaseStorage,
        plans: Sequence[StudyPlan],
        started: float,
        interval_s: float,
    ) -> None:
        self.callback = callback
        self.storage = storage
        self.plans = tuple(plans)
        self.started = started
        self.interval_s = interval_s

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[None]:
        """Report from a thread while trials run in this one."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.interval_s):
                self.report()

        thread = threading.Thread(target=loop, name="progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.report()

    def report(self) -> None:
        if self.callback is None:
            return
        done = running = 0
        best: float | None = None
        for plan in self.plans:
            study = optuna.load_study(study_name=plan.name, storage=self.storage)
            trials = study.get_trials(deepcopy=False)
            # Evaluations, as the budget counts them: a repeat of a parameter set is free.
            done += spent_trials(t for t in trials if t.state.is_finished())
            running += sum(t.state == TrialState.RUNNING for t in trials)
            if len(self.plans) == 1 and len(study.directions) == 1:
                complete = [t for t in trials if t.state == TrialState.COMPLETE]
                if complete:
                    values = [t.value for t in complete if t.value is not None]
                    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
                    best = max(values) if maximize else min(values)
        total = sum(plan.budget for plan in self.plans)
        elapsed_s = time.monotonic() - self.started
        self.callback(Progress(done, running, total, best, elapsed_s))
