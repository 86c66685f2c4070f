"""Each trial's daily returns, kept as the trial computes them, for the overfitting statistics.

The statistics compare every trial's daily returns on the days it was scored on. Rebuilding
them afterwards would cost as much as the trials themselves, so each worker appends them as
it goes to files of its own in a directory the runner creates and removes: raw float64
rows (``<worker>.f64``) and one JSON line per row (``<worker>.jsonl``: study, the trial's
parameters as canonical JSON, offset and length), written after its row so that a line
always describes a complete row. Parameters, not trial numbers, identify a row: the
objective sees only the parameters, and equal parameters give equal returns.
The parent maps the rows read-only, so N workers' returns cost one copy in the page cache.
Trials run on other hosts are not here; the statistics rebuild those.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TrialReturnsReader", "TrialReturnsWriter", "params_key"]

FloatArray = npt.NDArray[np.float64]


class TrialReturnsWriter:
    """Appends one worker's trial returns; each worker opens its own pair of files."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        stem = Path(directory) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._rows = stem.with_suffix(".f64").open("ab")
        self._index = stem.with_suffix(".jsonl").open("a", encoding="utf-8", newline="\n")
        self._offset = 0

    def append(self, study: str, params: Mapping[str, Any], returns: FloatArray) -> None:
        values = np.ascontiguousarray(returns, dtype="<f8")
        self._rows.write(values.tobytes())
        self._rows.flush()
        line = {
            "study": study,
            "params": params_key(params),
            "offset": self._offset,
            "length": values.size,
        }
        self._index.write(json.dumps(line) + "\n")
        self._index.flush()
        self._offset += values.size

    def close(self) -> None:
        self._rows.close()
        self._index.close()


class TrialReturnsReader:
    """Every recorded trial's returns by (study, parameters), mapped read-only."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self._rows: dict[tuple[str, str], tuple[Path, int, int]] = {}
        self._maps: dict[Path, FloatArray] = {}
        if directory is None or not Path(directory).is_dir():
            return
        for index in sorted(Path(directory).glob("*.jsonl")):
            rows = index.with_suffix(".f64")
            for line in index.read_text(encoding="utf-8").splitlines():
                record = _record(line)
                if record is not None:
                    self._rows[(record["study"], record["params"])] = (
                        rows,
                        record["offset"],
                        record["length"],
                    )

    def get(self, study: str, params: Mapping[str, Any]) -> FloatArray | None:
        """The trial's returns, or None when it was not recorded here (another host)."""
        found = self._rows.get((study, params_key(params)))
        if found is None:
            return None
        path, offset, length = found
        if path not in self._maps:
            size = path.stat().st_size // 8
            self._maps[path] = (
                np.memmap(path, dtype="<f8", mode="r", shape=(size,)) if size else np.zeros(0)
            )
        values = self._maps[path]
        if offset + length > values.size:
            return None  # a row cut short (the worker was killed while writing it)
        return np.asarray(values[offset : offset + length])

    def close(self) -> None:
        """Drop the maps, so that the directory can be removed (Windows refuses otherwise)."""
        self._maps.clear()


def params_key(params: Mapping[str, Any]) -> str:
    """Parameters as canonical JSON: equal parameter sets give equal keys."""
    return json.dumps(dict(params), sort_keys=True, default=str)


def _record(line: str) -> dict[str, Any] | None:
    """A complete, well-formed index line, or None (a line cut short by a kill)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    keys = {"study": str, "params": str, "offset": int, "length": int}
    if not isinstance(record, dict) or any(
        not isinstance(record.get(k), t) for k, t in keys.items()
    ):
        return None
    return record
