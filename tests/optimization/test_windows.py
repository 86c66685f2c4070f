"""Walk-forward windows never let test data into training."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.windows import walk_forward_windows


@settings(max_examples=60, deadline=None)
@given(
    n_days=st.integers(30, 600),
    train=st.integers(5, 200),
    test=st.integers(1, 100),
    step=st.one_of(st.none(), st.integers(1, 100)),
    kind=st.sampled_from(["rolling", "expanding"]),
)
def test_test_periods_follow_training_and_never_overlap_it(
    n_days: int, train: int, test: int, step: int | None, kind: str
) -> None:
    calendar = pd.bdate_range("2001-01-01", periods=n_days)
    if n_days < train + test:
        with pytest.raises(ScenarioError, match="do not fit"):
            walk_forward_windows(
                calendar, train_days=train, test_days=test, step_days=step, kind=kind
            )  # type: ignore[arg-type]
        return
    windows = walk_forward_windows(
        calendar, train_days=train, test_days=test, step_days=step, kind=kind
    )  # type: ignore[arg-type]
    assert windows
    for window in windows:
        assert window.train_start <= window.train_end < window.test_start <= window.test_end
        # The test period starts on the very next trading day.
        assert calendar.get_loc(window.test_start) == calendar.get_loc(window.train_end) + 1
        assert window.test_end <= calendar[-1]
        test_days = calendar[(calendar >= window.test_start) & (calendar <= window.test_end)]
        assert len(test_days) == test
        if kind == "expanding":
            assert window.train_start == calendar[0]
        else:
            assert (
                calendar.get_loc(window.train_end) - calendar.get_loc(window.train_start)
                == train - 1
            )


def test_rolling_windows_step_by_the_test_length() -> None:
    calendar = pd.bdate_range("2000-01-03", periods=30)
    windows = walk_forward_windows(calendar, train_days=10, test_days=5)
    assert [w.test_start for w in windows] == [calendar[i] for i in (10, 15, 20, 25)]
