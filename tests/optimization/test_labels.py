"""Labels of the shared frames: dates with units, zones and frequencies, text, ranges,
numbers and MultiIndexes round trip exactly; what cannot be rebuilt is refused."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import pytz
from data_cases import (
    CreatesFileWhenUnpickled,
    assert_same_data,
    data_with,
    dated,
    edit_metadata,
    restat,
    set_in,
)

from portfolio_backtester.errors import DataError
from portfolio_backtester.optimization._fingerprint import data_fingerprint
from portfolio_backtester.optimization.data_context import open_data_context, write_data_context
from portfolio_backtester.optimization.results import OptimizationDataContext

LABEL_AND_DTYPE_CASES: dict[str, pd.DataFrame] = {
    "int32 values": pd.DataFrame(np.arange(12, dtype=np.int32).reshape(4, 3), index=dated(4)),
    "bool values": pd.DataFrame([[True, False], [False, True]], index=dated(2)),
    "uint8 values": pd.DataFrame(np.arange(6, dtype=np.uint8).reshape(3, 2)),
    "float32 values": pd.DataFrame(np.linspace(0, 1, 6, dtype=np.float32).reshape(3, 2)),
    "nan and inf": pd.DataFrame([[np.nan, np.inf], [-np.inf, -0.0]], columns=["a", "b"]),
    "tz New York": pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=dated(3, tz="America/New_York")),
    "tz pytz Paris": pd.DataFrame(
        {"x": [1.0, 2.0]}, index=dated(2, tz=pytz.timezone("Europe/Paris"))
    ),
    "tz UTC": pd.DataFrame({"x": [1.0, 2.0]}, index=dated(2, tz=datetime.UTC)),
    "tz fixed offset": pd.DataFrame(
        {"x": [1.0, 2.0]}, index=dated(2, tz=datetime.timezone(datetime.timedelta(hours=-3)))
    ),
    "nanosecond unit": pd.DataFrame({"x": [1.0, 2.0]}, index=dated(2, unit="ns")),
    "second unit": pd.DataFrame({"x": [1.0, 2.0]}, index=dated(2, unit="s")),
    "business-day freq": pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=dated(3, freq="B")),
    "intraday freq with tz": pd.DataFrame(
        {"x": [1.0, 2.0, 3.0]}, index=dated(3, freq="15min", tz="Asia/Tokyo")
    ),
    "timedelta index": pd.DataFrame({"x": [1.0, 2.0]}, index=pd.to_timedelta([1, 5], unit="h")),
    "float index": pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index([0.5, np.nan], name=3)),
    "range index with step": pd.DataFrame({"x": [1.0, 2.0]}, index=pd.RangeIndex(10, 2, -4)),
    "multiindex columns": pd.DataFrame(
        np.ones((2, 3)),
        index=dated(2),
        columns=pd.MultiIndex.from_tuples(
            [("close", "AAPL"), ("close", "MSFT"), ("volume", "AAPL")], names=["field", "ticker"]
        ),
    ),
    "multiindex rows with dates": pd.DataFrame(
        np.arange(4.0).reshape(4, 1),
        index=pd.MultiIndex.from_product([dated(2, tz="UTC"), ["a", "b"]], names=["d", None]),
    ),
    "object text columns": pd.DataFrame(
        np.ones((1, 3)), columns=pd.Index(["a", None, "a"], dtype=object, name="t")
    ),
    "python-storage strings": pd.DataFrame(
        np.ones((1, 2)), columns=pd.Index(["x", "y"], dtype=pd.StringDtype("python"))
    ),
    "NA-valued strings": pd.DataFrame(
        np.ones((1, 2)), columns=pd.Index(["x", None], dtype=pd.StringDtype(na_value=pd.NA))
    ),
    "int column labels": pd.DataFrame(np.ones((1, 2)), columns=pd.Index([7, 3], dtype=np.int16)),
}


@pytest.mark.parametrize("case", LABEL_AND_DTYPE_CASES)
def test_labels_and_dtypes_round_trip(tmp_path: Path, case: str) -> None:
    data = data_with(LABEL_AND_DTYPE_CASES[case])

    opened = open_data_context(write_data_context(data, tmp_path))

    assert_same_data(opened, data)
    assert opened.daily.index.dtype == data.daily.index.dtype
    assert data_fingerprint(opened) == data_fingerprint(data)


REFUSED_LABELS: dict[str, pd.DataFrame] = {
    "mixed object labels": pd.DataFrame(np.ones((1, 2)), columns=pd.Index(["a", 1], dtype=object)),
    "dateutil zone": pd.DataFrame({"x": [1.0]}, index=dated(1, tz="dateutil/Asia/Tokyo")),
    "tuple name": pd.DataFrame({"x": [1.0]}, index=pd.Index([1], name=("a", "b"))),
    "categorical labels": pd.DataFrame({"x": [1.0]}, index=pd.CategoricalIndex(["a"])),
    "period labels": pd.DataFrame({"x": [1.0]}, index=pd.period_range("2020", periods=1)),
}


@pytest.mark.parametrize("case", REFUSED_LABELS)
def test_unsaveable_labels_are_refused_before_writing(tmp_path: Path, case: str) -> None:
    with pytest.raises(DataError, match="'daily'"):
        write_data_context(data_with(REFUSED_LABELS[case]), tmp_path)
    assert list(tmp_path.iterdir()) == []


LABEL_METADATA_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown label kind": set_in(("frames", "daily", "index", "kind"), "pickle"),
    "path traversal": set_in(("frames", "daily", "index", "file"), "../../../etc/passwd"),
    "absolute path": set_in(("frames", "daily", "index", "file"), "/etc/passwd"),
    "label file as a list": set_in(("frames", "daily", "index", "file"), ["daily.npy"]),
    "unknown zone": set_in(("frames", "daily", "index", "tz"), "Not/AZone"),
    "zone as number": set_in(("frames", "daily", "index", "tz"), 5),
    "unknown unit": set_in(("frames", "daily", "index", "unit"), "fortnight"),
    "unknown freq": set_in(("frames", "daily", "index", "freq"), "nonsense"),
    "freq the dates do not follow": set_in(("frames", "monthly", "index", "freq"), "D"),
    "wrong length": set_in(("frames", "daily", "index", "length"), 5),
    "length as bool": set_in(("frames", "daily", "index", "length"), True),
    "non-text labels": set_in(("frames", "daily", "columns", "values"), [{"a": 1}] * 20),
    "too few labels": set_in(("frames", "daily", "columns", "values"), ["a"]),
    "list as name": set_in(("frames", "daily", "columns", "name"), ["x"]),
    "unknown storage": set_in(("frames", "daily", "columns", "storage"), "gpu"),
    "zero range step": set_in(
        ("frames", "daily", "index"), {"kind": "range", "start": 0, "stop": 8313, "step": 0}
    ),
    "broken multiindex": set_in(
        ("frames", "daily", "columns"), {"kind": "multi", "names": [], "levels": [], "codes": []}
    ),
}


@pytest.mark.parametrize("case", LABEL_METADATA_EDITS)
def test_crafted_label_metadata_is_refused_with_a_data_error(
    sp500_context: OptimizationDataContext, case: str
) -> None:
    edited = edit_metadata(sp500_context, LABEL_METADATA_EDITS[case])

    with pytest.raises(DataError, match=r"metadata\.json"):
        open_data_context(edited)


def test_object_array_planted_as_label_file_is_refused_without_running_it(
    sp500_context: OptimizationDataContext, tmp_path: Path
) -> None:
    target = tmp_path / "pwned"
    evil = np.array([CreatesFileWhenUnpickled(target)] * 8313, dtype=object)
    np.save(Path(sp500_context.directory) / "daily.index.npy", evil, allow_pickle=True)

    with pytest.raises(DataError, match=r"daily\.index\.npy"):
        open_data_context(restat(sp500_context))
    assert not target.exists()
