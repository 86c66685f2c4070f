"""The memory-mapped pull model: exact round trips, zero copy, read-only, refusals, cleanup."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import pytest
import pytz  # type: ignore[import-untyped]  # no types-pytz in the dev dependencies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.errors import DataError
from portfolio_backtester.optimization.data_context import (
    DIRECTORY_PREFIX,
    data_fingerprint,
    open_data_context,
    remove_data_context,
    remove_orphaned_data_dirs,
    required_bytes,
    write_data_context,
)
from portfolio_backtester.optimization.results import (
    OptimizationData,
    OptimizationDataContext,
    WalkForwardWindow,
)

WINDOWS = (
    WalkForwardWindow(
        train_start=pd.Timestamp("2000-01-03"),
        train_end=pd.Timestamp("2004-12-31"),
        test_start=pd.Timestamp("2005-01-03"),
        test_end=pd.Timestamp("2005-12-30"),
    ),
    WalkForwardWindow(
        train_start=pd.Timestamp("2001-01-02"),
        train_end=pd.Timestamp("2005-12-30"),
        test_start=pd.Timestamp("2006-01-03"),
        test_end=pd.Timestamp("2006-12-29"),
    ),
)


def sp500_data() -> OptimizationData:
    prices, index = load_sp500()
    return OptimizationData(
        daily=prices,
        monthly=prices.resample("ME").last(),
        returns=prices.pct_change(fill_method=None),
        benchmark=index,
        windows=WINDOWS,
    )


def data_with(
    frame: pd.DataFrame,
    *,
    returns: pd.DataFrame | None = None,
    benchmark: pd.DataFrame | None = None,
    open: pd.DataFrame | None = None,
) -> OptimizationData:
    """``frame`` as the daily prices, the other frames small unless given."""
    small = pd.DataFrame({"SPX": [1.0, 2.0]}, index=pd.date_range("2020-01-01", periods=2))
    return OptimizationData(
        daily=frame,
        monthly=small,
        returns=small if returns is None else returns,
        benchmark=small if benchmark is None else benchmark,
        open=open,
    )


def assert_same_data(actual: OptimizationData, expected: OptimizationData) -> None:
    assert actual.frames().keys() == expected.frames().keys()
    for name, frame in expected.frames().items():
        pd.testing.assert_frame_equal(
            actual.frames()[name],
            frame,
            check_exact=True,
            check_index_type=True,
            check_column_type=True,
            check_freq=True,
            obj=name,
        )
    assert actual.windows == expected.windows


def mapped_file(array: np.ndarray[Any, Any]) -> np.memmap[Any, Any]:
    """The np.memmap an array is a view of, found through its chain of bases."""
    base: object = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return base
        base = base.base
    raise AssertionError(f"{type(array)} is not a view of a memory-mapped file")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def restat(context: OptimizationDataContext) -> OptimizationDataContext:
    """The context as if the parent had written the files as they are now: an attacker who
    also controls the recorded sizes and mtimes, the worst case for the metadata parser."""
    directory = Path(context.directory)
    stats = {}
    for name in context.file_stats:
        status = (directory / name).stat()
        stats[name] = (status.st_size, status.st_mtime_ns)
    return dataclasses.replace(context, file_stats=stats)


@pytest.fixture
def sp500_context(tmp_path: Path) -> OptimizationDataContext:
    return write_data_context(sp500_data(), tmp_path, settings={"seed": 7})


# --- round trips -----------------------------------------------------------------------


def test_sp500_data_round_trips_exactly(sp500_context: OptimizationDataContext) -> None:
    opened = open_data_context(sp500_context)

    assert_same_data(opened, sp500_data())
    assert opened.open is None
    assert isinstance(opened.monthly.index, pd.DatetimeIndex)
    assert opened.monthly.index.freqstr == "ME"
    assert isinstance(opened.daily.index, pd.DatetimeIndex)
    assert opened.daily.index.unit == "us"
    assert sp500_context.settings == {"seed": 7}


def test_checksum_verification_accepts_untouched_files(
    sp500_context: OptimizationDataContext,
) -> None:
    assert_same_data(open_data_context(sp500_context, verify="checksum"), sp500_data())


def test_fingerprint_of_the_mapped_data_equals_the_original(
    sp500_context: OptimizationDataContext,
) -> None:
    original = sp500_data()

    assert data_fingerprint(original) == sp500_context.fingerprint
    assert data_fingerprint(open_data_context(sp500_context)) == sp500_context.fingerprint


def dated(periods: int, **kwargs: Any) -> pd.DatetimeIndex:
    return pd.date_range("2021-03-01", periods=periods, name="date", **kwargs)


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


EMPTY_FRAMES: dict[str, pd.DataFrame] = {
    "no rows": pd.DataFrame(
        np.empty((0, 2)), index=pd.DatetimeIndex([], name="date"), columns=["a", "b"]
    ),
    "no rows int": pd.DataFrame(np.empty((0, 2), dtype=np.int64), columns=["a", "b"]),
    "no columns": pd.DataFrame(index=dated(3)),
    "nothing": pd.DataFrame(),
}


@pytest.mark.parametrize("case", EMPTY_FRAMES)
def test_empty_frames_round_trip_as_empty_frames(tmp_path: Path, case: str) -> None:
    frame = EMPTY_FRAMES[case]
    data = data_with(frame, benchmark=frame, open=frame)

    opened = open_data_context(write_data_context(data, tmp_path))

    assert_same_data(opened, data)
    assert opened.open is not None and opened.open.shape == frame.shape


def test_windows_come_from_the_context(sp500_context: OptimizationDataContext) -> None:
    assert sp500_context.windows == WINDOWS
    assert open_data_context(sp500_context).windows == WINDOWS


TIME_UNITS: tuple[Literal["s", "ms", "us", "ns"], ...] = ("s", "ms", "us", "ns")


@st.composite
def random_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 12))
    columns = draw(st.integers(0, 4))
    dtype = draw(st.sampled_from(["float64", "float32", "int64", "int16", "uint8", "bool"]))
    values = draw(hnp.arrays(dtype, (rows, columns)))
    index_kind = draw(st.sampled_from(["range", "dates", "ints", "text"]))
    index: pd.Index
    if index_kind == "dates":
        days = draw(st.lists(st.integers(-30_000, 30_000), min_size=rows, max_size=rows))
        unit = draw(st.sampled_from(TIME_UNITS))
        tz = draw(st.sampled_from([None, "UTC", "America/New_York", "Asia/Kolkata"]))
        start = pd.Timestamp("2000-01-01", tz=tz)
        index = pd.DatetimeIndex([start + pd.Timedelta(days=d) for d in days]).as_unit(unit)
    elif index_kind == "ints":
        index = pd.Index(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=rows, max_size=rows))
        )
    elif index_kind == "text":
        index = pd.Index(draw(st.lists(st.text(max_size=4), min_size=rows, max_size=rows)))
    else:
        index = pd.RangeIndex(rows)
    index.name = draw(st.sampled_from([None, "date", 0]))
    labels = draw(st.lists(st.text(max_size=4), min_size=columns, max_size=columns))
    column_index: pd.Index = pd.Index(labels, name="ticker")
    if draw(st.booleans()):
        fields = draw(st.lists(st.integers(0, 3), min_size=columns, max_size=columns))
        column_index = pd.MultiIndex.from_arrays([labels, fields], names=["ticker", "field"])
    return pd.DataFrame(values, index=index, columns=column_index)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(daily=random_frames(), returns=random_frames())
def test_memmap_round_trip_keeps_values_labels_and_dtypes(
    tmp_path: Path, daily: pd.DataFrame, returns: pd.DataFrame
) -> None:
    data = data_with(daily, returns=returns)
    context = write_data_context(data, tmp_path)
    try:
        opened = open_data_context(context)
        assert_same_data(opened, data)
        assert data_fingerprint(opened) == context.fingerprint == data_fingerprint(data)
    finally:
        remove_data_context(context)


# --- zero copy and read-only -----------------------------------------------------------


def test_frames_are_zero_copy_views_of_the_files(sp500_context: OptimizationDataContext) -> None:
    opened = open_data_context(sp500_context)

    for name, frame in opened.frames().items():
        values = frame.to_numpy()
        mapped = mapped_file(values)
        assert Path(str(mapped.filename)) == Path(sp500_context.array_paths[name])
        assert np.shares_memory(values, mapped)
        assert np.shares_memory(frame.iloc[:, 0].to_numpy(), mapped)


def test_values_are_one_fortran_ordered_array_per_frame(
    sp500_context: OptimizationDataContext,
) -> None:
    for name, path in sp500_context.array_paths.items():
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        assert array.ndim == 2 and array.flags.f_contiguous, name
        assert array.dtype == np.float64


def test_writing_to_shared_data_raises_and_leaves_the_file_unchanged(
    sp500_context: OptimizationDataContext,
) -> None:
    path = sp500_context.array_paths["daily"]
    before = file_sha256(path)
    daily = open_data_context(sp500_context).daily

    with pytest.raises(ValueError, match="read-only"):
        daily.iloc[0, 0] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        daily.to_numpy()[5, 3] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        daily["AAPL"].to_numpy()[0] = -1.0

    assert file_sha256(path) == before
    reopened = open_data_context(sp500_context).daily.to_numpy()
    assert reopened[0, 0] == load_sp500()[0].to_numpy()[0, 0]


def check_in_spawned_worker(context: OptimizationDataContext) -> None:
    """Runs in a fresh interpreter that was given only the context."""
    data = open_data_context(context)
    assert data_fingerprint(data) == context.fingerprint  # the values and labels are right
    assert data.windows == WINDOWS
    values = data.daily.to_numpy()
    assert np.shares_memory(values, mapped_file(values))
    assert not values.flags.writeable


def test_a_spawned_worker_maps_the_data_from_the_context_alone(
    sp500_context: OptimizationDataContext,
) -> None:
    worker = multiprocessing.get_context("spawn").Process(
        target=check_in_spawned_worker, args=(sp500_context,)
    )
    worker.start()
    worker.join(timeout=120)

    assert worker.exitcode == 0


# --- the context stays small -----------------------------------------------------------


def test_context_pickle_size_does_not_grow_with_the_data(tmp_path: Path) -> None:
    def pickled_size(rows: int) -> int:
        frame = pd.DataFrame(
            np.random.default_rng(0).standard_normal((rows, 50)),
            index=pd.date_range("1900-01-01", periods=rows, freq="h", name="date"),
            columns=[f"T{i:03d}" for i in range(50)],
        )
        data = OptimizationData(
            daily=frame, monthly=frame.iloc[::20], returns=frame, benchmark=frame[["T000"]],
            windows=WINDOWS,
        )  # fmt: skip
        return len(pickle.dumps(write_data_context(data, tmp_path)))

    small, large = pickled_size(100), pickled_size(100_000)

    assert abs(large - small) < 0.1 * small
    assert large < 8 * 1024


# --- what cannot be mapped is refused --------------------------------------------------


REFUSED_COLUMNS: dict[str, tuple[pd.DataFrame, str]] = {
    "object": (pd.DataFrame({"a": [1.0], "bad": pd.Series([object()], dtype=object)}), "'bad'"),
    "text": (pd.DataFrame({"a": [1.0], "name": ["x"]}), "'name'"),
    "mixed numeric": (pd.DataFrame({"a": [1.0], "n": [1]}), "'n'"),
    "dates as values": (pd.DataFrame({"when": pd.to_datetime(["2020-01-01"])}), "'when'"),
    "nullable float": (pd.DataFrame({"f": pd.array([1.0], dtype="Float64")}), "'f'"),
    "categorical": (pd.DataFrame({"c": pd.Categorical(["x"])}), "'c'"),
}


@pytest.mark.parametrize("case", REFUSED_COLUMNS)
def test_unmappable_columns_are_refused_naming_frame_and_column(tmp_path: Path, case: str) -> None:
    frame, column = REFUSED_COLUMNS[case]

    with pytest.raises(DataError, match=rf"frame 'returns'.*column {column}"):
        write_data_context(data_with(frame.iloc[:, :0], returns=frame), tmp_path)
    with pytest.raises(DataError, match=column):
        data_fingerprint(data_with(frame))
    assert list(tmp_path.iterdir()) == []


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


# --- tampering and crafted files -------------------------------------------------------


def test_modified_data_file_is_refused(sp500_context: OptimizationDataContext) -> None:
    path = Path(sp500_context.array_paths["returns"])
    status = path.stat()
    content = bytearray(path.read_bytes())
    content[-8:] = np.float64(123.0).tobytes()
    path.write_bytes(bytes(content))

    with pytest.raises(DataError, match="modified after the parent wrote it"):
        open_data_context(sp500_context)
    # Same size and restored mtime fool the cheap check, not the checksum.
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    open_data_context(sp500_context, verify="stat")
    with pytest.raises(DataError, match="does not match its fingerprint"):
        open_data_context(sp500_context, verify="checksum")


def test_truncated_data_file_is_refused(sp500_context: OptimizationDataContext) -> None:
    path = Path(sp500_context.array_paths["daily"])
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)

    for verify in ("stat", "checksum"):
        with pytest.raises(DataError, match="truncated"):
            open_data_context(sp500_context, verify=verify)
    with pytest.raises(DataError, match="cannot map"):
        open_data_context(restat(sp500_context))


def test_missing_data_file_is_refused(sp500_context: OptimizationDataContext) -> None:
    Path(sp500_context.array_paths["monthly"]).unlink()

    with pytest.raises(DataError, match=r"monthly\.npy"):
        open_data_context(sp500_context)


def test_other_format_version_is_refused(sp500_context: OptimizationDataContext) -> None:
    with pytest.raises(DataError, match="format version 2"):
        open_data_context(dataclasses.replace(sp500_context, format_version=2))


def test_unknown_verify_mode_is_a_programming_error(
    sp500_context: OptimizationDataContext,
) -> None:
    with pytest.raises(ValueError, match="verify"):
        open_data_context(sp500_context, verify="none")  # type: ignore[arg-type]


def set_in(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def edit(metadata: dict[str, Any]) -> None:
        target = metadata
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def delete_daily(metadata: dict[str, Any]) -> None:
    del metadata["frames"]["daily"]


METADATA_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "version as text": set_in(("format_version",), "1"),
    "frames as a list": set_in(("frames",), []),
    "frame missing": delete_daily,
    "frame as a number": set_in(("frames", "daily"), 3),
    "shape as text": set_in(("frames", "daily", "shape"), "8313x20"),
    "wrong shape": set_in(("frames", "daily", "shape"), [8313, 19]),
    "negative shape": set_in(("frames", "daily", "shape"), [-1, 20]),
    "object dtype": set_in(("frames", "daily", "dtype"), "object"),
    "unknown dtype": set_in(("frames", "daily", "dtype"), "float-ish"),
    "C order": set_in(("frames", "daily", "order"), "C"),
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
    "values file of another frame": set_in(("frames", "daily", "file"), "returns.npy"),
}


@pytest.mark.parametrize("case", METADATA_EDITS)
def test_crafted_metadata_is_refused_with_a_data_error(
    sp500_context: OptimizationDataContext, case: str
) -> None:
    path = Path(sp500_context.metadata_path)
    metadata = json.loads(path.read_text())
    METADATA_EDITS[case](metadata)
    path.write_text(json.dumps(metadata))

    with pytest.raises(DataError, match=r"metadata\.json"):
        open_data_context(restat(sp500_context))


@pytest.mark.parametrize(
    "content",
    [b"", b"\x80\x04garbage\xff", b"[" * 100_000, b"null", b"[]", b'{"format_version": 1}'],
    ids=["empty", "binary", "deeply nested", "null", "list", "incomplete"],
)
def test_malformed_metadata_file_is_refused(
    sp500_context: OptimizationDataContext, content: bytes
) -> None:
    Path(sp500_context.metadata_path).write_bytes(content)

    with pytest.raises(DataError, match=r"metadata\.json"):
        open_data_context(restat(sp500_context))


class CreatesFileWhenUnpickled:
    """A pickle payload that would create ``target`` if anything unpickled it."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Callable[..., object], tuple[Path]]:
        return (Path.touch, (self.target,))


