"""The package runs on Windows and macOS as on Linux: checked from the source, on any OS.

The source is parsed with ``ast``: a POSIX-only call (``os.fork``, ``os.kill``, process
groups, ``fcntl``, ``resource``, POSIX-only signals, ``/proc`` paths, ``os.sched_getaffinity``)
may appear only in a module named in ``GUARDED``, and there only inside a branch on
``sys.platform`` or ``os.name`` that has a branch for the other systems. Every text-mode
``open``/``read_text``/``write_text`` names its encoding (Windows' default is the ANSI code
page, not UTF-8), and CSV files are written so that a Windows spreadsheet opens them with one
line per row. Temporary paths stay within Windows' 260-character limit.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath

import numpy as np
import pandas as pd

from portfolio_backtester.optimization.data_context import write_data_context
from portfolio_backtester.optimization.locks import BUDGET_LOCK_NAME
from portfolio_backtester.optimization.parallel_optimization_runner import _asking_marker
from portfolio_backtester.optimization.results import OptimizationData

SOURCE = Path(__file__).resolve().parents[1] / "src" / "portfolio_backtester"

GUARDED = {"_platform.py"}
"""Modules allowed POSIX-only calls, each behind a platform branch with an alternative."""

POSIX_MODULES = {"fcntl", "resource", "termios", "pwd", "grp", "posix", "pty", "tty", "syslog"}
POSIX_NAMES = {
    "os": {
        "fork", "forkpty", "kill", "killpg", "getpgid", "setpgid", "getpgrp", "setpgrp",
        "setsid", "getsid", "getuid", "geteuid", "getgid", "sched_getaffinity",
        "sched_setaffinity", "getloadavg", "wait3", "wait4", "mkfifo", "nice", "sync",
    },
    "signal": {
        "SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGSTOP",
        "SIGCONT", "SIGQUIT", "SIGPIPE", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGWINCH",
        "alarm", "pause", "setitimer", "getitimer", "pthread_kill", "pthread_sigmask",
        "siginterrupt", "sigwait",
    },
}  # fmt: skip
POSIX_PATHS = ("/proc", "/sys/", "/dev/shm")


def sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        yield str(path.relative_to(SOURCE)), ast.parse(path.read_text(encoding="utf-8"))


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def posix_only(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Every POSIX-only import, attribute, imported name or path in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in POSIX_MODULES:
                    yield node, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module.split(".")[0] in POSIX_MODULES:
                yield node, f"from {node.module} import …"
            for alias in node.names:
                if alias.name in POSIX_NAMES.get(node.module, set()):
                    yield node, f"from {node.module} import {alias.name}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in POSIX_NAMES.get(node.value.id, set()):
                yield node, f"{node.value.id}.{node.attr}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(POSIX_PATHS):
                yield node, repr(node.value)


def is_platform_test(test: ast.expr) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {("sys", "platform"), ("os", "name")}:
                return True
    return False


def guard_of(node: ast.AST, up: dict[ast.AST, ast.AST]) -> ast.If | None:
    """The nearest ``if`` on the platform around ``node`` that also has an ``else``."""
    while node in up:
        node = up[node]
        if isinstance(node, ast.If) and is_platform_test(node.test) and node.orelse:
            return node
    return None


def test_posix_only_calls_appear_only_behind_a_platform_branch() -> None:
    unguarded, found = [], []
    for name, tree in sources():
        up = parents(tree)
        for node, what in posix_only(tree):
            line = getattr(node, "lineno", 0)
            if name in GUARDED and guard_of(node, up) is not None:
                found.append(f"{name}:{line} {what}")
            else:
                unguarded.append(f"{name}:{line} {what}")
    assert unguarded == [], "POSIX-only calls outside a platform branch of " + str(GUARDED)
    assert found, "the platform module's own guarded calls are seen (the check works)"


def test_the_checker_finds_posix_calls_and_accepts_guarded_ones() -> None:
    tree = ast.parse(
        "import fcntl\nimport os, signal, sys\nos.kill(1, signal.SIGKILL)\n"
        "if sys.platform == 'win32':\n    pass\nelse:\n    os.killpg(1, 9)\n"
        "if sys.platform.startswith('linux'):\n    open('/proc/self/stat')\n"
    )
    up = parents(tree)
    hits = {what: guard_of(node, up) is not None for node, what in posix_only(tree)}
    assert hits == {
        "import fcntl": False,
        "os.kill": False,
        "signal.SIGKILL": False,
        "os.killpg": True,
        "'/proc/self/stat'": False,  # a Linux branch without an alternative
    }


# --- text files ---------------------------------------------------------------------------

_BINARY_BY_DEFAULT = {"gzip", "bz2", "lzma", "tarfile", "zipfile"}


def _mode(call: ast.Call, position: int) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else "?"
    if len(call.args) > position:
        value = call.args[position]
        return value.value if isinstance(value, ast.Constant) else "?"
    return None


def _has(call: ast.Call, keyword: str, position: int | None = None) -> bool:
    if any(k.arg == keyword for k in call.keywords):
        return True
    return position is not None and len(call.args) > position


def text_opens_without_encoding(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            mode = _mode(node, 1) or "r"
        elif isinstance(func, ast.Attribute) and func.attr == "open":
            receiver = func.value.id if isinstance(func.value, ast.Name) else None
            if receiver == "os":
                continue  # a file descriptor, no text layer
            if receiver in _BINARY_BY_DEFAULT:  # gzip.open(path, mode="rb")
                mode = _mode(node, 1) or "rb"
            else:  # Path.open(mode="r"), a resource's open
                mode = _mode(node, 0) or "r"
        elif isinstance(func, ast.Attribute) and func.attr in ("read_text", "write_text"):
            position = 0 if func.attr == "read_text" else 1
            if not _has(node, "encoding", position):
                yield node
            continue
        else:
            continue
        if "b" not in mode and not _has(node, "encoding"):
            yield node


def test_every_text_file_is_opened_with_an_explicit_encoding() -> None:
    missing = [
        f"{name}:{call.lineno}"
        for name, tree in sources()
        for call in text_opens_without_encoding(tree)
    ]
    assert missing == []


def csv_writers_without_newline_policy(tree: ast.Module) -> Iterator[ast.Call]:
    """``csv.writer``/``DictWriter`` and ``to_csv`` on a handle opened without
    ``newline=""`` (Windows would end each row with \\r\\r\\n), and ``to_csv()`` returning text
    without a ``lineterminator`` (pandas uses os.linesep, doubled again by a text file)."""
    opened: dict[str, ast.Call] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                if isinstance(item.context_expr, ast.Call) and isinstance(
                    item.optional_vars, ast.Name
                ):
                    opened[item.optional_vars.id] = item.context_expr
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        if attr not in ("writer", "DictWriter", "to_csv"):
            continue
        if attr in ("writer", "DictWriter") and not (
            isinstance(node.func.value, ast.Name) and node.func.value.id == "csv"
        ):
            continue
        target = node.args[0] if node.args else None
        if attr == "to_csv" and target is None and not _has(node, "path_or_buf"):
            if not _has(node, "lineterminator"):
                yield node
            continue
        if isinstance(target, ast.Name) and target.id in opened:
            handle = opened[target.id]
            newline = [k for k in handle.keywords if k.arg == "newline"]
            if (
                not (newline and isinstance(newline[0].value, ast.Constant))
                or newline[0].value.value != ""
            ):
                yield node
        elif attr != "to_csv":
            yield node  # a csv writer on a handle this check cannot trace


def test_csv_files_are_written_with_a_windows_safe_newline_policy() -> None:
    bad = [
        f"{name}:{call.lineno}"
        for name, tree in sources()
        for call in csv_writers_without_newline_policy(tree)
    ]
    assert bad == []


def test_the_text_checks_find_what_they_look_for() -> None:
    tree = ast.parse(
        "open(p)\nopen(p, 'rb')\npath.open('w')\npath.read_text()\npath.write_text(s, 'utf-8')\n"
        "os.open(p, 0)\ngzip.open(p)\n"
        "with open(p, 'w', encoding='utf-8') as f:\n    csv.writer(f)\n"
        "with open(p, 'w', encoding='utf-8', newline='') as g:\n    csv.writer(g)\n"
        "frame.to_csv(path)\nframe.to_csv()\n"
    )
    assert [c.lineno for c in text_opens_without_encoding(tree)] == [1, 3, 4]
    assert sorted(c.lineno for c in csv_writers_without_newline_policy(tree)) == [9, 13]


# --- path lengths ---------------------------------------------------------------------------

WINDOWS_TEMP = PureWindowsPath("C:\\Users\\someuser\\AppData\\Local\\Temp")
MAX_PATH = 260


def test_data_directory_paths_fit_within_windows_max_path(tmp_path: Path) -> None:
    """The longest path the data context creates, placed in a typical Windows temp folder."""
    dates = pd.date_range("2020-01-01", periods=5, name="date", tz="America/New_York")
    tickers = pd.Index(["A" * 12, "B"], name="ticker")
    frame = pd.DataFrame(np.ones((5, 2)), index=dates, columns=tickers)
    data = OptimizationData(frame, frame, frame, frame[["B"]], open=frame)
    context = write_data_context(data, tmp_path)
    directory = Path(context.directory)
    names = [path.name for path in directory.iterdir()]
    names += [BUDGET_LOCK_NAME, _asking_marker(str(directory), "0" * 8).name]
    names += ["metadata.json.partial"]  # written, then renamed into place
    longest = max(len(str(WINDOWS_TEMP / directory.name / name)) for name in names)
    assert longest < MAX_PATH, longest
    assert longest < 100, f"{longest}: room left for a long user name or --data-dir"
