"""The ``portfolio-backtester`` command: argv in, public API called, exit code out.

User mistakes end as one ``error: …`` line and exit code 2; Ctrl-C exits 130 and SIGTERM 143
after cleaning up; anything else keeps its traceback, because it is a bug.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from . import __version__
from ._terminal import ProgressPrinter, monte_carlo_lines
from .errors import PortfolioBacktesterError

__all__ = ["main"]

logger = logging.getLogger("portfolio_backtester.cli")


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that every ``finally`` runs."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser, commands = _parser()
    given = _normalise(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(_with_command(given, commands))
    root = logging.getLogger()  # restored at the end: main() may be called from Python
    handlers, level = root.handlers[:], root.level
    _configure_logging(args.verbose, args.quiet)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result: int = args.handler(args)
        return result
    except PortfolioBacktesterError as exc:
        if args.debug:
            logger.exception("error")
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; workers stopped and temporary files removed", file=sys.stderr)
        return 130
    except _Terminated:
        print("terminated; workers stopped and temporary files removed", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
        root.handlers[:] = handlers
        root.setLevel(level)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _normalise(argv: list[str]) -> list[str]:
    """Accept ``--n_jobs`` and friends: users coming from scikit-learn type underscores."""
    out = []
    for arg in argv:
        if arg.startswith("--") and "_" in arg.split("=", 1)[0]:
            name, sep, value = arg.partition("=")
            arg = name.replace("_", "-") + sep + value
        out.append(arg)
    return out


_GLOBAL_FLAGS = ("-v", "--verbose", "-q", "--quiet", "--debug")


def _with_command(argv: list[str], commands: Iterable[str]) -> list[str]:
    """``backtest`` is the default command: insert it after any global options."""
    for position, arg in enumerate(argv):
        if arg in _GLOBAL_FLAGS:
            continue
        if arg in commands or arg in ("-h", "--help", "--version"):
            return argv
        return [*argv[:position], "backtest", *argv[position:]]
    return [*argv, "backtest"]


def _global_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """-v, -q and --debug, accepted before the command and after it.

    On the subcommands the defaults are suppressed, so that an option given before the
    command is not reset by the subcommand's parser.
    """
    for flags, text in (
        (("-v", "--verbose"), "debug logging"),
        (("-q", "--quiet"), "only warnings and errors"),
        (("--debug",), "show tracebacks of errors"),
    ):
        parser.add_argument(*flags, action="store_true", default=default, help=text)


def _parser() -> tuple[argparse.ArgumentParser, Collection[str]]:
    """The parser and the names of its commands."""
    shared = argparse.ArgumentParser(add_help=False)
    _global_options(shared, default=argparse.SUPPRESS)
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--scenario", type=Path, help="scenario YAML file (default: built-in)")
    run.add_argument("--output", type=Path, help="output folder (default: results/NAME)")
    run.add_argument(
        "--no-report", action="store_true", help="skip report.html (rebuild it with 'report')"
    )

    parser = argparse.ArgumentParser(
        prog="portfolio-backtester",
        description="Backtest portfolio strategies and optimise their parameters.",
        epilog="Without a command, 'backtest' runs. -v, -q and --debug go before or after "
        "the command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    backtest = commands.add_parser(
        "backtest", parents=[shared, run], help="run one backtest (the default command)"
    )
    backtest.add_argument(
        "--monte-carlo",
        type=int,
        metavar="N",
        help="resample the daily returns N times (stationary bootstrap) for percentiles",
    )
    backtest.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo")
    backtest.set_defaults(handler=_backtest)

    optimize = commands.add_parser(
        "optimize", parents=[shared, run], help="optimise strategy parameters with Optuna"
    )
    optimize.add_argument("--trials", type=int, help="trials to add to the study")
    optimize.add_argument("--study-name", help="study name; the same name resumes the study")
    optimize.add_argument("--storage", help="sqlite:///file.db or postgresql://user@host/db")
    optimize.add_argument("--fresh", action="store_true", help="delete the study and start over")
    _worker_options(optimize)
    optimize.set_defaults(handler=_optimize)

    worker = commands.add_parser(
        "worker",
        parents=[shared],
        help="join a study another host started (shared storage)",
    )
    worker.add_argument("--storage", required=True, help="the study's shared storage URL")
    worker.add_argument("--study-name", required=True, help="the study to join")
    _worker_options(worker)
    worker.set_defaults(handler=_worker)

    report = commands.add_parser(
        "report", parents=[shared], help="rebuild report.html from a finished run's folder"
    )
    report.add_argument("run_folder", type=Path, help="output folder of a backtest or optimize")
    report.set_defaults(handler=_report)

    strategies = commands.add_parser(
        "strategies", parents=[shared], help="list strategies and their parameters"
    )
    strategies.set_defaults(handler=_strategies)

    server = commands.add_parser(
        "storage-server", parents=[shared], help="serve a PostgreSQL study storage over gRPC"
    )
    server.add_argument("--storage", required=True, help="postgresql://user@host/db")
    server.add_argument("--host", default="0.0.0.0", help="address to listen on")
    server.add_argument("--port", type=int, default=13000, help="port to listen on (0: any)")
    server.set_defaults(handler=_storage_server)
    return parser, commands.choices.keys()


def _storage_server(args: argparse.Namespace) -> int:
    from .storage_server import serve

    serve(args.storage, args.host, args.port, on_ready=lambda url: print(url, flush=True))
    return 0


def _worker_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that start worker processes."""
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes (-1: all cores)")
    parser.add_argument(
        "--oversubscribe", action="store_true", help="allow more workers than cores"
    )
    parser.add_argument("--timeout", type=float, help="stop asking for trials after seconds")
    parser.add_argument("--data-dir", type=Path, help="where workers' data files go")


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING if not verbose else optuna.logging.INFO)


