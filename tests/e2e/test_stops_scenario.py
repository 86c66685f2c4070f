"""Stops from a scenario: the example, a user's OHLC file with ATR stops, the run folder's
trade list, and the refusals a user meets on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import portfolio_backtester as pb
from portfolio_backtester.cli import main
from portfolio_backtester.config import load_scenario
from portfolio_backtester.simulation import simulate

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RULES = {"stop_loss", "take_profit", "trailing_stop"}


def test_the_example_exits_on_its_stops_and_says_why() -> None:
    result = pb.run_backtest(REPO / "examples" / "stops.yaml")
    reasons = result.trades["exit_reason"]
    stopped = reasons.isin(RULES)
    assert stopped.sum() == result.metrics["Stop Exits"] > 0
    assert set(reasons) <= RULES | {"signal", "open"}
    # Without the stops the same signal holds each position to the next crossover.
    plain = pb.run_backtest(REPO / "examples" / "sma_target_change.yaml")
    assert "Stop Exits" not in plain.metrics
    assert (plain.trades["exit_reason"] != "signal").sum() == plain.trades["open"].sum()
    held = result.trades["holding_days"].to_numpy()
    assert (held <= plain.trades["holding_days"].to_numpy()).all()
    assert (held[stopped.to_numpy()] < plain.trades["holding_days"].to_numpy()[stopped]).all()


def test_the_scenario_runs_the_engine_with_its_stops() -> None:
    """The backtest's returns are the engine's on the strategy's targets with those stops."""
    scenario = load_scenario(REPO / "examples" / "stops.yaml")
    result = pb.run_backtest(scenario)
    data = pb.load_data(scenario)
    prices = data.daily.loc[result.returns.index[0] :]
    targets = result.weights
    direct = simulate(
        prices,
        targets,
        cost_bps=20.0,
        rebalance_when="target_change",
        stop_loss=0.08,
        trailing_stop=0.15,
    )
    np.testing.assert_allclose(direct.returns.to_numpy(), result.returns.to_numpy(), atol=1e-12)


def _ohlc_file(tmp_path: Path) -> Path:
    """Ticker A rises 1 a day from 100 with a range of +-1, but on day 30 dips to 80
    intraday and closes at its trend; B is flat."""
    days = pd.bdate_range("2021-01-04", periods=60)
    close = 100.0 + np.arange(60.0)
    low = close - 1.0
    low[30] = 80.0
    rows = [
        {"date": d, "ticker": "A", "open": c, "high": c + 1, "low": lo, "close": c}
        for d, c, lo in zip(days, close, low, strict=True)
    ] + [
        {"date": d, "ticker": "B", "open": 50.0, "high": 51.0, "low": 49.0, "close": 50.0}
        for d in days
    ]
    path = tmp_path / "ohlc.csv"
    pd.DataFrame(rows).to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def _ohlc_scenario(path: Path, stops: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "ohlc-stops",
        "data": {"source": "csv", "path": str(path), "benchmark": None},
        "strategy": {"name": "buy_and_hold"},
        "costs": {"cost_bps": 0},
        "portfolio": {"stops": stops},
    }


def test_atr_stops_on_a_users_ohlc_file_trigger_on_the_low(tmp_path: Path) -> None:
    path = _ohlc_file(tmp_path)
    # The true range is 2 a day: a 5-ATR stop-loss is 10 below the entry, at 90.
    atr = pb.run_backtest(_ohlc_scenario(path, {"stop_loss": 5, "unit": "atr"}))
    exits = atr.trades.loc[atr.trades["exit_reason"] == "stop_loss"]
    assert exits["asset"].tolist() == ["A"]
    assert exits["exit_date"].iloc[0] == pd.Timestamp("2021-02-15")  # day 30
    # Filled at that day's close, 130: the position gained 30 %.
    assert exits["exit_price"].iloc[0] == pytest.approx(130.0)
    # On closes only, nothing ever falls.
    closes = pb.run_backtest(_ohlc_scenario(path, {"stop_loss": 0.05, "use_high_low": False}))
    assert closes.metrics["Stop Exits"] == 0
    ranged = pb.run_backtest(_ohlc_scenario(path, {"stop_loss": 0.05}))
    assert ranged.metrics["Stop Exits"] == 1


def test_the_run_folder_lists_why_each_trade_closed(tmp_path: Path, write_scenario: Any) -> None:
    scenario = write_scenario(_ohlc_scenario(_ohlc_file(tmp_path), {"trailing_stop": 0.1}))
    out = tmp_path / "run"
    assert (
        main(["backtest", "--scenario", str(scenario), "--output", str(out), "-q", "--no-report"])
        == 0
    )
    trades = pd.read_csv(out / "trades.csv")
    assert trades.columns[-1] == "exit_reason"
    assert trades.set_index("asset")["exit_reason"].to_dict() == {
        "A": "trailing_stop",
        "B": "open",
    }


@pytest.mark.parametrize(
    ("stops", "message"),
    [
        ({"stop_loss": 2, "unit": "atr"}, "unit: atr needs daily highs and lows"),
        ({"stop_loss": 1.5}, "stop_loss is a fraction of the price below 1"),
        ({"trailing_stop": 0}, "greater than 0"),
        ({"stop_loss": 2, "unit": "atr", "use_high_low": False}, "remove use_high_low"),
        ({"stop": 0.1}, "stop"),
    ],
)
def test_bad_stops_end_with_one_error_line(
    stops: dict[str, Any],
    message: str,
    tmp_path: Path,
    write_scenario: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = write_scenario(
        {
            "name": "bad-stops",
            "data": {"universe": ["AAPL"], "start": "2015-01-02", "end": "2016-12-30"},
            "strategy": {"name": "buy_and_hold"},
            "portfolio": {"stops": stops},
        }
    )
    out = tmp_path / "run"
    assert main(["backtest", "--scenario", str(scenario), "--output", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert message in err[0]
    assert not out.exists()


def test_searching_a_stop_is_refused_with_the_reason(
    tmp_path: Path, write_scenario: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(
        {
            "name": "stop-search",
            "data": {"universe": ["AAPL", "KO"], "start": "2015-01-02", "end": "2018-12-31"},
            "strategy": {"name": "simple_momentum"},
            "portfolio": {"stops": {"stop_loss": 0.1}},
            "optimize": {
                "trials": 4,
                "params": {"stops.stop_loss": {"type": "float", "low": 0.05, "high": 0.2}},
            },
        }
    )
    out = tmp_path / "run"
    assert main(["optimize", "--scenario", str(scenario), "--output", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: optimize.params.stops.stop_loss"), err
    assert "set them in portfolio.stops" in err[0]
    assert not out.exists()
