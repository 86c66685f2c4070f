"""Trials' daily returns recorded as they run: read back exactly, and a row cut short by a
kill is ignored rather than read wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from portfolio_backtester.optimization.trial_returns import (
    TrialReturnsReader,
    TrialReturnsWriter,
)


def test_rows_of_several_writers_are_read_back_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = {("s", n): rng.normal(size=50 + n) for n in range(6)}
    writers = [TrialReturnsWriter(tmp_path), TrialReturnsWriter(tmp_path)]
    for (study, n), values in rows.items():
        writers[n % 2].append(study, {"x": n / 7, "k": n}, values)
    for writer in writers:
        writer.close()
    reader = TrialReturnsReader(tmp_path)
    for (study, n), values in rows.items():
        # the same parameters in another order are the same trial
        np.testing.assert_array_equal(reader.get(study, {"k": n, "x": n / 7}), values)
    assert reader.get("s", {"x": 99.0, "k": 1}) is None
    assert reader.get("other", {"x": 0.0, "k": 0}) is None
    reader.close()


def test_a_row_cut_short_by_a_kill_is_not_read(tmp_path: Path) -> None:
    writer = TrialReturnsWriter(tmp_path)
    writer.append("s", {"x": 0}, np.ones(10))
    writer.append("s", {"x": 1}, np.ones(10))
    writer.close()
    (rows,) = tmp_path.glob("*.f64")
    rows.write_bytes(rows.read_bytes()[:-8])  # the last value never reached the disk
    (index,) = tmp_path.glob("*.jsonl")
    with index.open("a", encoding="utf-8") as handle:
        handle.write('{"study": "s", "params": "{\\"x\\": 2}", "off')  # killed mid-line
    reader = TrialReturnsReader(tmp_path)
    assert reader.get("s", {"x": 0}) is not None
    assert reader.get("s", {"x": 1}) is None
    assert reader.get("s", {"x": 2}) is None


def test_no_directory_means_nothing_recorded(tmp_path: Path) -> None:
    assert TrialReturnsReader(None).get("s", {"x": 0}) is None
    assert TrialReturnsReader(tmp_path / "missing").get("s", {"x": 0}) is None
