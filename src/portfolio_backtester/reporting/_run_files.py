"""The run folder's file names and how each kind of file is encoded, written and read back.

:mod:`.run_folder` decides what goes into a run folder; this module knows the formats:
JSON without NaN, YAML of plain values, dated CSV frames, and the holdings and trades
files of a backtest.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import DataError
from ..metrics.trades import typed_labels

__all__ = [
    "BACKTEST_FILES",
    "CASH",
    "COST_PREFIX",
    "HOLDINGS",
    "MONTE_CARLO",
    "RESULT_FILES",
    "TRADES",
    "finite",
    "jsonable",
    "plain",
    "read_frame",
    "read_holdings",
    "read_json",
    "read_trades",
    "read_yaml",
    "write_holdings",
    "write_json",
    "write_trades",
]

METRICS = "metrics.json"
RETURNS = "returns.csv"
WEIGHTS = "weights.csv"
HOLDINGS = "holdings.csv"
TRADES = "trades.csv"
EQUITY = "equity.png"
RUN = "run.json"
BEST_PARAMS = "best_params.yaml"
TRIALS = "trials.csv"
WINDOWS = "windows.csv"
OOS_RETURNS = "oos_returns.csv"
HOLDOUT_RETURNS = "holdout_returns.csv"
MONTE_CARLO = "monte_carlo.csv"
COST_PREFIX = "cost_"
"""returns.csv's columns of the costs by kind: cost_bps, cost_commission, cost_per_share, ..."""
BACKTEST_FILES = (METRICS, RETURNS, WEIGHTS, HOLDINGS, TRADES, EQUITY, RUN)
RESULT_FILES = (
    *BACKTEST_FILES,
    BEST_PARAMS,
    TRIALS,
    WINDOWS,
    OOS_RETURNS,
    HOLDOUT_RETURNS,
    MONTE_CARLO,
    "report.html",
)
"""Everything a run writes into its folder; files of an earlier run not written again by
this one are removed, so that a folder never mixes two runs."""

CASH = "cash"
"""The last column of holdings.csv: the share of the portfolio's value not in any asset
(negative when levered). Read back, it is left out of ``RunFolder.holdings``."""

_TRADE_DATES = ("entry_date", "exit_date")


def write_holdings(path: Path, holdings: pd.DataFrame) -> None:
    """Daily weights after drift, one column per asset, then the cash share."""
    frame = holdings.assign(**{CASH: 1.0 - holdings.sum(axis=1)})
    frame.rename_axis("date").to_csv(path, date_format="%Y-%m-%d")


def read_holdings(run_dir: Path) -> pd.DataFrame | None:
    """holdings.csv without its cash column, or None for a folder written before it."""
    if not (run_dir / HOLDINGS).is_file():
        return None
    frame = read_frame(run_dir, HOLDINGS, (CASH,))
    if frame.columns[-1] != CASH:
        raise DataError(
            f"{run_dir}: {HOLDINGS} should end with a {CASH!r} column; found {list(frame.columns)}"
        )
    return frame.iloc[:, :-1]


def write_trades(path: Path, trades: pd.DataFrame) -> None:
    """One row per trade, dates as YYYY-MM-DD."""
    trades.to_csv(path, index=False, date_format="%Y-%m-%d")


def read_trades(run_dir: Path) -> pd.DataFrame | None:
    """trades.csv with its dates parsed, or None for a folder written before it."""
    if not (run_dir / TRADES).is_file():
        return None
    frame = read_frame(run_dir, TRADES, ("asset", *_TRADE_DATES), index=False)
    frame["asset"] = frame["asset"].astype(str)
    for column in _TRADE_DATES:
        try:
            frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
        except ValueError as exc:
            raise DataError(f"{run_dir}: {TRADES} has a bad {column} ({exc})") from None
    return typed_labels(frame)


def write_json(path: Path, value: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def finite(values: Mapping[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: undefined metrics are written as null."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in values.items()
    }


def plain(value: Any) -> Any:
    """Numpy scalars and tuples as plain YAML-safe values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def jsonable(value: Any) -> Any:
    """Numbers, lists and mappings as JSON values; NaN and infinities as null."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_json(run_dir: Path, name: str) -> dict[str, Any]:
    text = _read_text(run_dir, name)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DataError(f"{run_dir}: {name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{run_dir}: {name} should hold a JSON object, not {type(value).__name__}")
    return value


def read_yaml(run_dir: Path, name: str) -> dict[str, Any]:
    text = _read_text(run_dir, name)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{run_dir}: {name} is not valid YAML ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{run_dir}: {name} should hold a mapping")
    return value


def read_frame(
    run_dir: Path, name: str, columns: Sequence[str], *, index: bool = True
) -> pd.DataFrame:
    """A CSV of the run folder, dated index first when ``index``, with the columns we use."""
    text = _read_text(run_dir, name)  # a missing file gets the same message as the JSON files
    try:
        frame = pd.read_csv(io.StringIO(text), index_col=0 if index else None, parse_dates=index)
    except ValueError as exc:
        raise DataError(f"{run_dir}: cannot read {name} ({exc})") from None
    if index and not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{run_dir}: {name} should start with a date column")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{run_dir}: {name} lacks column(s) {', '.join(missing)}; found {list(frame.columns)}"
        )
    return frame


def _read_text(run_dir: Path, name: str) -> str:
    try:
        return (run_dir / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"{run_dir}: missing {name} — is this the output folder of a backtest or optimize run?"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{run_dir}: cannot read {name} ({exc})") from None
