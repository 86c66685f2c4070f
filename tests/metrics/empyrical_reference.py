"""empyrical, imported without its deprecation warnings, and the rates the metrics tests
compare it with."""

from __future__ import annotations

import warnings
from collections.abc import Callable

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # empyrical's own imports may warn about deprecations
    import empyrical

__all__ = ["RF", "RF_DAILY", "RTOL", "empyrical", "quietly"]

RF = 0.03  # annual; empyrical takes a daily rate
RF_DAILY = RF / 252
RTOL = 1e-10


def quietly(function: Callable[..., float], *args: object, **kwargs: object) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(function(*args, **kwargs))