def test_pickle_planted_as_metadata_is_refused_without_running_it(
    sp500_context: OptimizationDataContext, tmp_path: Path
) -> None:
    target = tmp_path / "pwned"
    payload = pickle.dumps(CreatesFileWhenUnpickled(target), protocol=0)
    pickle.loads(payload)  # noqa: S301 -- proves the payload works: unpickling creates the file
    assert target.exists()
    target.unlink()
    Path(sp500_context.metadata_path).write_bytes(payload)

    with pytest.raises(DataError, match="not a valid data metadata file"):
        open_data_context(restat(sp500_context))
    assert not target.exists()


def test_object_array_planted_as_label_file_is_refused_without_running_it(
    sp500_context: OptimizationDataContext, tmp_path: Path
) -> None:
    target = tmp_path / "pwned"
    evil = np.array([CreatesFileWhenUnpickled(target)] * 8313, dtype=object)
    np.save(Path(sp500_context.directory) / "daily.index.npy", evil, allow_pickle=True)

    with pytest.raises(DataError, match=r"daily\.index\.npy"):
        open_data_context(restat(sp500_context))
    assert not target.exists()


@pytest.mark.parametrize(
    "replacement",
    [
        np.ones((8313, 20), order="C"),
        np.ones((8313, 20), dtype=np.int64, order="F"),
        np.ones((20, 8313), order="F"),
    ],
    ids=["C order", "other dtype", "transposed"],
)
def test_values_file_that_contradicts_the_metadata_is_refused(
    sp500_context: OptimizationDataContext, replacement: np.ndarray[Any, Any]
) -> None:
    np.save(sp500_context.array_paths["daily"], replacement)

    with pytest.raises(DataError, match=r"daily\.npy"):
        open_data_context(restat(sp500_context))


