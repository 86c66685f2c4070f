"""Inputs that used to give a wrong number that looks right: each is read right or refused.

One section per class of input (numeric dates, time zones, one-ticker OHLCV files,
duplicate names, calendar holes, impossible scenario values, separators and decimal marks,
YAML bombs). Every case goes through the command line on real files: an accepted variant
backtests exactly like its plain twin (ISO dates, commas, one column per ticker); a refused
one ends with exit code 2, one ``error:`` line naming the file and the fix, no traceback,
and no output folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from portfolio_backtester.cli import main
from portfolio_backtester.config import MAX_MESSAGE, DataConfig
from portfolio_backtester.data import load_market_data
from portfolio_backtester.errors import DataError, ScenarioError
from portfolio_backtester.strategies import STRATEGIES

pytestmark = pytest.mark.e2e

DATES = pd.bdate_range("2010-01-04", periods=120)
PRICES = pd.DataFrame(
    np.round(
        100 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.01, (120, 3)), axis=0)), 6
    ),
    index=DATES.rename("date"),
    columns=pd.Index(["AAA", "BBB", "CCC"]),
)
EQUAL_WEIGHT = {"name": "equal_weight", "params": {"rebalance": "monthly"}}
Writer = Callable[[Path], object]


def _text(text: str) -> Writer:
    return lambda path: path.write_text(text, encoding="utf-8")


def _csv(frame: pd.DataFrame, **options: Any) -> Writer:
    return lambda path: frame.to_csv(path, **options)


def _with_index(values: Any, frame: pd.DataFrame = PRICES) -> pd.DataFrame:
    """The prices with other dates (numbers, text with offsets) in their date column."""
    return frame.set_axis(pd.Index(values, name="date"), axis=0)


def _backtest(
    folder: Path,
    files: dict[str, Writer],
    data: dict[str, Any],
    strategy: dict[str, Any] | None = None,
    quiet: bool = True,
) -> int:
    """Write the files and a scenario into ``folder``, run the command line, return its code."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, write in files.items():
        write(folder / name)
    document = {
        "name": "inputs",
        "data": {"benchmark": None, **data},
        "strategy": strategy or EQUAL_WEIGHT,
    }
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    args = ["backtest", "--scenario", str(scenario), "--output", str(folder / "out")]
    return main([*args, "--no-report", *(["-q"] if quiet else [])])


def _assert_refused(
    code: int, capsys: pytest.CaptureFixture[str], folder: Path, *needles: str
) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not (folder / "out").exists(), "nothing is written for refused input"
    return lines[0]


