"""Ownership of data directories and trials: orphans of dead writers and workers are found,
live ones kept, a reused PID or another container's PID never taken for the owner."""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from data_cases import data_with

from portfolio_backtester._platform import machine_token, process_started
from portfolio_backtester.optimization._identity import (
    WorkerTag,
    new_worker_id,
    worker_gone,
    worker_tag,
)
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


def _marker(path: Path) -> dict[str, object]:
    return dict(json.loads((path / "owner.json").read_text(encoding="utf-8")))


def test_a_reused_pid_is_not_the_owner(tmp_path: Path) -> None:
    """The marker records the owner's start time: a live process holding the same PID but
    started at another time is a stranger, and the directory an orphan."""
    context = write_data_context(data_with(pd.DataFrame({"x": [1.0]})), tmp_path)
    directory = Path(context.directory)
    owner = _marker(directory)
    assert owner["started"] == process_started(os.getpid())
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        started = process_started(stranger.pid)
        assert started is not None
        (directory / "owner.json").write_text(
            json.dumps({**owner, "pid": stranger.pid, "started": started}), encoding="utf-8"
        )
        assert remove_orphaned_data_dirs(tmp_path) == [], "the very process runs"
        (directory / "owner.json").write_text(
            json.dumps({**owner, "pid": stranger.pid, "started": started - 3600}),
            encoding="utf-8",
        )
        assert remove_orphaned_data_dirs(tmp_path) == [context.directory], "PID reused"
    finally:
        stranger.communicate(b"", timeout=60)


def test_a_container_sharing_the_host_name_is_not_ours_to_judge(tmp_path: Path) -> None:
    """Same host name, another PID namespace (another machine token): its PIDs mean nothing
    here. Markers written before tokens existed are judged by host name, as before."""
    context = write_data_context(data_with(pd.DataFrame({"x": [1.0]})), tmp_path)
    directory = Path(context.directory)
    owner = _marker(directory)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    elsewhere = {**owner, "pid": ended.pid, "token": "0000ff"}
    (directory / "owner.json").write_text(json.dumps(elsewhere), encoding="utf-8")
    assert remove_orphaned_data_dirs(tmp_path) == []
    legacy = {"pid": ended.pid, "hostname": owner["hostname"], "created_unix": 0.0}
    (directory / "owner.json").write_text(json.dumps(legacy), encoding="utf-8")
    assert remove_orphaned_data_dirs(tmp_path) == [context.directory]


def test_worker_tags_are_unique_and_old_tags_still_parse() -> None:
    pid = os.getpid()
    first, second = worker_tag(pid, new_worker_id()), worker_tag(pid, new_worker_id())
    assert first != second, "two workers with one PID (containers, reuse) differ"
    assert first.startswith(f"{socket.gethostname()}:") and first.endswith(f":{pid}")
    parsed = WorkerTag.parse(first)
    assert parsed is not None and parsed.pid == pid and parsed.is_local()
    old = WorkerTag.parse(f"{socket.gethostname()}:{pid}")
    assert old == WorkerTag(socket.gethostname(), None, None, pid) and old.is_local()
    assert WorkerTag.parse("not a tag") is None
    if machine_token() is not None:
        other = first.replace(f":{machine_token()}-", ":0000ff-")
        assert not WorkerTag.parse(other).is_local()  # type: ignore[union-attr]


def test_a_trials_worker_is_gone_when_its_pid_is_free_or_reused() -> None:
    now = datetime.datetime.now()
    tag = worker_tag(os.getpid(), new_worker_id())
    assert not worker_gone(tag, now), "this process runs, and ran when the trial started"
    # The trial started an hour before this process did: the PID was reused since.
    assert worker_gone(tag, now - datetime.timedelta(hours=1))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert worker_gone(worker_tag(ended.pid, new_worker_id()), now)
    assert worker_gone(f"{socket.gethostname()}:{ended.pid}", now), "an old host:pid tag"
    assert not worker_gone(f"elsewhere:abcdef12:{ended.pid}", now), "another host's"
