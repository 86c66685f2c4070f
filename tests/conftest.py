"""Fixtures shared by every test: small slices of the embedded data and scenario files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from portfolio_backtester.data.builtin import load_sp500

REPO = Path(__file__).resolve().parents[1]


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
