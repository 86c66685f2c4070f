"""Scenario validation: every mistake named with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portfolio_backtester._yaml import MAX_SCENARIO_BYTES
from portfolio_backtester.config import MAX_MESSAGE, DataConfig, load_scenario
from portfolio_backtester.errors import ScenarioError


def test_default_scenario_is_valid() -> None:
    scenario = load_scenario(None)
    assert scenario.data.source == "builtin:sp500"
    assert scenario.strategy.name == "simple_momentum"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"strategy": {"nme": "x"}}, r"strategy.nme: unknown key \(did you mean 'name'\?\)"),
        ({"costs": {"cost_bps": "ten"}}, "costs.cost_bps: Input should be a valid number"),
        ({"costs": {"cost_bps": -1}}, "costs.cost_bps"),
        ({"data": {"source": "cvs"}}, r"unknown data source 'cvs'.*did you mean 'csv'"),
        ({"data": {"source": "csv"}}, "needs 'path'"),
        (
            {"optimize": {"params": {"a": {"type": "int", "low": 5, "high": 1}}}},
            r"optimize.params.a: low \(5.0\) must be below high \(1.0\)",
        ),
        (
            {"optimize": {"params": {"a": {"type": "float", "low": 0, "high": 1, "step": 0.3}}}},
            "step 0.3 does not fit the range",
        ),
        (
            {"optimize": {"params": {"a": {"type": "float", "low": float("nan"), "high": 1}}}},
            r"optimize.params.a.low: Input should be a finite number \(got nan\)",
        ),
        (
            {"optimize": {"params": {"a": {"type": "int", "low": 0.5, "high": 3}}}},
            "whole 'low'",
        ),
        ({"optimize": {"params": {}}}, "at least one parameter"),
        (
            {"optimize": {"params": {"a": {"type": "int", "low": 1, "high": 3}}, "trials": 0}},
            "optimize.trials",
        ),
    ],
)
def test_bad_values_name_their_key(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(document)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstrategy: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="invalid YAML at line"):
        load_scenario(path)


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        load_scenario(path)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "absent.yaml")


def test_relative_data_paths_are_relative_to_the_scenario(write_scenario: Any) -> None:
    path = write_scenario({"data": {"source": "csv", "path": "prices.csv"}})
    scenario = load_scenario(path)
    assert scenario.data.path == path.parent / "prices.csv"


def test_fingerprint_ignores_the_trial_count_but_not_the_space() -> None:
    base = {"optimize": {"params": {"top_n": {"type": "int", "low": 1, "high": 5}}}}
    more = {"optimize": {**base["optimize"], "trials": 7}}
    other = {"optimize": {"params": {"top_n": {"type": "int", "low": 1, "high": 6}}}}
    assert load_scenario(base).fingerprint() == load_scenario(more).fingerprint()
    assert load_scenario(base).fingerprint() != load_scenario(other).fingerprint()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"universe": []}, "data.universe: List should have at least 1 item"),
        ({"universe": ["AAPL", "KO", "AAPL"]}, "universe lists 'AAPL' twice"),
        ({"source": "csv", "path": "p.csv", "sep": ";;"}, "data.sep: String should have at most"),
        ({"source": "csv", "path": "p.csv", "sep": "."}, "add decimal: ','"),
        ({"source": "csv", "path": "p.csv", "decimal": ";"}, "data.decimal"),
        ({"source": "csv", "path": "p.csv", "date_format": "unix"}, "did you mean 'unix_s'"),
        ({"source": "csv", "path": "p.csv", "date_format": "%d/%m"}, "a pattern with the year"),
    ],
)
def test_bad_data_options_name_their_key(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        load_scenario({"data": data})


@pytest.mark.parametrize("key", ["low", "high", "step"])
@pytest.mark.parametrize("value", [float("inf"), -float("inf"), float("nan")])
def test_search_bounds_must_be_finite(key: str, value: float) -> None:
    space = {"type": "float", "low": 0.1, "high": 0.2, "step": 0.05, key: value}
    with pytest.raises(ScenarioError, match=f"optimize.params.x.{key}: .* finite number"):
        load_scenario({"optimize": {"params": {"x": space}}})


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("costs", "cost_bps"),
        ("costs", "commission"),
        ("portfolio", "initial_capital"),
        ("portfolio", "cash_rate"),
        ("portfolio", "risk_free_rate"),
        ("portfolio", "max_gross_leverage"),
    ],
)
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_no_setting_takes_nan_or_infinity(section: str, key: str, value: float) -> None:
    """A `.nan` rate or an infinite capital is a typo that would otherwise print numbers."""
    with pytest.raises(ScenarioError, match=f"{section}.{key}: .*finite number"):
        load_scenario({section: {key: value}})


def test_unset_file_options_leave_the_fingerprint_as_it_was() -> None:
    """Studies made before sep, decimal, date_format and ticker existed keep resuming."""
    assert set(DataConfig().model_dump()).isdisjoint(DataConfig.FILE_OPTIONS)
    csv = {"source": "csv", "path": "p.csv"}
    plain = load_scenario({"data": csv}).fingerprint()
    assert load_scenario({"data": {**csv, "sep": ";"}}).fingerprint() != plain


def test_an_impossible_date_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("data: {start: 2015-02-30}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"data.start: .*valid date.*\(got '2015-02-30'\)"):
        load_scenario(path)


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: a\ncosts: {cost_bps: 5}\ncosts: {cost_bps: 50}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="line 3, column 1: key 'costs' appears twice"):
        load_scenario(path)


def test_aliases_that_reuse_a_value_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "strategy: {name: dummy_signal_strategy}\n"
        "optimize:\n"
        "  params:\n"
        "    open_long_prob: &p {type: float, low: 0.01, high: 0.1}\n"
        "    close_long_prob: *p\n"
        "costs: {<<: {cost_bps: 5}, commission: 1}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert scenario.optimize is not None
    assert scenario.optimize.params["close_long_prob"].high == 0.1
    assert scenario.costs.cost_bps == 5


def test_a_scenario_over_a_megabyte_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n" + "#" * (MAX_SCENARIO_BYTES + 1), encoding="utf-8")
    with pytest.raises(ScenarioError, match="is larger than 1,000,000 bytes"):
        load_scenario(path)


def test_error_messages_are_cut_to_a_readable_length() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario({"name": list(range(100_000)), "costs": {"cost_bps": "x" * 10_000}})
    assert len(str(caught.value)) <= MAX_MESSAGE
    assert "name: Input should be a valid string" in str(caught.value)


def test_default_rebalancing_rules_leave_the_fingerprint_as_it_was() -> None:
    """Studies made before portfolio.rebalance existed keep resuming; a set rule is a change."""
    plain = load_scenario({})
    assert "rebalance" not in plain.model_dump()["portfolio"]
    spelled_out = load_scenario({"portfolio": {"rebalance": {"when": "schedule", "min_trade": 0}}})
    assert spelled_out.fingerprint() == plain.fingerprint()
    held = load_scenario({"portfolio": {"rebalance": {"when": "target_change"}}})
    assert held.fingerprint() != plain.fingerprint()
    assert held.model_dump()["portfolio"]["rebalance"]["when"] == "target_change"


@pytest.mark.parametrize(
    ("rebalance", "expected"),
    [
        ({"when": "changes"}, "portfolio.rebalance.when: Input should be 'schedule' or"),
        ({"wen": "target_change"}, "portfolio.rebalance.wen: unknown key .*did you mean 'when'"),
        ({"band": -0.01}, "portfolio.rebalance.band: Input should be greater than or equal to 0"),
        ({"band": float("nan")}, "portfolio.rebalance.band: .*finite number"),
        ({"band_type": "percent"}, "portfolio.rebalance.band_type: Input should be 'absolute'"),
        ({"min_trade": 1.5}, "portfolio.rebalance.min_trade: Input should be less than or equal"),
    ],
)
def test_bad_rebalancing_rules_name_their_key(rebalance: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        load_scenario({"portfolio": {"rebalance": rebalance}})
