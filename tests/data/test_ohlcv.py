"""Highs, lows and volumes: read from files and DataFrames, adjusted with the closes,
checked, and carried to every worker with the rest of the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import portfolio_backtester as pb
from portfolio_backtester.config import DataConfig
from portfolio_backtester.data import MarketData, build_optimization_data, load_market_data
from portfolio_backtester.errors import DataError, ScenarioError
from portfolio_backtester.optimization.data_context import open_data_context, write_data_context


def _load(tmp_path: Path, text: str, name: str = "prices.csv") -> MarketData:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_market_data(DataConfig(source="csv", path=path, benchmark=None))


def test_adjusted_closes_adjust_highs_lows_and_volumes_so_traded_value_stays(
    tmp_path: Path,
) -> None:
    """A 2-for-1 split adjusted away halves the early prices and doubles the early volume:
    price times volume, the traded value, is what it was on the day."""
    text = (
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2021-01-04,9,11,8,10,5,1000\n"
        "2021-01-05,11,13,10,12,12,400\n"
    )
    market = _load(tmp_path, text, "KO.csv")
    assert market.prices["KO"].tolist() == [5.0, 12.0]
    assert market.open is not None and market.open["KO"].tolist() == [4.5, 11.0]
    assert market.high is not None and market.high["KO"].tolist() == [5.5, 13.0]
    assert market.low is not None and market.low["KO"].tolist() == [4.0, 10.0]
    assert market.volume is not None and market.volume["KO"].tolist() == [2000.0, 400.0]
    traded = market.prices["KO"] * market.volume["KO"]
    assert traded.tolist() == [10.0 * 1000, 12.0 * 400]


def test_without_a_close_the_other_fields_cannot_be_adjusted_and_are_dropped(
    tmp_path: Path,
) -> None:
    text = "Date,High,Low,Adj Close,Volume\n2021-01-04,6,4,5,10\n2021-01-05,7,5,6,10\n"
    market = _load(tmp_path, text, "KO.csv")
    assert market.high is None and market.low is None and market.volume is None


def test_a_long_file_reads_each_field_per_ticker(tmp_path: Path) -> None:
    text = (
        "date,ticker,open,high,low,close,volume\n"
        "2021-01-04,A,10,11,9,10.5,100\n2021-01-05,A,10.5,12,10,11,\n"
        "2021-01-04,B,20,21,19,20,300\n2021-01-05,B,20,22,20,21,400\n"
    )
    market = _load(tmp_path, text)
    assert market.high is not None and market.low is not None and market.volume is not None
    assert market.high.loc["2021-01-05"].tolist() == [12.0, 22.0]
    assert market.low["B"].tolist() == [19.0, 20.0]
    # A missing volume stays missing: unknown is not zero, and is not carried forward.
    assert market.volume["A"].iloc[0] == 100.0 and np.isnan(market.volume["A"].iloc[1])


def test_a_wide_file_has_closes_only(tmp_path: Path) -> None:
    market = _load(tmp_path, "date,A,B\n2021-01-04,1,2\n2021-01-05,2,3\n")
    assert (market.open, market.high, market.low, market.volume) == (None, None, None, None)


@pytest.mark.parametrize(
    ("volume", "message"),
    [("-5", "volume -5.0 in column 'A' at 2021-01-05 is not a number of shares >= 0")],
)
def test_a_negative_volume_is_refused_with_its_place(
    tmp_path: Path, volume: str, message: str
) -> None:
    text = (
        "date,ticker,close,volume\n"
        f"2021-01-04,A,10,100\n2021-01-05,A,11,{volume}\n2021-01-04,B,5,1\n2021-01-05,B,5,1\n"
    )
    with pytest.raises(DataError, match=message):
        _load(tmp_path, text)


def test_a_low_above_the_high_is_refused(tmp_path: Path) -> None:
    text = "Date,High,Low,Close\n2021-01-04,11,9,10\n2021-01-05,10,12,11\n"
    with pytest.raises(DataError, match=r"low 12.0 is above high 10.0 .* at 2021-01-05"):
        _load(tmp_path, text, "KO.csv")


def test_dataframes_given_in_python_take_the_same_path() -> None:
    days = pd.bdate_range("2021-01-04", periods=3)
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0]}, index=days)
    volume = pd.DataFrame({"A": [1e6, 2e6, np.nan]}, index=days)
    data = pb.load_data({"data": {"benchmark": None}}, prices=closes, volume=volume)
    assert data.volume is not None
    assert data.volume["A"].iloc[:2].tolist() == [1e6, 2e6]
    with pytest.raises(DataError, match="volume DataFrame: column 'Z' has no closes"):
        pb.load_data(
            {"data": {"benchmark": None}}, prices=closes, volume=volume.rename(columns={"A": "Z"})
        )
    with pytest.raises(ScenarioError, match="volume= go with prices="):
        pb.load_data(None, volume=volume)


def test_workers_map_the_highs_lows_and_volumes_with_the_rest(tmp_path: Path) -> None:
    days = pd.bdate_range("2021-01-04", periods=4)
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0, 11.5], "B": [5.0, 5.5, 5.2, 5.1]}, index=days)
    market = MarketData(
        prices=closes,
        benchmark=None,
        high=closes * 1.01,
        low=closes * 0.99,
        volume=pd.DataFrame({"A": [1.0, 2.0, 3.0, 4.0], "B": [5.0, np.nan, 7.0, 8.0]}, index=days),
    )
    data = build_optimization_data(market)
    assert list(data.frames()) == [
        "daily",
        "monthly",
        "returns",
        "benchmark",
        "high",
        "low",
        "volume",
    ]
    opened = open_data_context(write_data_context(data, tmp_path))
    for name in ("high", "low", "volume"):
        pd.testing.assert_frame_equal(getattr(opened, name), getattr(data, name))
