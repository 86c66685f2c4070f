"""Run folders written whole or not at all: a staging folder beside the output, moved in.

A run that fails while writing (an exception, a full disk, Ctrl-C) must leave the user's
output as it was, and a new run must not leave an older run's files beside its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataError
from .run_folder import RESULT_FILES, RUN

__all__ = ["check_output_folder", "publishing"]


def check_output_folder(output: Path) -> None:
    """Refuse, before any work, an output that is a file or a folder that cannot be written."""
    if output.exists() and not output.is_dir():
        raise DataError(f"--output {output} is a file, not a folder; give a folder to write to")
    existing = output if output.exists() else next(p for p in output.parents if p.exists())
    try:  # a real attempt: permission bits say nothing for root or on read-only mounts
        os.rmdir(tempfile.mkdtemp(prefix=".pbt-write-check-", dir=existing))
    except OSError as exc:
        raise DataError(
            f"cannot write the run folder {output}: {existing} is not writable "
            f"({exc.strerror}); choose another --output"
        ) from None


@contextlib.contextmanager
def publishing(output: Path) -> Iterator[Path]:
    """A staging folder beside ``output``, whose files become the run folder's only when all
    were written: on any failure (a full disk, an exception, Ctrl-C) ``output`` holds none
    of this run's files, and the run folder is complete or absent.

    The files move into ``output`` one by one, ``run.json`` last, since ``output`` may hold
    the study's journal, which stays where it is.
    """
    check_output_folder(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    except OSError as exc:
        raise DataError(f"cannot write the run folder {output}: {exc}") from None
    try:
        yield staging
        output.mkdir(parents=True, exist_ok=True)
        written = {entry.name for entry in staging.iterdir()}
        for name in RESULT_FILES:
            if name not in written:
                (output / name).unlink(missing_ok=True)
        shutil.rmtree(output / "figures", ignore_errors=True)
        for name in sorted(written - {RUN}) + ([RUN] if RUN in written else []):
            os.replace(staging / name, output / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
