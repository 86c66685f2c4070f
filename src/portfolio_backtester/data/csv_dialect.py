"""What a CSV file looks like (separator, decimal mark), for messages that say how to read it.

The loader never guesses: it reads a file as the data section says (``sep`` and
``decimal``, by default ``,`` and ``.``). When that fails, :func:`dialect_hint` looks at
the first lines and names the options that would read the file.
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Dialect", "dialect_hint", "sniff_dialect"]

SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_LINES = 50
_COMMA_DECIMAL = re.compile(r"[-+]?\d+,\d+")
_POINT_DECIMAL = re.compile(r"[-+]?\d+\.\d+")


@dataclass(frozen=True, slots=True)
class Dialect:
    """A separator and a decimal mark."""

    sep: str
    decimal: str

    def describe(self) -> str:
        """``';'-separated with decimal commas``."""
        marks = "decimal commas" if self.decimal == "," else "decimal points"
        return f"{_quoted(self.sep)}-separated with {marks}"


def sniff_dialect(path: Path) -> Dialect | None:
    """The separator that splits the first lines into the same number (2 or more) of fields,
    and the decimal mark of the numbers in them; None when no separator fits."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            lines = [line for line in itertools.islice(handle, _SAMPLE_LINES) if line.strip()]
    except OSError:
        return None
    best: tuple[int, str, list[list[str]]] | None = None
    for sep in SEPARATORS:
        rows = list(csv.reader(lines, delimiter=sep))
        counts = {len(row) for row in rows}
        if len(counts) == 1 and (n := counts.pop()) >= 2 and (best is None or n > best[0]):
            best = (n, sep, rows)
    if best is None:
        return None
    _, sep, rows = best
    cells = [cell.strip() for row in rows[1:] for cell in row[1:]]
    commas = sum(bool(_COMMA_DECIMAL.fullmatch(c)) for c in cells)
    points = sum(bool(_POINT_DECIMAL.fullmatch(c)) for c in cells)
    return Dialect(sep, "," if commas > points else ".")


def dialect_hint(path: Path, sep: str | None, decimal: str | None) -> str:
    """``; the file looks like ';'-separated with decimal commas: add sep: ';' and
    decimal: ',' to the data section``, or '' when the file looks as it was read.

    ``sep`` and ``decimal`` are the data section's (None when not given: ',' and '.').
    """
    found = sniff_dialect(path)
    if found is None:
        return ""
    options = []
    if found.sep != (sep or ","):
        options.append(f"sep: {_quoted(found.sep)}")
    if found.decimal != (decimal or "."):
        options.append(f"decimal: {_quoted(found.decimal)}")
    if not options:
        return ""
    fix = "set {} in" if sep is not None or decimal is not None else "add {} to"
    return f"; the file looks like {found.describe()}: {fix.format(' and '.join(options))} " + (
        "the data section"
    )


def _quoted(text: str) -> str:
    """As it would be written in YAML: a tab needs double quotes."""
    return '"\\t"' if text == "\t" else f"'{text}'"
