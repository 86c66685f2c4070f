"""What each trial records besides its values: its worker, its outcome, why it failed."""

from __future__ import annotations

from typing import Any

from optuna.trial import FrozenTrial

__all__ = ["EVALUATION", "FAIL_REASON", "WORKER", "trial_evaluation"]

FAIL_REASON = "fail_reason"
WORKER = "worker"
EVALUATION = "evaluation"
"""One user attribute per trial holds its outcome (per-window values, trades, constraint
violations, feasibility, the trial it duplicates): on a database every attribute is its own
round trips, so one instead of four or five keeps the storage's share of a trial small."""

_SEPARATE_ATTRIBUTES = ("window_values", "n_trades", "constraint", "feasible", "duplicate_of")
"""Where studies written before the single ``evaluation`` attribute keep the outcome."""


def trial_evaluation(trial: FrozenTrial) -> dict[str, Any]:
    """A trial's recorded outcome (empty for a failed or running trial)."""
    evaluation = trial.user_attrs.get(EVALUATION)
    if isinstance(evaluation, dict):
        return evaluation
    # A resumed older study: its infeasible trials must stay infeasible.
    return {k: trial.user_attrs[k] for k in _SEPARATE_ATTRIBUTES if k in trial.user_attrs}
