"""The data fingerprint: it follows the content of every frame and window, not its layout."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from data_cases import WINDOWS, sp500_data

from portfolio_backtester.optimization._fingerprint import data_fingerprint
from portfolio_backtester.optimization.data_context import open_data_context
from portfolio_backtester.optimization.results import OptimizationDataContext


def test_fingerprint_of_the_mapped_data_equals_the_original(
    sp500_context: OptimizationDataContext,
) -> None:
    original = sp500_data()

    assert data_fingerprint(original) == sp500_context.fingerprint
    assert data_fingerprint(open_data_context(sp500_context)) == sp500_context.fingerprint


def test_fingerprint_ignores_memory_layout_but_not_content() -> None:
    data = sp500_data()
    base = data_fingerprint(data)
    c_ordered = data.daily.copy()
    c_ordered = pd.DataFrame(np.ascontiguousarray(c_ordered.to_numpy()), c_ordered.index,
                             c_ordered.columns)  # fmt: skip
    values = data.daily.to_numpy().copy()
    values[100, 3] += 1e-12
    changed_value = pd.DataFrame(values, data.daily.index, data.daily.columns)
    renamed = data.daily.rename(columns={"AAPL": "AAPL2"})
    float32 = data.daily.astype(np.float32).astype(np.float64)

    assert data_fingerprint(dataclasses.replace(data, daily=c_ordered)) == base
    assert data_fingerprint(dataclasses.replace(data, daily=changed_value)) != base
    assert data_fingerprint(dataclasses.replace(data, daily=renamed)) != base
    assert data_fingerprint(dataclasses.replace(data, daily=data.daily.astype("float32"))) != base
    assert data_fingerprint(dataclasses.replace(data, daily=float32)) != base
    assert data_fingerprint(dataclasses.replace(data, windows=WINDOWS[:1])) != base
