"""Scenario validation: every mistake named with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portfolio_backtester.config import load_scenario
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
            "NaN",
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
