"""The honest results: one continuous out-of-sample portfolio across windows, and a holdout
that no trial ever sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from portfolio_backtester.config import load_scenario
from portfolio_backtester.data import (
    MarketData,
    OptimizationData,
    build_optimization_data,
    load_market_data,
)
from portfolio_backtester.optimization.objective import Objective
from portfolio_backtester.optimization.out_of_sample import (
    holdout_result,
    walk_forward_out_of_sample,
)
from portfolio_backtester.optimization.parallel_optimization_runner import (
    ParallelOptimizationRunner,
)
from portfolio_backtester.optimization.plan import build_windows, holdout_bounds
from portfolio_backtester.optimization.storage import default_storage_url
from portfolio_backtester.simulation import simulate

COST_BPS = 20
UNIVERSE = ["AAPL", "KO", "XOM", "JPM", "MSFT", "PG"]


def _scenario(**optimize: Any) -> Any:
    return load_scenario(
        {
            "data": {"universe": UNIVERSE, "start": "2004-01-02"},
            "strategy": {"name": "simple_momentum"},
            "costs": {"cost_bps": COST_BPS},
            "optimize": {
                "params": {
                    "lookback_months": {"type": "int", "low": 3, "high": 12},
                    "top_n": {"type": "int", "low": 1, "high": 5},
                },
                "mode": "walk_forward",
                "windows": {"train_days": 504, "test_days": 252},
                **optimize,
            },
        }
    )


@pytest.fixture(scope="module")
def data() -> OptimizationData:
    return build_optimization_data(load_market_data(_scenario().data))


def _hand_stitched(
    objective: Objective, data: OptimizationData, params: list[dict[str, Any]]
) -> tuple[pd.DataFrame, int, int]:
    """Each window's targets from its first test day to the day before the next window's,
    opened by the targets in force on that first day: written out without the module."""
    index = data.daily.index
    windows = build_windows(objective.scenario, data)
    starts = [int(index.searchsorted(w.test_start)) for w in windows]
    last = int(index.searchsorted(windows[-1].test_end, side="right")) - 1
    pieces = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] - 1 if k + 1 < len(starts) else last
        weights = objective.strategy_cls().generate_weights(data, objective.resolve(params[k]))
        opening = weights.loc[: index[start]].iloc[[-1]]
        opening.index = pd.DatetimeIndex([index[start]])
        inside = weights.loc[index[start + 1] : index[stop]]
        pieces.append(pd.concat([opening, inside]))
    return pd.concat(pieces), starts[0], last


def _params(n: int) -> list[dict[str, Any]]:
    return [{"lookback_months": 3 + (k % 4) * 3, "top_n": 1 + k % 5} for k in range(n)]


def test_the_out_of_sample_run_is_one_simulation_of_the_stitched_targets(
    data: OptimizationData,
) -> None:
    objective = Objective(_scenario())
    windows = build_windows(objective.scenario, data)
    params = _params(len(windows))
    result = walk_forward_out_of_sample(objective, data, windows, params)
    targets, start, end = _hand_stitched(objective, data, params)
    expected = simulate(data.daily.iloc[start : end + 1], targets, cost_bps=COST_BPS)
    np.testing.assert_allclose(
        result.returns.to_numpy(), expected.returns.to_numpy(), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(result.costs.to_numpy(), expected.costs.to_numpy(), atol=1e-12)
    assert result.window is not None
    assert list(dict.fromkeys(result.window)) == list(range(len(windows)))


def test_holdings_carry_across_a_window_boundary(data: OptimizationData) -> None:
    """With the same parameters in every window the boundaries change nothing: the stitched
    run equals one backtest of those parameters; with new parameters the first day of the
    next window trades only the difference to the new targets."""
    objective = Objective(_scenario())
    windows = build_windows(objective.scenario, data)
    same = [{"lookback_months": 6, "top_n": 3}] * len(windows)
    result = walk_forward_out_of_sample(objective, data, windows, same)
    weights = objective.strategy_cls().generate_weights(data, objective.resolve(same[0]))
    index = data.daily.index
    start = int(index.searchsorted(windows[0].test_start))
    opening = weights.loc[: index[start]].iloc[[-1]]
    opening.index = pd.DatetimeIndex([index[start]])
    end = start + len(result.returns) - 1
    whole = simulate(
        data.daily.iloc[start : end + 1],
        pd.concat([opening, weights.loc[index[start + 1] : index[end]]]),
        cost_bps=COST_BPS,
    )
    np.testing.assert_allclose(result.returns.to_numpy(), whole.returns.to_numpy(), atol=1e-12)

    switched = [{"lookback_months": 6, "top_n": 3}, {"lookback_months": 6, "top_n": 4}] * 20
    changed = walk_forward_out_of_sample(objective, data, windows, switched[: len(windows)])
    boundary = windows[1].test_start
    turnover = float(changed.turnover.loc[boundary])
    assert 0.0 < turnover < 1.0, "a fresh start from cash would trade the whole portfolio"
    assert changed.costs.loc[boundary] == pytest.approx(turnover * COST_BPS / 1e4, rel=1e-12)
    assert changed.returns.loc[boundary] != pytest.approx(-COST_BPS / 1e4)


def test_the_holdout_is_never_scored_by_a_trial(tmp_path: Path, data: OptimizationData) -> None:
    """Windows end before the holdout, and changing every price inside it changes no
    trial's score; the holdout result itself is the final parameters on those days."""
    scenario = _scenario(holdout={"days": 300}, trials=6, mode="cv", sampler="random")
    first, last = holdout_bounds(scenario, data) or (0, 0)
    assert last == len(data.daily) - 1 and last - first + 1 == 300
    assert max(w.test_end for w in build_windows(scenario, data)) < data.daily.index[first]

    def run(frame_data: OptimizationData, folder: Path) -> Any:
        runner = ParallelOptimizationRunner(
            scenario=scenario,
            data=frame_data,
            storage_url=default_storage_url(folder),
            study_name="s",
        )
        return runner.run()[0]

    plain = run(data, tmp_path / "plain")
    shocked_daily = data.daily.copy()
    shocked_daily.iloc[first:] *= np.linspace(0.5, 3.0, len(data.daily) - first)[:, None]
    shocked = build_optimization_data(MarketData(prices=shocked_daily, benchmark=None, open=None))
    other = run(shocked, tmp_path / "shocked")
    scores = plain.trials["value_0"].to_numpy()
    np.testing.assert_array_equal(scores, other.trials["value_0"].to_numpy())
    assert plain.holdout is not None and other.holdout is not None
    assert plain.holdout.start == data.daily.index[first]
    assert not np.allclose(plain.holdout.returns, other.holdout.returns)
    direct = holdout_result(Objective(scenario), data, plain.best_params, first, last)
    pd.testing.assert_series_equal(direct.returns, plain.holdout.returns)


def test_a_holdout_that_leaves_nothing_to_optimise_is_refused(data: OptimizationData) -> None:
    from portfolio_backtester.errors import ScenarioError

    with pytest.raises(ScenarioError, match="holdout leaves no data"):
        holdout_bounds(_scenario(holdout={"days": 100_000}), data)
    with pytest.raises(ScenarioError, match="holdout leaves no data"):
        holdout_bounds(_scenario(holdout={"start": "2030-01-02"}), data)