def _assert_same_backtest(folder: Path, twin: Path) -> None:
    for name in ("returns.csv", "weights.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(folder / "out" / name), pd.read_csv(twin / "out" / name)
        )


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plain file: ISO dates, commas, decimal points, one column per ticker."""
    folder = tmp_path_factory.mktemp("twin")
    assert _backtest(folder, {"p.csv": _csv(PRICES)}, {"source": "csv", "path": "p.csv"}) == 0
    return folder


# 1. Dates stored as numbers ------------------------------------------------------------

NUMERIC_DATES_READ: dict[str, tuple[str, Writer, dict[str, Any]]] = {
    "yyyymmdd": ("p.csv", _csv(_with_index(DATES.strftime("%Y%m%d").astype(int))), {}),
    "yyyymmdd in parquet": (
        "p.parquet",
        lambda p: _with_index(DATES.strftime("%Y%m%d").astype(int)).reset_index().to_parquet(p),
        {},
    ),
    "excel serial": (
        "p.csv",
        _csv(_with_index((DATES - pd.Timestamp("1899-12-30")).days)),
        {"date_format": "excel"},
    ),
    "unix seconds at 21:00 UTC": (
        "p.csv",
        _csv(_with_index((DATES + pd.Timedelta("21h") - pd.Timestamp("1970")).total_seconds())),
        {"date_format": "unix_s"},
    ),
    "unix milliseconds": (
        "p.csv",
        _csv(_with_index((DATES - pd.Timestamp("1970")) // pd.Timedelta("1ms"))),
        {"date_format": "unix_ms"},
    ),
    "a strftime pattern": (
        "p.csv",
        _csv(_with_index(DATES.strftime("%d.%m.%Y"))),
        {"date_format": "%d.%m.%Y"},
    ),
    "day first, told by days above 12": (
        "p.csv",
        _csv(_with_index(DATES.strftime("%d/%m/%Y"))),
        {},
    ),
    "parquet with a DatetimeIndex": (
        "p.parquet",
        lambda p: PRICES.rename_axis(None).to_parquet(p),
        {},
    ),
    "parquet with a named DatetimeIndex": (
        "p.parquet",
        lambda p: PRICES.rename_axis("Date").to_parquet(p),
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(NUMERIC_DATES_READ))
def test_numeric_dates_read_as_the_days_they_are(case: str, tmp_path: Path, twin: Path) -> None:
    name, write, options = NUMERIC_DATES_READ[case]
    source = "parquet" if name.endswith(".parquet") else "csv"
    assert _backtest(tmp_path, {name: write}, {"source": source, "path": name, **options}) == 0
    _assert_same_backtest(tmp_path, twin)


NUMERIC_DATES_REFUSED: dict[str, tuple[str, Writer, dict[str, Any], str]] = {
    "excel serial without date_format": (
        "p.csv",
        _csv(_with_index((DATES - pd.Timestamp("1899-12-30")).days)),
        {},
        "such as 40182 (row 2)",
    ),
    "unix seconds without date_format": (
        "p.csv",
        _csv(_with_index((DATES - pd.Timestamp("1970")).total_seconds().astype(int))),
        {},
        "date_format: unix_s reads it as 2010-01-04",
    ),
    "unix milliseconds without date_format": (
        "p.csv",
        _csv(_with_index((DATES - pd.Timestamp("1970")) // pd.Timedelta("1ms"))),
        {},
        "date_format: unix_ms reads it as 2010-01-04",
    ),
    "milliseconds read as seconds": (
        "p.csv",
        _csv(_with_index((DATES - pd.Timestamp("1970")) // pd.Timedelta("1ms"))),
        {"date_format": "unix_s"},
        "not between 1800 and 2200",
    ),
    "an impossible YYYYMMDD": (
        "p.csv",
        _text("date,AAA\n20100104,1\n20100230,2\n20100301,3\n"),
        {},
        "cannot parse date '20100230' at row 3",
    ),
    "prices first and no date column": (
        "p.csv",
        _csv(PRICES, index=False),
        {},
        "column 'AAA': holds numbers such as",
    ),
    "parquet without its dates": (
        "p.parquet",
        lambda p: PRICES.reset_index(drop=True).to_parquet(p),
        {},
        "prices are never read as dates",
    ),
    "day or month first, untold": (
        "p.csv",
        _csv(_with_index(DATES[:7].strftime("%d/%m/%Y"), PRICES.iloc[:7])),  # days 4 to 12
        {},
        "date_format: '%d/%m/%Y' (day first) or date_format: '%m/%d/%Y'",
    ),
}


@pytest.mark.parametrize("case", sorted(NUMERIC_DATES_REFUSED))
def test_numeric_dates_of_unknown_meaning_are_refused_with_the_option(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, write, options, expected = NUMERIC_DATES_REFUSED[case]
    source = "parquet" if name.endswith(".parquet") else "csv"
    code = _backtest(tmp_path, {name: write}, {"source": source, "path": name, **options})
    _assert_refused(code, capsys, tmp_path, name, expected)


# 2. Time zones and times of day ---------------------------------------------------------


def _stamped(zone: str | None, time: str, fmt: str | None = None) -> pd.DataFrame:
    stamps = DATES + pd.Timedelta(time)
    if zone is not None:
        stamps = stamps.tz_localize(zone)
    return _with_index(stamps.strftime(fmt) if fmt else stamps.map(lambda t: t.isoformat()))


TIME_ZONES_READ: dict[str, tuple[str, Writer]] = {
    "midnight in Berlin (+01:00)": ("p.csv", _csv(_stamped("Europe/Berlin", "0h"))),
    "16:00 in New York (-05:00)": ("p.csv", _csv(_stamped("America/New_York", "16h"))),
    "15:00 in Tokyo (+09:00)": ("p.csv", _csv(_stamped("Asia/Tokyo", "15h"))),
    "Z": ("p.csv", _csv(_stamped("UTC", "0h", "%Y-%m-%dT%H:%M:%SZ"))),
    "a time of day, no zone": ("p.csv", _csv(_stamped(None, "16h", "%Y-%m-%d %H:%M:%S"))),
    "parquet, New York 16:00": (
        "p.parquet",
        lambda p: (
            PRICES.set_axis(DATES.tz_localize("America/New_York") + pd.Timedelta("16h"))
            .rename_axis("date")
            .to_parquet(p)
        ),
    ),
    "parquet, Sydney midnight": (
        "p.parquet",
        lambda p: PRICES.tz_localize("Australia/Sydney").to_parquet(p),
    ),
}


@pytest.mark.parametrize("case", sorted(TIME_ZONES_READ))
def test_prices_keep_the_exchanges_calendar_day(case: str, tmp_path: Path, twin: Path) -> None:
    name, write = TIME_ZONES_READ[case]
    source = "parquet" if name.endswith(".parquet") else "csv"
    last = f"{DATES[-1]:%Y-%m-%d}"
    assert _backtest(tmp_path, {name: write}, {"source": source, "path": name, "end": last}) == 0
    _assert_same_backtest(tmp_path, twin)
    assert pd.read_csv(tmp_path / "out" / "returns.csv")["date"].iloc[-1] == last


def test_a_date_only_benchmark_lines_up_with_prices_dated_at_16_00(tmp_path: Path) -> None:
    files = {
        "p.csv": _csv(_stamped("America/New_York", "16h")),
        "index.csv": _csv(PRICES[["AAA"]].rename(columns={"AAA": "IDX"})),
    }
    data = {"source": "csv", "path": "p.csv", "benchmark_path": "index.csv"}
    assert _backtest(tmp_path, files, data) == 0
    returns = pd.read_csv(tmp_path / "out" / "returns.csv", index_col="date").iloc[1:]
    expected = PRICES["AAA"].pct_change().set_axis(DATES.strftime("%Y-%m-%d"))
    np.testing.assert_allclose(returns["benchmark"], expected.loc[returns.index], atol=1e-12)


SAME_DAY: dict[str, tuple[str, str]] = {
    "wide": (
        "date,AAA\n2010-01-04 09:30,1\n2010-01-04 16:00,2\n2010-01-05 16:00,3\n",
        "duplicate date 2010-01-04 at rows 2 ('2010-01-04 09:30') and 3 ('2010-01-04 16:00')",
    ),
    "wide, two offsets": (
        "date,AAA\n2010-01-04T00:00:00+01:00,1\n2010-01-04T23:00:00-05:00,2\n2010-01-05,3\n",
        "duplicate date 2010-01-04 at rows 2",
    ),
    "long": (
        "date,ticker,close\n2010-01-04 09:30,AAA,1\n2010-01-04 16:00,AAA,2\n2010-01-05,AAA,3\n",
        "rows 2 and 3 have the same date and ticker (2010-01-04, 'AAA')",
    ),
}


@pytest.mark.parametrize("case", sorted(SAME_DAY))
def test_two_rows_on_one_calendar_day_are_refused_naming_both(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = SAME_DAY[case]
    code = _backtest(tmp_path, {"p.csv": _text(text)}, {"source": "csv", "path": "p.csv"})
    _assert_refused(code, capsys, tmp_path, "p.csv", expected)


# 3. A one-ticker OHLCV file ---------------------------------------------------------------


def _ohlcv(names: dict[str, str]) -> pd.DataFrame:
    close = PRICES["AAA"]
    fields = {
        "open": close * 0.99,
        "high": close * 1.02,
        "low": close * 0.97,
        "close": close * 1.25,  # before a later split or dividend: not the price to trade
        "adj close": close,
        "volume": (close * 1e4).round(),
    }
    return pd.DataFrame({header: fields[field] for header, field in names.items()})


OHLCV_FILES: dict[str, tuple[dict[str, str], dict[str, Any], str]] = {
    "as vendors export it": (
        {
            "Open": "open",
            "High": "high",
            "Low": "low",
            "Close": "close",
            "Adj Close": "adj close",
            "Volume": "volume",
        },
        {},
        "AAPL",
    ),
    "lower case, adj_close": (
        {
            "open": "open",
            "high": "high",
            "low": "low",
            "close": "close",
            "adj_close": "adj close",
            "volume": "volume",
        },
        {},
        "AAPL",
    ),
    "upper case, ADJCLOSE, ticker option": (
        {
            "OPEN": "open",
            "HIGH": "high",
            "LOW": "low",
            "CLOSE": "close",
            "ADJCLOSE": "adj close",
            "VOLUME": "volume",
        },
        {"ticker": "KO"},
        "KO",
    ),
    "no adjusted close": (
        {"Open": "open", "High": "high", "Low": "low", "Close": "adj close", "Volume": "volume"},
        {},
        "AAPL",
    ),
}


@pytest.mark.parametrize("case", sorted(OHLCV_FILES))
def test_a_one_ticker_ohlcv_file_is_one_tickers_prices(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names, options, ticker = OHLCV_FILES[case]
    hold = {"name": "buy_and_hold"}
    files = {"AAPL.csv": _csv(_ohlcv(names).rename_axis("Date"))}
    data = {"source": "csv", "path": "AAPL.csv", "universe": [ticker], **options}
    assert _backtest(tmp_path, files, data, hold, quiet=False) == 0
    log = capsys.readouterr().err
    assert "one ticker's prices" in log and f"named {ticker!r}" in log, log
    if "close" in names.values():
        assert "'adj close' wins over 'close'" in log, log
    plain = {"p.csv": _csv(PRICES[["AAA"]].rename(columns={"AAA": ticker}))}
    assert _backtest(tmp_path / "twin", plain, {"source": "csv", "path": "p.csv"}, hold) == 0
    _assert_same_backtest(tmp_path, tmp_path / "twin")
    weights = pd.read_csv(tmp_path / "out" / "weights.csv", index_col="date")
    assert list(weights.columns) == [ticker], "one ticker: no volume, high or low traded"


OHLCV_REFUSED: dict[str, tuple[str, dict[str, Any], str]] = {
    "volume beside a ticker": (
        "date,AAA,Volume\n2010-01-04,1,100\n2010-01-05,2,100\n",
        {},
        "column 'Volume' is a field of one ticker but column 'AAA' is not",
    ),
    "no close": (
        "Date,Open,High,Low,Volume\n2010-01-04,1,2,1,100\n2010-01-05,2,3,1,100\n",
        {},
        "no close prices: found Open, High, Low, Volume",
    ),
    "ticker for a wide file": (
        "date,AAA,BBB\n2010-01-04,1,2\n2010-01-05,2,3\n",
        {"ticker": "KO"},
        "remove ticker",
    ),
}


@pytest.mark.parametrize("case", sorted(OHLCV_REFUSED))
def test_fields_and_tickers_mixed_are_refused(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, options, expected = OHLCV_REFUSED[case]
    code = _backtest(
        tmp_path, {"p.csv": _text(text)}, {"source": "csv", "path": "p.csv", **options}
    )
    _assert_refused(code, capsys, tmp_path, "p.csv", expected)


# 4. Duplicate names -----------------------------------------------------------------------


def _header(names: str) -> Writer:
    text = PRICES.to_csv()
    return _text(text.replace("date,AAA,BBB,CCC", names, 1))


def _long_twice(extra: Callable[[pd.DataFrame], pd.DataFrame]) -> Writer:
    rows = PRICES.reset_index().melt(id_vars="date", var_name="ticker", value_name="close")
    return _csv(pd.concat([rows, extra(rows)]), index=False)


DUPLICATES: dict[str, tuple[str, Writer, str]] = {
    "the same header": (
        "p.csv",
        _header("date,AAA,BBB,AAA"),
        "columns 2 and 4 have the same header ('AAA' and 'AAA')",
    ),
    "with spaces": (
        "p.csv",
        _header("date,AAA, AAA ,CCC"),
        "columns 2 and 3 have the same header",
    ),
    "in another case": ("p.csv", _header("date,AAA,aaa,CCC"), "equal but for case"),
    "renamed by pandas": ("p.csv", _header("date,AAA,AAA.1,CCC"), "the '.1' pandas adds"),
    "two date columns": ("p.csv", _header("date,AAA,Date,CCC"), "columns 1 and 3"),
    "in a parquet file": (
        "p.parquet",
        lambda p: pq.write_table(
            pa.table(
                [pa.array(DATES), pa.array(PRICES["AAA"]), pa.array(PRICES["BBB"])],
                names=["date", "AAA", "AAA"],
            ),
            p,
        ),
        "columns 2 and 3 have the same header",
    ),
    "a long row twice": (
        "p.csv",
        _long_twice(lambda rows: rows.iloc[[130]]),
        "have the same date and ticker",
    ),
    "a long field twice": (
        "p.csv",
        _csv(
            pd.DataFrame(
                {
                    "date": ["2010-01-04", "2010-01-05", "2010-01-04"],
                    "ticker": "AAA",
                    "field": ["close", "close", "Close"],
                    "value": [1, 2, 3],
                }
            ),
            index=False,
        ),
        "rows 2 and 4 have the same date and ticker and field (2010-01-04, 'AAA', 'close')",
    ),
}


@pytest.mark.parametrize("case", sorted(DUPLICATES))
def test_duplicate_names_and_rows_are_refused(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, write, expected = DUPLICATES[case]
    source = "parquet" if name.endswith(".parquet") else "csv"
    code = _backtest(tmp_path, {name: write}, {"source": source, "path": name})
    _assert_refused(code, capsys, tmp_path, name, expected)


# 5. A hole in the calendar ----------------------------------------------------------------


def _without(start: str, end: str) -> Writer:
    return _csv(PRICES.drop(PRICES.loc[start:end].index))


CALENDAR_HOLES: dict[str, tuple[Writer, str]] = {
    "a month missing": (
        _without("2010-02-01", "2010-02-28"),
        "a gap of 31 days in the dates between 2010-01-29 and 2010-03-01 (20 business days",
    ),
    "three weeks missing": (
        _without("2010-03-08", "2010-03-26"),
        "between 2010-03-05 and 2010-03-29",
    ),
    "eleven business days missing": (_without("2010-03-08", "2010-03-22"), "(11 business days"),
    "weekly prices": (_csv(PRICES.iloc[::5]), "the dates are usually 7 days apart"),
    "monthly prices": (
        _csv(PRICES.set_axis(pd.date_range("2000-01-31", periods=120, freq="ME"), axis=0)),
        "daily prices are expected",
    ),
}


@pytest.mark.parametrize("case", sorted(CALENDAR_HOLES))
def test_a_hole_in_the_calendar_is_refused_with_its_dates(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write, expected = CALENDAR_HOLES[case]
    code = _backtest(tmp_path, {"p.csv": write}, {"source": "csv", "path": "p.csv"})
    _assert_refused(code, capsys, tmp_path, "p.csv", expected)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2010-03-09", "2010-03-12"), ("2010-03-08", "2010-03-19")],  # 4 days, as in 2001; 10 days
)
def test_closures_of_up_to_ten_business_days_are_carried_forward(
    start: str, end: str, tmp_path: Path
) -> None:
    data = {"source": "csv", "path": "p.csv"}
    assert _backtest(tmp_path, {"p.csv": _without(start, end)}, data) == 0


# 6. Impossible scenario values ------------------------------------------------------------

DATA = "data: {source: csv, path: p.csv, benchmark: null"
IMPOSSIBLE_VALUES: dict[str, tuple[str, str]] = {
    "an empty universe": (DATA + ", universe: []}", "data.universe: List should have at least 1"),
    "a ticker twice": (DATA + ", universe: [AAA, AAA]}", "universe lists 'AAA' twice"),
    "a float parameter NaN": (
        "strategy: {name: dummy_signal_strategy, params: {open_long_prob: .nan}}",
        "parameter 'open_long_prob': expected a finite number, got nan",
    ),
    "a float parameter infinite": (
        "strategy: {name: dummy_signal_strategy, params: {close_long_prob: .inf}}",
        "parameter 'close_long_prob': expected a finite number, got inf",
    ),
    "an int parameter NaN": (
        "strategy: {name: inverse_volatility, params: {lookback_days: .nan}}",
        "parameter 'lookback_days': expected a finite number, got nan",
    ),
    "an int parameter infinite": (
        "strategy: {name: inverse_volatility, params: {lookback_days: -.inf}}",
        "parameter 'lookback_days': expected a finite number, got -inf",
    ),
    "an infinite search bound": (
        "optimize: {params: {top_n: {type: int, low: 1, high: .inf}}}",
        "optimize.params.top_n.high: Input should be a finite number",
    ),
    "a NaN search step": (
        "optimize: {params: {x: {type: float, low: 0.1, high: 0.2, step: .nan}}}",
        "optimize.params.x.step: Input should be a finite number",
    ),
    "February 30th": (DATA + ", start: 2010-02-30}", "data.start: Input should be a valid date"),
    "month 13": (DATA + ", end: 2010-13-01}", "data.end: Input should be a valid date"),
    "an unknown date format": (DATA + ", date_format: exel}", "did you mean 'excel'"),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE_VALUES))
def test_impossible_scenario_values_are_refused_in_the_config(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = IMPOSSIBLE_VALUES[case]
    _csv(PRICES)(tmp_path / "p.csv")
    lines = [text] if text.startswith("data") else [DATA + "}", text]
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("\n".join(["name: x", *lines]) + "\n", encoding="utf-8")
    code = main(["backtest", "--scenario", str(scenario), "--output", str(tmp_path / "out")])
    _assert_refused(code, capsys, tmp_path, expected)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("parameter", ["open_long_prob", "seed"])
def test_parameter_validate_refuses_non_finite_numbers(value: float, parameter: str) -> None:
    with pytest.raises(ScenarioError, match="expected a finite number"):
        STRATEGIES["dummy_signal_strategy"].resolve_params({parameter: value})


# 7. Separators and decimal marks ----------------------------------------------------------


def _trailing(text: str, sep: str = ",", header: bool = True) -> str:
    return "".join(
        line + (sep if header or i else "") + "\n" for i, line in enumerate(text.splitlines())
    )


DIALECTS_READ: dict[str, tuple[Writer, dict[str, Any]]] = {
    "semicolons and decimal commas": (
        _csv(PRICES, sep=";", decimal=","),
        {"sep": ";", "decimal": ","},
    ),
    "tabs": (_csv(PRICES, sep="\t"), {"sep": "\t"}),
    "pipes": (_csv(PRICES, sep="|"), {"sep": "|"}),
    "quoted decimal commas": (_csv(PRICES, decimal=","), {"decimal": ","}),
    "a trailing separator": (_text(_trailing(PRICES.to_csv())), {}),
    "a trailing separator on the rows only": (_text(_trailing(PRICES.to_csv(), header=False)), {}),
    "semicolons, decimal commas, trailing": (
        _text(_trailing(PRICES.to_csv(sep=";", decimal=","), ";")),
        {"sep": ";", "decimal": ","},
    ),
}


@pytest.mark.parametrize("case", sorted(DIALECTS_READ))
def test_separators_and_decimal_marks_read_as_the_data_section_says(
    case: str, tmp_path: Path, twin: Path
) -> None:
    write, options = DIALECTS_READ[case]
    assert (
        _backtest(tmp_path, {"p.csv": write}, {"source": "csv", "path": "p.csv", **options}) == 0
    )
    _assert_same_backtest(tmp_path, twin)


DIALECTS_REFUSED: dict[str, tuple[Writer, dict[str, Any], str]] = {
    "semicolons and decimal commas": (
        _csv(PRICES, sep=";", decimal=","),
        {},
        "looks like ';'-separated with decimal commas: add sep: ';' and decimal: ',' to the "
        "data section",
    ),
    "semicolons, sep given, decimal not": (
        _csv(PRICES, sep=";", decimal=","),
        {"sep": ";"},
        "set decimal: ',' in the data section",
    ),
    "tabs": (_csv(PRICES, sep="\t"), {}, 'add sep: "\\t" to the data section'),
    "commas read as semicolons": (_csv(PRICES), {"sep": ";"}, "set sep: ','"),
    "decimal points read as commas": (
        _csv(PRICES, sep=";"),
        {"sep": ";", "decimal": ","},
        "set decimal: '.'",
    ),
    "quoted decimal commas": (_csv(PRICES, decimal=","), {}, "add decimal: ','"),
    "unquoted decimal commas": (
        _text("date,AAA\n2010-01-04,1,5\n2010-01-05,1,6\n"),
        {},
        "row 2 has more fields than the header",
    ),
    "a blank header with values": (_header("date,AAA,,CCC"), {}, "column 3 has no header"),
}


@pytest.mark.parametrize("case", sorted(DIALECTS_REFUSED))
def test_a_file_read_with_the_wrong_dialect_is_refused_with_the_sniffed_one(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write, options, expected = DIALECTS_REFUSED[case]
    code = _backtest(tmp_path, {"p.csv": write}, {"source": "csv", "path": "p.csv", **options})
    _assert_refused(code, capsys, tmp_path, "p.csv", expected)


# 8. YAML bombs ----------------------------------------------------------------------------


def _laughs(levels: int, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\nname: *l{levels}\n"


YAML_BOMBS: dict[str, tuple[str, str]] = {
    "five levels of aliases": (_laughs(5), "aliases (*name) expand to more than 10,000 values"),
    "nine levels of aliases": (_laughs(9), "aliases (*name) expand to more than 10,000 values"),
    "an alias to itself": ("name: &a [*a]\n", "aliases (*name) expand to more than"),
    "two megabytes": ("name: x\n" + "# padding\n" * 200_000, "is larger than 1,000,000 bytes"),
    "nested too deeply": ("name: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    "a huge wrong value": ("costs: {cost_bps: [" + "1, " * 50_000 + "1]}\n", "costs.cost_bps"),
    "a key twice": (
        "name: a\nstrategy: {name: equal_weight}\nstrategy: {name: x}\n",
        "key 'strategy' appears twice",
    ),
}


@pytest.mark.parametrize("case", sorted(YAML_BOMBS))
def test_yaml_bombs_are_refused_in_one_short_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = YAML_BOMBS[case]
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    code = main(["backtest", "--scenario", str(scenario), "--output", str(tmp_path / "out")])
    line = _assert_refused(code, capsys, tmp_path, "scenario.yaml", expected)
    assert len(line) <= len("error: ") + MAX_MESSAGE


def test_the_python_api_refuses_a_file_as_the_cli_does(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    PRICES.to_csv(path, sep=";", decimal=",")
    with pytest.raises(DataError, match=re.escape("add sep: ';' and decimal: ','")):
        load_market_data(DataConfig(source="csv", path=path, benchmark=None))
