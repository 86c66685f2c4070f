"""Walk-forward windows never let test data into training."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_backtester.config import load_scenario
from portfolio_backtester.errors import ScenarioError
from portfolio_backtester.optimization.windows import walk_forward_windows
from portfolio_backtester.scenarios import default_optimize_scenario


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


@settings(max_examples=60, deadline=None)
@given(
    n_days=st.integers(30, 600),
    train=st.integers(5, 200),
    test=st.integers(1, 100),
    embargo=st.integers(0, 40),
    kind=st.sampled_from(["rolling", "expanding"]),
)
def test_an_embargo_leaves_exactly_its_days_between_train_and_test(
    n_days: int, train: int, test: int, embargo: int, kind: str
) -> None:
    calendar = pd.bdate_range("2001-01-01", periods=n_days)
    build = {"train_days": train, "test_days": test, "kind": kind, "embargo_days": embargo}
    if n_days < train + embargo + test:
        with pytest.raises(ScenarioError, match="do not fit"):
            walk_forward_windows(calendar, **build)  # type: ignore[arg-type]
        return
    windows = walk_forward_windows(calendar, **build)  # type: ignore[arg-type]
    plain = walk_forward_windows(calendar, train_days=train, test_days=test, kind=kind)  # type: ignore[arg-type]
    assert windows and len(windows) <= len(plain)
    for window, without in zip(windows, plain, strict=False):
        gap = calendar.get_loc(window.test_start) - calendar.get_loc(window.train_end) - 1
        assert gap == embargo
        assert calendar.get_loc(window.test_end) - calendar.get_loc(window.test_start) == test - 1
        assert (window.train_start, window.train_end) == (without.train_start, without.train_end)
    # Consecutive test periods still tile the calendar without overlapping.
    for earlier, later in itertools.pairwise(windows):
        assert calendar.get_loc(later.test_start) == calendar.get_loc(earlier.test_end) + 1


def test_an_embargo_changes_the_fingerprint_and_none_keeps_old_studies() -> None:
    base = default_optimize_scenario()
    document = base.model_dump(mode="json", exclude={"source_path"})
    document["optimize"]["windows"]["embargo_days"] = 0
    assert load_scenario(document).fingerprint() == base.fingerprint() == "1064fa953fae313e"
    document["optimize"]["windows"]["embargo_days"] = 5
    assert load_scenario(document).fingerprint() != base.fingerprint()
