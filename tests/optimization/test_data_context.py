"""Writing and opening the shared data: exact round trips, zero copy, read-only, refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import os
import pickle
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import pytest
from data_cases import (
    WINDOWS,
    CreatesFileWhenUnpickled,
    assert_same_data,
    data_with,
    dated,
    edit_metadata,
    restat,
    set_in,
    sp500_data,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_backtester.data.builtin import load_sp500
from portfolio_backtester.errors import DataError
from portfolio_backtester.optimization._fingerprint import data_fingerprint
from portfolio_backtester.optimization._ownership import DIRECTORY_PREFIX
from portfolio_backtester.optimization.data_context import (
    open_data_context,
    remove_data_context,
    required_bytes,
    write_data_context,
)
from portfolio_backtester.optimization.results import OptimizationData, OptimizationDataContext


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


# --- round trips -----------------------------------------------------------------------


def test_sp500_data_round_trips_exactly(sp500_context: OptimizationDataContext) -> None:
    opened = open_data_context(sp500_context)

    assert_same_data(opened, sp500_data())
    assert opened.open is None
    assert isinstance(opened.monthly.index, pd.DatetimeIndex)
    assert opened.monthly.index.freqstr == "ME"
    assert isinstance(opened.daily.index, pd.DatetimeIndex)
    assert opened.daily.index.unit == "us"


def test_checksum_verification_accepts_untouched_files(
    sp500_context: OptimizationDataContext,
) -> None:
    assert_same_data(open_data_context(sp500_context, verify="checksum"), sp500_data())


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


def delete_daily(metadata: dict[str, Any]) -> None:
    del metadata["frames"]["daily"]


FRAME_METADATA_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
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
    "values file of another frame": set_in(("frames", "daily", "file"), "returns.npy"),
}


@pytest.mark.parametrize("case", FRAME_METADATA_EDITS)
def test_crafted_frame_metadata_is_refused_with_a_data_error(
    sp500_context: OptimizationDataContext, case: str
) -> None:
    edited = edit_metadata(sp500_context, FRAME_METADATA_EDITS[case])

    with pytest.raises(DataError, match=r"metadata\.json"):
        open_data_context(edited)


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


# --- directories: privacy and removal --------------------------------------------------


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


# --- logging and size ------------------------------------------------------------------


def test_parent_and_worker_log_what_they_saved_and_mapped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portfolio_backtester.optimization.data_context")

    context = write_data_context(sp500_data(), tmp_path)
    open_data_context(context)

    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("saved 4 frames (") and context.directory in m for m in messages)
    assert any(m.startswith("mapped 4 frames (") and " ms " in m for m in messages)


def test_required_bytes_covers_what_is_written(sp500_context: OptimizationDataContext) -> None:
    written = sum(size for size, _ in sp500_context.file_stats.values())

    assert written <= required_bytes(sp500_data()) < written + 1_000_000
