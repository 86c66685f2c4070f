"""Random scenario files and random CSV text: they load, or fail with the project's own error."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_backtester.config import DataConfig, load_scenario
from portfolio_backtester.data import load_market_data
from portfolio_backtester.errors import PortfolioBacktesterError

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

KEYS = st.sampled_from(
    [
        "name",
        "data",
        "strategy",
        "costs",
        "portfolio",
        "optimize",
        "params",
        "source",
        "path",
        "start",
        "end",
        "universe",
        "cost_bps",
        "trials",
        "type",
        "low",
        "high",
        "step",
        "choices",
        "windows",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=20,
)


@SETTINGS
@given(document=st.dictionaries(KEYS, DOCUMENTS, max_size=6))
def test_random_scenario_documents_load_or_raise_our_error(
    tmp_path: Path, document: dict[str, object]
) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        load_scenario(path)
    except PortfolioBacktesterError:
        pass


@SETTINGS
@given(
    text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
)
def test_random_yaml_text_loads_or_raises_our_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_scenario(path)
    except PortfolioBacktesterError:
        pass


CELLS = st.one_of(
    st.sampled_from(
        [
            "2021-01-04",
            "2021-01-05",
            "2021-13-01",
            "",
            "nan",
            "-1",
            "0",
            "1e308",
            "abc",
            "1,5",
            '"',
            "2021-01-04T10:00:00+02:00",
            "inf",
        ]
    ),
    st.floats(allow_nan=True).map(str),
    st.text(max_size=6),
)


@SETTINGS
@given(
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=8),
    header=st.sampled_from(["date,A,B", "Date,A", "date,ticker,close", "x", ""]),
)
def test_random_csv_text_loads_or_raises_our_error(
    tmp_path: Path, rows: list[list[str]], header: str
) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join([header, *(",".join(row) for row in rows)]), encoding="utf-8")
    try:
        load_market_data(DataConfig(source="csv", path=path, benchmark=None))
    except PortfolioBacktesterError:
        pass