def _load(args: argparse.Namespace, *, optimize: bool) -> Any:
    from .config import load_scenario
    from .scenarios import default_optimize_scenario

    if args.scenario is not None:
        return load_scenario(args.scenario)
    return default_optimize_scenario() if optimize else load_scenario(None)


def _output_dir(args: argparse.Namespace, scenario: Any) -> Path:
    return Path(args.output) if args.output is not None else Path("results") / scenario.name


def _backtest(args: argparse.Namespace) -> int:
    from .backtest import run_backtest
    from .reporting.html import build_report
    from .reporting.staging import check_output_folder, publishing
    from .reporting.tables import UNITS_LEGEND, metrics_table

    scenario = _load(args, optimize=False)
    output = _output_dir(args, scenario)
    check_output_folder(output)
    result = run_backtest(scenario)
    simulated = None
    if args.monte_carlo is not None:
        from .metrics.monte_carlo import monte_carlo

        simulated = monte_carlo(
            result.returns,
            args.monte_carlo,
            seed=args.seed,
            risk_free_rate=scenario.portfolio.risk_free_rate,
        )
    with publishing(output) as staging:
        result.save(staging, monte_carlo=simulated)
    print(f"{scenario.name}: {scenario.strategy.name} {_params(result.params)}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(
        f"{result.returns.index[0]:%Y-%m-%d} to {result.returns.index[-1]:%Y-%m-%d}, "
        f"{len(result.returns)} trading days\n"
    )
    benchmark = str(result.benchmark_returns.name) if result.benchmark_returns is not None else ""
    print(metrics_table({"Strategy": result.metrics, benchmark: result.benchmark_metrics}))
    print(UNITS_LEGEND)
    if simulated is not None:
        print(monte_carlo_lines(simulated))
    if not args.no_report:
        build_report(output)
    print(_written(output))
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from .backtest import run_backtest
    from .data import build_optimization_data, load_market_data
    from .optimization.parallel_optimization_runner import ParallelOptimizationRunner
    from .optimization.storage import HeartbeatSettings, default_storage_url
    from .reporting.html import build_report
    from .reporting.run_folder import write_optimization_run
    from .reporting.staging import check_output_folder, publishing
    from .reporting.summary import optimization_summary

    scenario = _load(args, optimize=True)
    if scenario.optimize is None:
        from .errors import ScenarioError

        raise ScenarioError(
            f"{args.scenario}: the scenario has no 'optimize' section; add one with 'params' "
            "to search, or run 'backtest'"
        )
    if args.trials is not None and args.trials < 1:
        from .errors import ScenarioError

        raise ScenarioError(f"--trials must be at least 1, got {args.trials}")
    output = _output_dir(args, scenario)
    check_output_folder(output)
    storage_url = args.storage or default_storage_url(output)
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=build_optimization_data(load_market_data(scenario.data)),
        storage_url=storage_url,
        study_name=args.study_name or scenario.name,
        n_jobs=args.n_jobs,
        trials=args.trials,
        fresh=args.fresh,
        data_dir=args.data_dir,
        timeout=args.timeout,
        on_progress=None if args.quiet else ProgressPrinter(),
        heartbeat=HeartbeatSettings.from_environment(),
        oversubscribe=args.oversubscribe,
        on_event=_print_note,
    )
    result, data = runner.run()
    del runner  # from here on `data` alone holds the market data
    backtest = run_backtest(scenario, params=result.best_params, data=data)
    with publishing(output) as staging:
        backtest.save(staging)
        write_optimization_run(staging, result, scenario=scenario, storage_url=storage_url)
    states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.trial_states.items()))
    print(
        f"\n{scenario.name}: {sum(result.trial_states.values())} trials ({states}) "
        f"with {result.n_jobs} worker(s) in {result.elapsed_s:.1f} s"
    )
    for warning in backtest.warnings:
        print(f"warning: {warning}")
    benchmark = (
        str(backtest.benchmark_returns.name) if backtest.benchmark_returns is not None else ""
    )
    print()
    lines = optimization_summary(
        result,
        in_sample_metrics=backtest.metrics,
        in_sample_benchmark=backtest.benchmark_metrics,
        benchmark_name=benchmark,
    )
    print("\n".join(lines))
    if not args.no_report:
        build_report(output)
    print(_written(output))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from .data import build_optimization_data, load_market_data
    from .errors import OptimizationError
    from .optimization._fingerprint import data_fingerprint
    from .optimization.parallel_optimization_runner import ParallelOptimizationRunner
    from .optimization.plan import joined_plans, remaining_trials
    from .optimization.storage import HeartbeatSettings, open_storage

    heartbeat = HeartbeatSettings.from_environment()
    storage = open_storage(args.storage, heartbeat)
    scenario, fingerprint, plans = joined_plans(storage, args.study_name)
    data = build_optimization_data(load_market_data(scenario.data))
    if data_fingerprint(data) != fingerprint:
        raise OptimizationError(
            f"this host's data for study {args.study_name!r} differ from the data the study "
            f"was started with (source {scenario.data.source}"
            + (f", path {scenario.data.path}" if scenario.data.path else "")
            + "); give every host the same files, and the same pandas and pyarrow versions"
        )
    if remaining_trials(storage, plans) == 0:
        print(f"study {args.study_name!r} has spent its budget; nothing left to do")
        return 0
    runner = ParallelOptimizationRunner(
        scenario=scenario,
        data=data,
        storage_url=args.storage,
        study_name=args.study_name,
        n_jobs=args.n_jobs,
        data_dir=args.data_dir,
        timeout=args.timeout,
        on_progress=None if args.quiet else ProgressPrinter(),
        heartbeat=heartbeat,
        oversubscribe=args.oversubscribe,
        on_event=_print_note,
    )
    del data
    try:
        result, _ = runner.run(plans=plans)
    except OptimizationError as exc:
        if "no usable trial" not in str(exc):
            raise
        print(f"study {args.study_name!r}: {exc}")
        return 0
    states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(result.trial_states.items()))
    print(
        f"{args.study_name}: study now has {sum(result.trial_states.values())} trials "
        f"({states}); best so far {_params(result.best_params)}"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from .reporting.html import build_report

    print(f"wrote {build_report(args.run_folder)}")
    return 0


def _print_note(event: str) -> None:
    print(f"note: {event}", flush=True)


def _written(output: Path) -> str:
    """The end-of-run line: every file the run folder holds, the report first."""
    names = sorted(f"{path.name}/" if path.is_dir() else path.name for path in output.iterdir())
    names.sort(key=lambda name: name != "report.html")
    return f"\nwrote {output}/: {', '.join(names)}"


def _strategies(args: argparse.Namespace) -> int:
    from .strategies import STRATEGIES

    for name, strategy in STRATEGIES.items():
        print(f"{name}: {strategy.description}")
        for p in strategy.parameters:
            span = f" [{p.low}..{p.high}]" if p.low is not None else ""
            choices = f" {list(p.choices)}" if p.choices else ""
            print(f"    {p.name} ({p.kind}, default {p.default!r}){span}{choices}: {p.doc}")
    return 0


def _params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
