"""Helpers of the optimisation tests that run real studies: one run in this process, and
the storage two command-line workers share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from portfolio_backtester.config import load_scenario
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.storage import default_storage_url, open_storage
from services import POSTGRES_URL, require_postgres

SHARED_STORAGES = ["journal", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The storages of :func:`shared_storage`, as fixture parameters."""


def run_study(document: dict[str, Any], data: Any, folder: Path, **kwargs: Any) -> Any:
    """Optimise ``document`` on ``data`` into a journal in ``folder``; the result."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    result, _ = ParallelOptimizationRunner(
        scenario=load_scenario(document),
        data=data,
        storage_url=default_storage_url(folder),
        study_name="s",
        data_dir=folder / "data",
        **kwargs,
    ).run()
    return result


def shared_storage(kind: str, prefix: str) -> Iterator[tuple[str | None, str]]:
    """The storage two workers of the command line share (None: the journal file in the
    run's folder, counted under a file lock; or PostgreSQL, under its advisory lock) and a
    study name of the test's own in it, deleted afterwards."""
    study = f"{prefix}-{uuid.uuid4().hex[:10]}"
    if kind == "journal":
        yield None, study
        return
    require_postgres(POSTGRES_URL)
    yield POSTGRES_URL, study
    storage = open_storage(POSTGRES_URL)
    optuna.delete_study(study_name=study, storage=storage)
    storage.engine.dispose()  # type: ignore[attr-defined]