def test_zip_archive_planted_as_values_file_is_refused(
    sp500_context: OptimizationDataContext,
) -> None:
    path = Path(sp500_context.array_paths["daily"])
    with path.open("wb") as handle:
        np.savez(handle, values=np.ones(3))

    with pytest.raises(DataError, match=r"not a \.npy array file"):
        open_data_context(restat(sp500_context))


# --- disk space and write failures -----------------------------------------------------


def test_not_enough_free_space_is_refused_before_writing(tmp_path: Path) -> None:
    # 80 TB of zeros that take no memory: a broadcast view.
    huge = pd.DataFrame(np.broadcast_to(np.float64(0.0), (10**9, 10**4)), copy=False)
    data = data_with(huge)
    assert required_bytes(data) > 8 * 10**13

    with pytest.raises(DataError, match=r"not enough free space.*MB are free"):
        write_data_context(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_failed_write_raises_data_error_and_leaves_no_directory(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import resource, signal, sys
        import numpy as np, pandas as pd
        from portfolio_backtester.errors import DataError
        from portfolio_backtester.optimization.data_context import write_data_context
        from portfolio_backtester.optimization.results import OptimizationData

        frame = pd.DataFrame(np.ones((100_000, 10)))  # 8 MB per frame
        data = OptimizationData(daily=frame, monthly=frame, returns=frame, benchmark=frame)
        # Writes past 1 MB fail with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
        try:
            write_data_context(data, sys.argv[1])
        except DataError as exc:
            print(exc)
            sys.exit(0)
        sys.exit(3)
        """
    )

    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "could not write the shared data" in result.stdout
    assert "the directory was removed" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_missing_parent_directory_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does-not-exist"):
        write_data_context(sp500_data(), tmp_path / "does-not-exist")


# --- directories: privacy, removal, orphans --------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_data_directory_is_private(sp500_context: OptimizationDataContext) -> None:
    directory = Path(sp500_context.directory)

    assert directory.name.startswith(DIRECTORY_PREFIX)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_remove_data_context_deletes_the_directory_once(
    sp500_context: OptimizationDataContext,
) -> None:
    remove_data_context(sp500_context)

    assert not Path(sp500_context.directory).exists()
    remove_data_context(sp500_context.directory)  # already gone: nothing to do


def test_remove_data_context_refuses_other_directories(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="refusing to delete"):
        remove_data_context(tmp_path)
    assert tmp_path.exists()


ORPHAN_WRITER = """
import sys
import pandas as pd
from portfolio_backtester.optimization.data_context import write_data_context
from portfolio_backtester.optimization.results import OptimizationData

frame = pd.DataFrame({"x": [1.0, 2.0]})
context = write_data_context(OptimizationData(frame, frame, frame, frame), sys.argv[1])
print(context.directory, flush=True)
sys.stdin.read()  # stay alive until the test closes stdin, then exit without cleaning up
"""


def test_orphaned_directories_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    ours = write_data_context(data_with(pd.DataFrame({"x": [1.0]})), tmp_path)
    unmarked = tmp_path / f"{DIRECTORY_PREFIX}being-created"
    unmarked.mkdir()
    writer = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        theirs = writer.stdout.readline().strip()
        assert Path(theirs).is_dir()

        assert remove_orphaned_data_dirs(tmp_path) == []  # the writer still runs

        writer.communicate(input="", timeout=60)
        assert writer.returncode == 0
        assert remove_orphaned_data_dirs(tmp_path) == [theirs]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()

    assert not Path(theirs).exists()
    assert Path(ours.directory).is_dir() and unmarked.is_dir()


def test_a_dead_pid_on_another_host_is_not_ours_to_judge(tmp_path: Path) -> None:
    context = write_data_context(data_with(pd.DataFrame({"x": [1.0]})), tmp_path)
    marker = Path(context.directory) / "owner.json"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid is now free on this host
    owner = json.loads(marker.read_text())

    marker.write_text(json.dumps({**owner, "pid": ended.pid, "hostname": "elsewhere"}))
    assert remove_orphaned_data_dirs(tmp_path) == []

    marker.write_text(json.dumps({**owner, "pid": ended.pid}))
    assert remove_orphaned_data_dirs(tmp_path) == [context.directory]


# --- logging and fingerprints ----------------------------------------------------------


def test_parent_and_worker_log_what_they_saved_and_mapped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portfolio_backtester.optimization.data_context")

    context = write_data_context(sp500_data(), tmp_path)
    open_data_context(context)

    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("saved 4 frames (") and context.directory in m for m in messages)
    assert any(m.startswith("mapped 4 frames (") and " ms " in m for m in messages)


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


def test_required_bytes_covers_what_is_written(sp500_context: OptimizationDataContext) -> None:
    written = sum(size for size, _ in sp500_context.file_stats.values())

    assert written <= required_bytes(sp500_data()) < written + 1_000_000


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_a_dead_unreaped_process_is_not_alive() -> None:
    """A worker whose parent was killed can linger as a zombie until it is reaped; its data
    folder and its running trials must still count as orphaned."""
    from portfolio_backtester.optimization.data_context import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        status = Path(f"/proc/{child.pid}/status")
        deadline = time.monotonic() + 10
        while "State:\tZ" not in status.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "State:\tZ" in status.read_text()
        assert not pid_alive(child.pid)
        assert pid_alive(os.getpid())
    finally:
        child.wait()
    assert not pid_alive(child.pid)
