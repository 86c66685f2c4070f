"""Validate and describe each frame (dtype, shape, labels) before it is written or hashed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from portfolio_backtester.errors import DataError
from portfolio_backtester.optimization._labels import encode_labels
from portfolio_backtester.optimization._metadata import VALUE_KINDS
from portfolio_backtester.optimization.results import OptimizationData

__all__ = ["FramePlan", "fortran_values", "plan_frames"]


@dataclass(slots=True)
class FramePlan:
    """One frame, its value dtype, its JSON description and the label arrays saved beside it."""

    name: str
    frame: pd.DataFrame
    dtype: np.dtype[Any]
    spec: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]] = field(default_factory=dict)


def plan_frames(data: OptimizationData) -> list[FramePlan]:
    """A plan for each frame of ``data``, or a DataError naming what cannot be shared."""
    plan = []
    for name, frame in data.frames().items():
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"frame {name!r} is a {type(frame).__name__}, expected a DataFrame")
        dtype = _frame_dtype(name, frame)
        arrays: dict[str, npt.NDArray[Any]] = {}
        spec = {
            "kind": "DataFrame",
            "file": f"{name}.npy",
            "dtype": dtype.name,
            "shape": list(frame.shape),
            "order": "F",
            "index": encode_labels(frame.index, f"{name}.index", f"index of {name!r}", arrays),
            "columns": encode_labels(
                frame.columns, f"{name}.columns", f"columns of {name!r}", arrays
            ),
        }
        plan.append(FramePlan(name, frame, dtype, spec, arrays))
    return plan


def fortran_values(item: FramePlan) -> npt.NDArray[Any]:
    """The frame's values as one (rows, columns) Fortran-ordered array."""
    # For the usual single-block frame both calls return views: no copy of the data.
    return np.asfortranarray(item.frame.to_numpy(dtype=item.dtype, copy=False))


def _frame_dtype(name: str, frame: pd.DataFrame) -> np.dtype[Any]:
    """The one numeric dtype of ``frame``, or a DataError naming the column that breaks it."""
    dtypes = frame.dtypes.tolist()
    if not dtypes:
        return np.dtype(np.float64)
    unique = set(dtypes)
    if len(unique) == 1:
        (only,) = unique
        if isinstance(only, np.dtype) and only.kind in VALUE_KINDS:
            return only
    for column, dtype in zip(frame.columns, dtypes, strict=True):
        if not isinstance(dtype, np.dtype) or dtype.kind not in VALUE_KINDS:
            raise DataError(
                f"frame {name!r} column {column!r} has dtype {dtype}, which cannot be shared "
                "with workers: only float, int and bool columns can be memory-mapped; "
                "convert it (e.g. frame.astype('float64')) or drop the column"
            )
    # All numeric but not all alike: name the first column that differs from the first one.
    column, dtype = next(
        (c, d) for c, d in zip(frame.columns, dtypes, strict=True) if d != dtypes[0]
    )
    raise DataError(
        f"frame {name!r} mixes dtypes: column {column!r} is {dtype} but column "
        f"{frame.columns[0]!r} is {dtypes[0]}; a shared frame needs one dtype: convert it "
        "with frame.astype('float64')"
    )
