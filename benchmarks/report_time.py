"""Seconds to build report.html: from an existing run folder, and at the end of a real run.

    python benchmarks/report_time.py --repeats 5
    python benchmarks/report_time.py --repeats 3 --kinds backtest --out after.json
    python benchmarks/report_time.py --keep /tmp/runs        # make the folders once, reuse them
    python benchmarks/report_time.py --source /tmp/old/src   # another checkout's code (before)
    python benchmarks/report_time.py --kinds optimize --without-sklearn  # rebuilds only

Two measures for each kind of run (the default ``portfolio-backtester backtest`` and
``portfolio-backtester optimize``):

- ``rebuild``: the run folder is made once (``--no-report``) into a temporary folder; each
  repeat is a fresh Python process, as ``portfolio-backtester report DIR`` is, that times
  importing the report module (``import_s``), a first ``build_report`` (``first_s``: what a
  user waits for, the headline) and a second in the same process (``warm_s``: caches
  filled). ``wall_s`` is the whole child process, interpreter start included.
- ``in_run`` (``--in-run``): each repeat runs the command itself, with its report, and reads
  the report's time from the command's own log line (``report written to ... in X s``): the
  same build after the run has imported and drawn what it needed (equity.png, SciPy).

Prints JSON with medians and every repeat, the machine's load averages (``os.getloadavg``)
before and after, and the figures each report holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = """
import json, os, sys, time
if os.environ.get("PBT_BENCH_WITHOUT_SKLEARN"):
    sys.modules["sklearn"] = None  # imports fail as on an install without scikit-learn
started = time.perf_counter()
from portfolio_backtester.reporting.html import build_report
imported = time.perf_counter()
build_report(sys.argv[1])
first = time.perf_counter()
build_report(sys.argv[1])
warm = time.perf_counter()
print(json.dumps({"import_s": imported - started, "first_s": first - imported,
                  "warm_s": warm - first}))
"""
LOGGED = re.compile(r"report written to .* in ([0-9.]+) s")


def command(kind: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "portfolio_backtester", kind, "--output", str(out), *extra]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Our own interpreter on our own package; stdout and stderr kept."""
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=env)


def rebuild(run_dir: Path, env: dict[str, str]) -> dict[str, float]:
    """One rebuild of the report in a fresh interpreter."""
    started = time.perf_counter()
    done = run([sys.executable, "-c", CHILD, str(run_dir)], env)
    wall = time.perf_counter() - started
    times: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return {**times, "wall_s": wall}


def in_run(kind: str, out: Path, env: dict[str, str]) -> dict[str, float]:
    """One whole run of the command; the report's seconds as the command logs them."""
    started = time.perf_counter()
    done = run(command(kind, out), env)
    wall = time.perf_counter() - started
    found = LOGGED.findall(done.stderr)
    if not found:
        raise SystemExit(f"{kind}: no 'report written' line in its log:\n{done.stderr[-2000:]}")
    return {"report_s": float(found[-1]), "command_s": wall}


def load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"1min": one, "5min": five, "15min": fifteen, "cores": float(os.cpu_count() or 0)}


def summary(repeats: list[dict[str, float]], run_dir: Path) -> dict[str, Any]:
    return {
        "median": {
            key: round(statistics.median(r[key] for r in repeats), 3) for key in repeats[0]
        },
        "repeats": [{k: round(v, 3) for k, v in r.items()} for r in repeats],
        "figures": sorted(p.stem for p in (run_dir / "figures").glob("*.png")),
        "report_bytes": (run_dir / "report.html").stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kinds", nargs="+", default=["backtest", "optimize"])
    parser.add_argument("--in-run", action="store_true", help="also time the whole commands")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the run folders here")
    parser.add_argument("--source", type=Path, help="put this src folder first on the path")
    parser.add_argument(
        "--without-sklearn",
        action="store_true",
        help="rebuild as if scikit-learn were not installed (Optuna's importance module "
        "imports it when it is: about 0.6 s of a first optimisation report)",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    if args.without_sklearn:
        env["PBT_BENCH_WITHOUT_SKLEARN"] = "1"
    if args.source:
        env["PYTHONPATH"] = os.pathsep.join([str(args.source), env.get("PYTHONPATH", "")])
    result: dict[str, Any] = {"repeats": args.repeats, "load_before": load()}
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        for kind in args.kinds:
            run_dir = where / kind
            if not (run_dir / "run.json").is_file():
                run(command(kind, run_dir, "--no-report", "-q"), env)
            repeats = [rebuild(run_dir, env) for _ in range(args.repeats)]
            result[kind] = {"rebuild": summary(repeats, run_dir)}
            if args.in_run:
                # A fresh folder each time: an optimisation would resume the last study.
                outs = [Path(tmp) / f"{kind}-in-run-{i}" for i in range(args.repeats)]
                repeats = [in_run(kind, out, env) for out in outs]
                result[kind]["in_run"] = summary(repeats, outs[-1])
    result["load_after"] = load()
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
