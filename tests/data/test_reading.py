"""Reading price files: dates to calendar days, a file's layout, its dialect, its benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.config import DataConfig
from portfolio_backtester.data import MarketData, load_market_data
from portfolio_backtester.data.csv_dialect import Dialect, sniff_dialect
from portfolio_backtester.data.dates import parse_dates
from portfolio_backtester.errors import DataError

DAYS = pd.DatetimeIndex(["2021-01-04", "2021-01-05", "2021-01-06"], name="date")


def _days(values: list[object], date_format: str | None = None) -> pd.DatetimeIndex:
    return parse_dates(
        pd.Series(values), where="f.csv: column 'date'", first_row=2, date_format=date_format
    )


@pytest.mark.parametrize(
    ("values", "date_format"),
    [
        (["2021-01-04", "2021-01-05", "2021-01-06"], None),
        ([20210104, 20210105, 20210106], None),
        (["20210104", "20210105", "20210106"], None),
        ([20210104.0, 20210105.0, 20210106.0], None),
        ([44200, 44201, 44202], "excel"),
        ([44200.75, 44201.75, 44202.75], "excel"),
        ([1609794000, 1609880400, 1609966800], "unix_s"),  # 21:00 UTC
        ([1609718400000, 1609804800000, 1609891200000], "unix_ms"),
        (["04/01/2021", "05/01/2021", "06/01/2021"], "%d/%m/%Y"),
        (["2021-01-04 16:00", "2021-01-05 16:00", "2021-01-06 16:00"], None),
        (["2021-01-04T16:00:00-05:00", "2021-01-05T16:00-05:00", "2021-01-06T16:00Z"], None),
        (["2021-01-04T00:00:00+01:00", "2021-01-05 00:00:00+0100", "2021-01-06 00:00 UTC"], None),
        (["Jan 4, 2021", "Jan 5, 2021", "Jan 6, 2021"], None),
        (["04-Jan-2021", "05-Jan-2021", "06-Jan-2021"], None),
        (["2021-01-04 09:30 +0900", "2021-01-05 09:30 +0900", "2021-01-06 09:30 +0900"], None),
    ],
)
def test_dates_are_the_calendar_day_as_written(
    values: list[object], date_format: str | None
) -> None:
    pd.testing.assert_index_equal(_days(values, date_format), DAYS.as_unit("us"))


def test_the_month_comes_first_when_a_second_field_is_above_12() -> None:
    days = _days(["1/4/2021", "1/13/2021"])
    assert list(days.strftime("%Y-%m-%d")) == ["2021-01-04", "2021-01-13"]


def test_tz_aware_timestamps_keep_their_own_wall_clock() -> None:
    stamps = pd.Series(pd.DatetimeIndex(DAYS + pd.Timedelta("23h")).tz_localize("Asia/Tokyo"))
    pd.testing.assert_index_equal(_days(list(stamps)), DAYS.as_unit("us"))
    typed = parse_dates(stamps, where="f", first_row=1)
    pd.testing.assert_index_equal(typed, DAYS.as_unit("us"))


@pytest.mark.parametrize(
    ("values", "date_format", "expected"),
    [
        ([40182, 40183], None, "date_format: excel reads it as 2010-01-04"),
        ([100.5, 101.25], None, "holds numbers such as 100.5 (row 2), not dates"),
        ([20210104, 20210132], None, "cannot parse date '20210132' at row 3"),
        (["2021-01-04", ""], None, "missing date at row 3"),
        (["2021-01-04", None], None, "missing date at row 3"),
        (["2021-01-04", "soon"], None, "cannot parse date 'soon' at row 3"),
        (["1/2/2021", "3/4/2021"], None, "may be day-first or month-first"),
        (["13/1/2021", "1/13/2021"], None, "day first at row 2 ('13/1/2021') and the month"),
        (["2021-01-04", "2021-01-05"], "excel", "date_format 'excel' expects a number"),
        ([1e15, 1e15 + 1], "unix_s", "not between 1800 and 2200"),
        (["2021-01-04", "04.01.2021"], "%Y-%m-%d", "'04.01.2021' at row 3: expected the date"),
        (["1799-12-31", "2021-01-04"], None, "outside 1800 to 2200"),
        ([True, False], None, "true/false"),
    ],
)
def test_dates_that_cannot_be_known_are_refused_with_the_row(
    values: list[object], date_format: str | None, expected: str
) -> None:
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        _days(values, date_format)


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ("date,A,B\n2021-01-04,1.5,2\n", Dialect(",", ".")),
        ("date;A;B\n2021-01-04;1,5;2,25\n", Dialect(";", ",")),
        ("date;A;B\n2021-01-04;1.5;2\n", Dialect(";", ".")),
        ("date\tA\n2021-01-04\t1.5\n", Dialect("\t", ".")),
        ('date,A\n2021-01-04,"1,5"\n', Dialect(",", ",")),
        ("date|A|B\n2021-01-04|1|2\n", Dialect("|", ".")),
        ("just one column\n1\n", None),
    ],
)
def test_sniffing_finds_the_separator_and_the_decimal_mark(
    text: str, dialect: Dialect | None, tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    assert sniff_dialect(path) == dialect


def _load(tmp_path: Path, text: str, name: str = "f.csv", **options: object) -> MarketData:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_market_data(DataConfig(source="csv", path=path, benchmark=None, **options))


def test_adjusted_closes_adjust_the_opens_by_the_same_factor(tmp_path: Path) -> None:
    text = "Date,Open,Close,Adj Close\n2021-01-04,9,10,5\n2021-01-05,11,12,6\n"
    market = _load(tmp_path, text, "KO.csv")
    assert market.prices["KO"].tolist() == [5.0, 6.0]
    assert market.open is not None and market.open["KO"].tolist() == [4.5, 5.5]


def test_opens_without_a_close_to_adjust_them_are_dropped(tmp_path: Path) -> None:
    market = _load(tmp_path, "Date,Open,Adj Close\n2021-01-04,9,5\n2021-01-05,11,6\n", "KO.csv")
    assert market.open is None and market.prices["KO"].tolist() == [5.0, 6.0]


def test_a_long_file_prefers_adjusted_closes_and_keeps_tickers_as_text(tmp_path: Path) -> None:
    text = (
        "date,symbol,close,adj_close\n"
        "2021-01-04,1301,10,5\n2021-01-05,1301,12,6\n2021-01-04,7203,8,8\n2021-01-05,7203,9,9\n"
    )
    market = _load(tmp_path, text)
    assert list(market.prices.columns) == ["1301", "7203"]
    assert market.prices["1301"].tolist() == [5.0, 6.0]


def test_layout_wide_still_reads_ohlcv_as_one_ticker(tmp_path: Path) -> None:
    text = "date,open,high,low,close,volume\n2021-01-04,1,2,1,2,9\n2021-01-05,2,3,1,3,9\n"
    market = _load(tmp_path, text, "X.csv", layout="wide")
    assert list(market.prices.columns) == ["X"]


def test_a_single_column_named_like_a_ticker_field_stays_a_ticker(tmp_path: Path) -> None:
    market = _load(tmp_path, "date,LOW\n2021-01-04,1\n2021-01-05,2\n")  # Lowe's
    assert list(market.prices.columns) == ["LOW"]


def test_an_unnamed_first_column_is_the_dates(tmp_path: Path) -> None:
    market = _load(tmp_path, ",A\n2021-01-04,1\n2021-01-05,2\n")
    assert market.prices.index[0] == pd.Timestamp("2021-01-04")


def test_a_benchmark_file_with_two_series_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("date,A\n2021-01-04,1\n2021-01-05,2\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("date,X,Y\n2021-01-04,1,1\n2021-01-05,2,2\n", "utf-8")
    config = DataConfig(source="csv", path=tmp_path / "p.csv", benchmark_path=tmp_path / "b.csv")
    with pytest.raises(DataError, match="holds one series, this one has 2 \\(X, Y\\)"):
        load_market_data(config)


def test_a_benchmark_on_other_dates_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("date,A\n2021-01-04,1\n2021-01-05,2\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("date,X\n2020-01-06,1\n2020-01-07,2\n", "utf-8")
    config = DataConfig(source="csv", path=tmp_path / "p.csv", benchmark_path=tmp_path / "b.csv")
    with pytest.raises(DataError, match="no price on any date of the prices"):
        load_market_data(config)


def test_a_benchmark_dated_with_offsets_lines_up(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("date,A\n2021-01-04,1\n2021-01-05,2\n", encoding="utf-8")
    bench = "Date,Open,Close\n2021-01-04T16:00-05:00,1,3\n2021-01-05T16:00-05:00,1,4\n"
    (tmp_path / "SPX.csv").write_text(bench, "utf-8")
    config = DataConfig(source="csv", path=tmp_path / "p.csv", benchmark_path=tmp_path / "SPX.csv")
    market = load_market_data(config)
    assert market.benchmark is not None and market.benchmark.name == "SPX"
    np.testing.assert_array_equal(market.benchmark.to_numpy(), [3.0, 4.0])


def test_a_non_utf8_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_bytes("date,Soci\xe9t\xe9\n2021-01-04,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="is not UTF-8 text"):
        load_market_data(DataConfig(source="csv", path=tmp_path / "f.csv", benchmark=None))
