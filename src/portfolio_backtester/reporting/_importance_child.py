"""Optuna's parameter importances of a study, in the report's process or in a child of it.

A fresh ``portfolio-backtester report`` of an optimisation waits about 0.6 s for ``import
optuna.importance`` when scikit-learn is installed (Optuna's fANOVA module imports it,
and SciPy with it). Run as a script, this file computes the importances in a second
process meanwhile, while the report draws its other figures: it imports Optuna only (not
this package, whose import would cost as much as it saves), reads the study as JSON on
stdin and writes one ``[importances, warnings]`` pair per objective as JSON on stdout.

Imported as a module, it is the one place that says how the report computes importances.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import optuna

__all__ = ["importances", "study_from_payload", "study_payload"]


def study_payload(study: optuna.Study) -> dict[str, Any]:
    """The completed trials of ``study`` and its directions, as JSON: each trial keeps its
    own distributions (a resumed study may have searched other ranges before)."""
    from optuna.distributions import distribution_to_json

    known: dict[str, int] = {}  # each distinct distribution once, by its JSON text
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name != "COMPLETE":
            continue
        params = {}
        for name, value in trial.params.items():
            distribution = trial.distributions[name]
            text = distribution_to_json(distribution)
            code = known.setdefault(text, len(known))
            params[name] = [distribution.to_internal_repr(value), code]  # JSON-safe numbers
        rows.append({"params": params, "values": list(trial.values)})
    return {
        "directions": [d.name.lower() for d in study.directions],
        "distributions": list(known),
        "trials": rows,
    }


def study_from_payload(payload: dict[str, Any]) -> optuna.Study:
    """The in-memory study :func:`study_payload` describes."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = [
        optuna.distributions.json_to_distribution(text) for text in payload["distributions"]
    ]
    study = optuna.create_study(
        directions=[optuna.study.StudyDirection[d.upper()] for d in payload["directions"]]
    )
    trials = []
    for row in payload["trials"]:
        used = {name: distributions[code] for name, (_, code) in row["params"].items()}
        params = {n: used[n].to_external_repr(v) for n, (v, _) in row["params"].items()}
        trials.append(
            optuna.trial.create_trial(params=params, distributions=used, values=row["values"])
        )
    study.add_trials(trials)
    return study


def importances(study: optuna.Study, objective: int) -> tuple[dict[str, float], list[str]]:
    """Optuna's importances for one objective, most important first, and its warnings
    (too few trials, equal importances) as text for the report."""
    import optuna

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # ``_target`` already makes every objective lower-is-better.
        warnings.filterwarnings("ignore", "PedAnovaImportanceEvaluator computes", UserWarning)
        found = optuna.importance.get_param_importances(study, target=_target(study, objective))
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    return {str(k): float(v) for k, v in found.items()}, notes


def _target(study: optuna.Study, objective: int) -> Callable[[Any], float] | None:
    """None for a single objective; otherwise one objective, negated when maximised, because
    Optuna's default importance evaluator treats a given target as lower-is-better."""
    import optuna

    if len(study.directions) == 1:
        return None
    sign = -1.0 if study.directions[objective] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return lambda trial: sign * float(trial.values[objective])


def main() -> None:
    payload = json.load(sys.stdin)  # first: the report waits until its payload is written
    study = study_from_payload(payload)
    results = [importances(study, i) for i in range(len(payload["directions"]))]
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
