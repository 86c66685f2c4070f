"""Strategies of one's own: found beside the scenario, given as a class, named stably."""

from __future__ import annotations

import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from portfolio_backtester import load_scenario, run_backtest
from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.strategies import (
    STRATEGIES,
    BaseStrategy,
    check_importable_by_workers,
    get_strategy,
)

MODULE = '''
from portfolio_backtester.strategies import STRATEGIES

class Halves(STRATEGIES["equal_weight"]):
    """Equal weight, half invested."""

    def generate_weights(self, data, params):
        return super().generate_weights(data, params) / 2

    class Inner(STRATEGIES["equal_weight"]):
        pass
'''


class TopLevel(STRATEGIES["equal_weight"]):  # type: ignore[misc, valid-type]
    """A strategy defined in this test module, as a notebook's own module would."""

    name = "top_level"


def _module(folder: Path, text: str = MODULE) -> str:
    """A module file of a fresh name in ``folder`` (a fresh name: imports are per process)."""
    name = f"strats_{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return name


def test_a_module_beside_the_scenario_is_imported_without_touching_sys_path(
    tmp_path: Path,
) -> None:
    name = _module(tmp_path)
    path_before = list(sys.path)
    found = get_strategy(f"{name}:Halves", tmp_path)
    assert sys.path == path_before
    assert issubclass(found, BaseStrategy) and found.__module__ == name
    assert sys.modules[name].__file__ == str(tmp_path / f"{name}.py")
    assert get_strategy(f"{name}:Halves", tmp_path) is found  # imported once
    assert get_strategy(f"{name}:Halves") is found  # and then by name alone
    assert pickle.loads(pickle.dumps(found)) is found  # noqa: S301 (by reference, as spawn needs)
    assert get_strategy(f"{name}:Halves.Inner", tmp_path).__qualname__ == "Halves.Inner"


def test_a_package_beside_the_scenario_is_imported_with_its_submodules(tmp_path: Path) -> None:
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / package / "momentum.py").write_text(MODULE, encoding="utf-8")
    found = get_strategy(f"{package}.momentum:Halves", tmp_path)
    assert found.__module__ == f"{package}.momentum"


def test_the_same_module_name_from_another_folder_is_refused(tmp_path: Path) -> None:
    name = _module(tmp_path / "a")
    get_strategy(f"{name}:Halves", tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / f"{name}.py").write_text(MODULE, encoding="utf-8")
    with pytest.raises(ScenarioError, match=rf"cannot be imported as '{name}'.*rename"):
        get_strategy(f"{name}:Halves", tmp_path / "b")


def test_a_module_that_fails_to_import_leaves_nothing_behind(tmp_path: Path) -> None:
    name = _module(tmp_path, "raise RuntimeError('broken on import')\n")
    with pytest.raises(RuntimeError, match="broken on import"):
        get_strategy(f"{name}:Halves", tmp_path)
    assert name not in sys.modules


def test_a_missing_module_names_both_places_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        get_strategy("no_such_strats:Mine", tmp_path)
    message = str(caught.value)
    assert f"no module named 'no_such_strats' in {tmp_path}" in message
    assert "on the Python path; put no_such_strats.py beside the scenario file" in message


def test_a_scenario_file_looks_beside_itself_and_the_fingerprint_ignores_where(
    tmp_path: Path,
) -> None:
    name = _module(tmp_path / "here")
    text = f"strategy: {{name: '{name}:Halves'}}\n"
    (tmp_path / "here" / "s.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "s.yaml").write_text(
        f"strategy: {{name: '{name}:Halves', folder: ../here}}\n", encoding="utf-8"
    )
    beside = load_scenario(tmp_path / "here" / "s.yaml")
    pointed = load_scenario(tmp_path / "elsewhere" / "s.yaml")
    assert beside.strategy.folder == pointed.strategy.folder == (tmp_path / "here").resolve()
    assert beside.fingerprint() == pointed.fingerprint()
    here = str((tmp_path / "here").resolve())
    assert beside.model_dump(mode="json")["strategy"]["folder"] == here
    by_name = load_scenario({"strategy": {"name": f"{name}:Halves"}})
    assert beside.fingerprint() == by_name.fingerprint()


def test_a_builtin_strategy_keeps_its_scenario_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("strategy: {name: equal_weight}\n", encoding="utf-8")
    from_file = load_scenario(tmp_path / "s.yaml")
    assert from_file.strategy.folder is None
    assert from_file.fingerprint() == load_scenario({"strategy": "equal_weight"}).fingerprint()


@pytest.mark.parametrize(
    "section",
    [
        TopLevel,
        {"name": TopLevel},
        {"name": TopLevel, "params": {"rebalance": "quarterly"}},
    ],
)
def test_the_python_api_takes_the_class(section: Any) -> None:
    scenario = load_scenario(
        {"data": {"start": "2015-01-02", "end": "2016-12-30"}, "strategy": section}
    )
    assert scenario.strategy.name == f"{__name__}:TopLevel"
    assert scenario.strategy.folder == Path(__file__).resolve().parent
    assert get_strategy(scenario.strategy.name, scenario.strategy.folder) is TopLevel
    result = run_backtest(scenario)
    assert result.scenario.strategy.name == f"{__name__}:TopLevel"
    assert (result.weights.to_numpy() > 0).any()
    assert run_backtest(
        {"data": {"start": "2015-01-02", "end": "2016-12-30"}, "strategy": section}
    ).metrics == pytest.approx(result.metrics, nan_ok=True)


def test_a_builtin_class_is_kept_by_its_registered_name() -> None:
    scenario = load_scenario({"strategy": STRATEGIES["simple_momentum"]})
    assert scenario.strategy.name == "simple_momentum"
    assert scenario.fingerprint() == load_scenario(None).fingerprint()


def test_a_class_that_cannot_be_found_by_name_is_refused() -> None:
    class Local(STRATEGIES["equal_weight"]):  # type: ignore[misc, valid-type]
        pass

    with pytest.raises(ScenarioError, match=r"define .*Local at the top level of a module"):
        load_scenario({"strategy": Local})
    with pytest.raises(ScenarioError, match="give the class TopLevel, not an instance"):
        load_scenario({"strategy": {"name": TopLevel()}})


def test_workers_refuse_a_class_from_a_notebook_and_accept_one_from_a_file() -> None:
    check_importable_by_workers(f"{__name__}:TopLevel")
    check_importable_by_workers("simple_momentum")
    script = (
        "from portfolio_backtester.strategies import check_importable_by_workers\n"
        "check_importable_by_workers('__main__:Mine')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "is defined in a notebook or an interactive session" in done.stderr
    assert "move the class into a module file" in done.stderr


def test_weights_of_a_given_class_match_the_same_class_by_name(tmp_path: Path) -> None:
    name = _module(tmp_path)
    found = get_strategy(f"{name}:Halves", tmp_path)
    period = {"start": "2015-01-02", "end": "2015-12-31"}
    by_class = run_backtest({"data": period, "strategy": found})
    by_name = run_backtest({"data": period, "strategy": {"name": f"{name}:Halves"}})
    pd.testing.assert_frame_equal(by_class.weights, by_name.weights)
    assert by_class.scenario.strategy.name == f"{name}:Halves"
