"""Ownership of data directories: orphans of dead writers are removed, live ones kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from data_cases import data_with

from portfolio_backtester.optimization._ownership import (
    DIRECTORY_PREFIX,
    pid_alive,
    remove_orphaned_data_dirs,
)
from portfolio_backtester.optimization.data_context import write_data_context

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


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_a_dead_unreaped_process_is_not_alive() -> None:
    """A worker whose parent was killed can linger as a zombie until it is reaped; its data
    folder and its running trials must still count as orphaned."""
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
