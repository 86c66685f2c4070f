"""A strategy for fault-injection tests, loaded by import path ("fault_strategy:FaultStrategy").

It behaves like equal weight, and on request sleeps, raises, returns NaN weights, kills its
own interpreter or writes into the shared data. With ``PBT_TEST_PID_DIR`` set, every call
leaves a file named after the process ID holding its resident memory, so a test can find and
signal the workers and watch their memory.

Two more switches make parallel tests deterministic instead of timed:
``PBT_TEST_BARRIER=N`` holds every call until N processes have left a pid file, so N workers
certainly run trials at once (in ``PBT_TEST_BARRIER_DIR`` when set, which several hosts
share, so that one host's workers certainly wait for another's);
``PBT_TEST_HANG_FILE=path`` makes the first process to call claim ``path`` (holding its
pid) and then sleep inside its trial, a worker certainly mid-trial for a test to kill.

``ask_blocking_sampler`` (a ``sampler_factory`` for the runner) does the same inside
Optuna's ``study.ask()``, with ``PBT_TEST_ASK_HANG_FILE``: the first worker to ask for a trial
claims the file and sleeps in ``before_trial``, holding the budget lock, its trial created
but not yet tagged.
"""

from __future__ import annotations

import faulthandler
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from portfolio_backtester.config import OptimizeConfig
from portfolio_backtester.optimization.results import OptimizationData
from portfolio_backtester.strategies import BaseStrategy, Parameter

MODES = ("ok", "sleep", "raise", "nan", "crash", "write", "raise_high_x", "crash_high_x")


class FaultStrategy(BaseStrategy):
    name = "fault_strategy"
    description = "equal weight with injectable faults (tests only)"
    parameters = (
        Parameter("mode", "categorical", "ok", "what to do", choices=MODES),
        Parameter("sleep_s", "float", 0.0, "seconds to sleep per call", low=0.0, high=60.0),
        Parameter("x", "float", 0.5, "a dummy searched value", low=0.0, high=1.0),
    )

    def generate_weights(self, data: OptimizationData, params: Mapping[str, Any]) -> pd.DataFrame:
        pid_dir = os.environ.get("PBT_TEST_PID_DIR")
        if pid_dir:
            # The file holds the process's private resident memory (kB, RssAnon: mapped
            # data files excluded) at its latest call.
            Path(pid_dir, str(os.getpid())).write_text(str(_rss_kb()), encoding="utf-8")
        barrier_dir = os.environ.get("PBT_TEST_BARRIER_DIR") or pid_dir
        if barrier_dir:
            if barrier_dir != pid_dir:
                Path(barrier_dir, str(os.getpid())).touch()
            _wait_for_barrier(Path(barrier_dir))
        _hang_if_first()
        mode = params["mode"]
        if params["sleep_s"]:
            time.sleep(params["sleep_s"])
        if mode == "raise" or (mode == "raise_high_x" and params["x"] > 0.5):
            raise ValueError(f"injected failure at x={params['x']:.3f}")
        if mode == "crash" or (mode == "crash_high_x" and params["x"] > 0.5):
            faulthandler.disable()
            faulthandler._sigsegv()
        if mode == "write":
            data.daily.iloc[0, 0] = -1.0
        prices = data.daily
        valid = prices.notna().to_numpy()
        counts = valid.sum(axis=1, keepdims=True)
        weights = np.where(valid, 1.0 / np.maximum(counts, 1), 0.0)
        if mode == "nan":
            weights = weights * np.nan
        return pd.DataFrame(
            weights * (0.5 + params["x"]) / 1.5, index=prices.index, columns=prices.columns
        )


def _wait_for_barrier(pid_dir: Path, timeout_s: float = 60.0) -> None:
    wanted = int(os.environ.get("PBT_TEST_BARRIER", "0"))
    deadline = time.monotonic() + timeout_s
    while len(os.listdir(pid_dir)) < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {wanted} processes called within {timeout_s} s")
        time.sleep(0.02)


class AskBlockingSampler(optuna.samplers.RandomSampler):
    """Random sampling; the first process to ask (see PBT_TEST_ASK_HANG_FILE) hangs inside
    ``study.ask()``."""

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        _hang_if_first("PBT_TEST_ASK_HANG_FILE")
        super().before_trial(study, trial)


def ask_blocking_sampler(
    config: OptimizeConfig, seed: int | None, *, parallel: bool = False
) -> optuna.samplers.BaseSampler:
    return AskBlockingSampler(seed=seed)


def _hang_if_first(variable: str = "PBT_TEST_HANG_FILE", sleep_s: float = 120.0) -> None:
    target = os.environ.get(variable)
    if not target or os.path.exists(target):
        return
    # Written aside, then linked into place: the claim is atomic and never seen half written.
    claim = f"{target}.{os.getpid()}"
    Path(claim).write_text(str(os.getpid()), encoding="utf-8")
    try:
        os.link(claim, target)
    except FileExistsError:
        return  # another process was first
    finally:
        os.unlink(claim)
    time.sleep(sleep_s)


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0
