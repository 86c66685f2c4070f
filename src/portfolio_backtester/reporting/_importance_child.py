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
    """The completed trials of ``study``, with its distributions and directions, as JSON."""
    trials = study.get_trials(deepcopy=False)
    distributions: dict[str, Any] = {}
    rows = []
    for trial in trials:
        if trial.state.name != "COMPLETE":
            continue
        for name, distribution in trial.distributions.items():
            distributions.setdefault(name, distribution)
        params = {k: trial.distributions[k].to_internal_repr(v) for k, v in trial.params.items()}
        rows.append({"params": params, "values": list(trial.values)})  # JSON-safe numbers
    from optuna.distributions import distribution_to_json

    return {
        "directions": [d.name.lower() for d in study.directions],
        "distributions": {k: distribution_to_json(v) for k, v in distributions.items()},
        "trials": rows,
    }


def study_from_payload(payload: dict[str, Any]) -> optuna.Study:
    """The in-memory study :func:`study_payload` describes."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {
        name: optuna.distributions.json_to_distribution(text)
        for name, text in payload["distributions"].items()
    }
    study = optuna.create_study(
        directions=[optuna.study.StudyDirection[d.upper()] for d in payload["directions"]]
    )
    study.add_trials(
        [
            optuna.trial.create_trial(
                params={k: distributions[k].to_external_repr(v) for k, v in row["params"].items()},
                distributions={k: distributions[k] for k in row["params"]},
                values=row["values"],
            )
            for row in payload["trials"]
        ]
    )
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
