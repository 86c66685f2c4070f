"""Loading user price files: both layouts, both formats, and every refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.config import DataConfig
from portfolio_backtester.data import build_optimization_data, load_market_data
from portfolio_backtester.errors import DataError


def _wide(tmp_path: Path, text: str) -> DataConfig:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return DataConfig(source="csv", path=path, benchmark=None)


def test_builtin_has_20_stocks_and_the_index() -> None:
    market = load_market_data(DataConfig())
    assert market.prices.shape == (8313, 20)
    assert market.benchmark is not None and market.benchmark.name == "SP500"
    assert market.prices.index[0] == pd.Timestamp("1990-01-02")


def test_wide_csv_round_trips_values(tmp_path: Path, sp500: tuple[pd.DataFrame, ...]) -> None:
    prices = sp500[0].iloc[:300, :4]
    path = tmp_path / "wide.csv"
    prices.rename_axis("Date").to_csv(path)
    market = load_market_data(DataConfig(source="csv", path=path, benchmark=None))
    pd.testing.assert_frame_equal(market.prices, prices, check_freq=False)


def test_parquet_long_form_with_open_prices(tmp_path: Path) -> None:
    dates = pd.bdate_range("2020-01-01", periods=30)
    rows = []
    for i, date in enumerate(dates):
        for j, ticker in enumerate(["AAA", "BBB"]):
            rows.append(
                {"date": date, "ticker": ticker, "open": 10.0 + i + j, "close": 10.5 + i + j}
            )
    path = tmp_path / "long.parquet"
    pd.DataFrame(rows).to_parquet(path)
    market = load_market_data(DataConfig(source="parquet", path=path, benchmark=None))
    assert list(market.prices.columns) == ["AAA", "BBB"]
    assert market.open is not None
    assert market.prices.loc[dates[3], "BBB"] == 14.5
    assert market.open.loc[dates[3], "BBB"] == 14.0


def test_long_form_field_value_layout(tmp_path: Path) -> None:
    text = "date,ticker,field,value\n" + "".join(
        f"2021-01-{d:02d},X,close,{d}\n2021-01-{d:02d},Y,close,{2 * d}\n" for d in range(4, 9)
    )
    market = load_market_data(_wide(tmp_path, text))
    assert market.prices["Y"].tolist() == [8.0, 10.0, 12.0, 14.0, 16.0]


def test_ticker_listed_later_is_nan_before_its_first_price(tmp_path: Path) -> None:
    text = "date,A,B\n2021-01-04,1,\n2021-01-05,1.1,\n2021-01-06,1.2,5\n2021-01-07,1.3,5.5\n"
    market = load_market_data(_wide(tmp_path, text))
    assert market.prices["B"].isna().tolist() == [True, True, False, False]
    data = build_optimization_data(market)
    assert np.isnan(data.returns["B"].iloc[2])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date,A\n2021-01-04,1\n2021-01-04,2\n", "duplicate date 2021-01-04"),
        ("date,A\n2021-01-05,1\n2021-01-04,2\n", "not sorted"),
        ("date,A\nnot-a-date,1\n2021-01-04,2\n", "cannot parse date 'not-a-date'"),
        ("date,A\n2021-01-04,1\n2021-01-05,abc\n", "non-numeric value 'abc' in column 'A'"),
        ("date,A\n2021-01-04,1\n2021-01-05,-2\n", "column 'A' at 2021-01-05 is not positive"),
        ("date,A\n2021-01-04,1\n2021-01-05,0\n", "is not positive"),
        ("date,A,B\n2021-01-04,1,\n2021-01-05,2,\n", "column 'B' has no prices"),
        ("date,A\n2021-01-04,1\n2021-06-04,2\n", "a gap of 151 days"),
        ("date,A\n2021-01-04,1\n", "need at least 2 rows"),
    ],
)
def test_bad_files_are_refused_with_the_place_named(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        load_market_data(_wide(tmp_path, text))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file not found: .*nope\.csv"):
        load_market_data(DataConfig(source="csv", path=tmp_path / "nope.csv"))


def test_unknown_universe_ticker_suggests_a_close_one() -> None:
    with pytest.raises(DataError, match="'APPL' is not in the data \\(did you mean 'AAPL'\\?\\)"):
        load_market_data(DataConfig(universe=["APPL", "MSFT"]))


def test_start_outside_the_data_is_refused() -> None:
    with pytest.raises(DataError, match="start 1980-01-01 is outside the data"):
        load_market_data(DataConfig(start="1980-01-01"))


def test_benchmark_from_a_ticker_of_the_universe() -> None:
    market = load_market_data(DataConfig(universe=["AAPL", "MSFT"], benchmark="KO"))
    assert market.benchmark is not None and market.benchmark.name == "KO"
    assert list(market.prices.columns) == ["AAPL", "MSFT"]


def test_synthetic_source_is_reproducible() -> None:
    config = DataConfig(source="synthetic", synthetic={"n_assets": 3, "n_years": 1, "seed": 7})
    first = load_market_data(config).prices
    pd.testing.assert_frame_equal(first, load_market_data(config).prices)
    assert first.shape == (252, 3)
