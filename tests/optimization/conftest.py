"""Fixtures for the shared-data tests: the embedded S&P 500 data written to a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_cases import sp500_data

from portfolio_backtester.optimization.data_context import write_data_context
from portfolio_backtester.optimization.results import OptimizationDataContext


@pytest.fixture
def sp500_context(tmp_path: Path) -> OptimizationDataContext:
    return write_data_context(sp500_data(), tmp_path)
