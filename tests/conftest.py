"""Fixtures shared by every test: small slices of the embedded data and scenario files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import settings

from portfolio_backtester.data.builtin import load_sp500

REPO = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every run (a test that fails by chance is a
# defect); HYPOTHESIS_PROFILE=explore draws new ones, to hunt for cases nobody thought of.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def sp500() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded prices and index (copies: tests may not modify the cached frames)."""
    return load_sp500()


@pytest.fixture
def write_scenario(tmp_path: Path) -> Any:
    """Write a scenario mapping to a YAML file and return its path."""

    def write(document: dict[str, Any], name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    return write
