"""Cost models beyond ``cost_bps`` and ``commission``: settings resolved to arrays, and
each execution's costs.

Each model is a formula of one execution's traded values (or, for borrow and financing,
of the previous close's book); :mod:`._rules` charges them while it walks the executions,
so each costs a handful of numpy calls over one execution's traded assets. Arrays are laid
out as in :mod:`._kernel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from ..constants import TRADING_DAYS_PER_YEAR
from ..errors import ScenarioError
from ._kernel import BoolArray, FloatArray, IntArray
from .checks import PreparedPrices, Settings, half_spread_rates

__all__ = [
    "COST_KINDS",
    "CostModels",
    "ImpactUndefinedError",
    "impact_inputs",
    "order_costs",
    "resolve",
]

COST_KINDS = ("bps", "commission", "per_share", "spread", "impact", "borrow", "financing")
"""The columns of ``SimulationResult.cost_breakdown``, in the order of the cost arrays."""

BPS, COMMISSION, PER_SHARE, SPREAD, IMPACT, BORROW, FINANCING = range(len(COST_KINDS))


class ImpactUndefinedError(Exception):
    """An asset traded under the impact model has no volatility or volume to price it."""

    def __init__(self, execution: int, asset: int) -> None:
        super().__init__(execution, asset)
        self.execution = execution
        self.asset = asset


@dataclass(frozen=True, slots=True)
class CostModels:
    """The cost models of a run, resolved to arrays; every model off is all zeros/None."""

    per_share: float = 0.0
    """Currency per share traded."""
    per_share_min: float = 0.0
    """Currency per order (per traded asset), at least."""
    per_share_max: float = np.inf
    """Currency per order, at most (wins over the minimum)."""
    per_share_max_fraction: float = np.inf
    """Of the order's value, at most (wins over the minimum)."""
    half_spread: FloatArray | None = None
    """``(m,)`` half the bid-ask spread, per unit of traded value."""
    impact: float = 0.0
    """The square-root impact coefficient."""
    impact_scale: FloatArray | None = None
    """``(J, m)`` ``impact * sigma / sqrt(ADV)`` before each execution (NaN: undefined), so
    that an order's impact is ``impact_scale * T ** 1.5``; execution-major, as the loop
    reads one execution at a time."""
    daily_borrow: float = 0.0
    """Per day, on the previous close's short value."""
    daily_financing: float = 0.0
    """Per day, on the previous close's negative cash."""

    @property
    def per_share_on(self) -> bool:
        return self.per_share > 0.0 or self.per_share_min > 0.0

    @property
    def accrues(self) -> bool:
        """Whether costs are charged on days without trades too."""
        return self.daily_borrow > 0.0 or self.daily_financing > 0.0


def resolve(
    market: PreparedPrices, settings: Settings, exec_positions: npt.NDArray[np.int64]
) -> CostModels:
    """The settings' cost models as arrays; ``exec_positions`` absolute in ``market``."""
    scale = None
    if settings.impact > 0:
        if market.volumes is None:
            raise ScenarioError(
                "the impact cost model needs daily volume: pass volume= to simulate (the "
                "scenario's data carries no volume yet), or set impact to 0"
            )
        sigma, adv = impact_inputs(
            market.closes, market.volumes, exec_positions, settings.volume_window
        )
        scale = np.ascontiguousarray((settings.impact * sigma / np.sqrt(adv)).T)
    return CostModels(
        per_share=float(settings.per_share),
        per_share_min=float(settings.per_share_min),
        per_share_max=np.inf if settings.per_share_max is None else settings.per_share_max,
        per_share_max_fraction=(
            np.inf if settings.per_share_max_fraction is None else settings.per_share_max_fraction
        ),
        half_spread=half_spread_rates(settings.half_spread_bps, market.columns),
        impact=float(settings.impact),
        impact_scale=scale,
        daily_borrow=float(settings.borrow_rate) / TRADING_DAYS_PER_YEAR,
        daily_financing=float(settings.financing_rate) / TRADING_DAYS_PER_YEAR,
    )


def order_costs(
    models: CostModels,
    traded: FloatArray,
    prices: FloatArray,
    trade: BoolArray,
    execution: int,
) -> tuple[float, float, float]:
    """The per-share commissions, half spreads and impact of one execution, in currency.

    ``traded``: ``|traded value|`` of the assets where ``trade`` (``(m,)``) is set, in
    order; ``prices``: ``(m,)`` execution prices. ``bps`` and ``commission`` are the
    caller's (two scalars), borrow and financing accrue daily.
    """
    per_share = spread = impact = 0.0
    if models.per_share_on:
        fee = np.maximum(models.per_share * traded / prices[trade], models.per_share_min)
        cap = np.minimum(models.per_share_max, models.per_share_max_fraction * traded)
        per_share = float(np.minimum(fee, cap).sum())
    if models.half_spread is not None:
        spread = float(models.half_spread[trade] @ traded)
    if models.impact_scale is not None:
        scale = models.impact_scale[execution]
        impact = float(scale[trade] @ (traded * np.sqrt(traded)))
        if impact != impact:  # NaN: a traded asset without volatility or volume
            undefined = np.isnan(scale) & trade
            raise ImpactUndefinedError(execution, int(undefined.argmax()))
    return per_share, spread, impact


def impact_inputs(
    closes: FloatArray, volumes: FloatArray, positions: IntArray, window: int
) -> tuple[FloatArray, FloatArray]:
    """Volatility and average daily traded value of each asset before each execution.

    ``closes`` and ``volumes``: ``(m, N)`` unfilled (NaN: missing). ``positions``: ``(J,)``
    execution days. Both measures use the ``window`` days before the execution day only
    (days ``p - window .. p - 1``), so nothing known at or after the trade enters them:
    the sample standard deviation of the close-to-close returns ending on those days
    (at least two needed) and the mean of ``close * volume`` over them (positive needed).
    Undefined values are NaN, ``(m, J)`` each.
    """
    m = closes.shape[0]
    # Padded with a window of NaN in front, so that the window starting at padded
    # position p covers the days p - window .. p - 1.
    returns = np.full((m, closes.shape[1] + window), np.nan)
    dollars = np.full_like(returns, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        returns[:, window + 1 :] = closes[:, 1:] / closes[:, :-1] - 1.0
        np.multiply(closes, volumes, out=dollars[:, window:])
    return_windows = sliding_window_view(returns, window, axis=1)
    dollar_windows = sliding_window_view(dollars, window, axis=1)
    sigma = np.empty((m, len(positions)))
    adv = np.empty((m, len(positions)))
    # Chunks of executions bound the (m, chunk, window) temporaries.
    chunk = max(1, _CHUNK_VALUES // max(1, m * window))
    for lo in range(0, len(positions), chunk):
        picked = positions[lo : lo + chunk]
        sigma[:, lo : lo + chunk] = _sample_std(return_windows[:, picked])
        values = dollar_windows[:, picked]
        present = np.isfinite(values)
        count = present.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(present, values, 0.0).sum(axis=-1) / count
        adv[:, lo : lo + chunk] = np.where((count > 0) & (mean > 0), mean, np.nan)
    return sigma, adv


_CHUNK_VALUES = 1 << 20
"""Values per temporary array of :func:`impact_inputs` (8 MB)."""


def _sample_std(values: FloatArray) -> FloatArray:
    """Sample standard deviation over the last axis of the finite values; NaN with fewer
    than two."""
    present = np.isfinite(values)
    count = present.sum(axis=-1)
    filled = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=-1) / count
        squares = np.where(present, (values - mean[..., None]) ** 2, 0.0).sum(axis=-1)
        std = np.sqrt(squares / (count - 1))
    return np.where(count >= 2, std, np.nan)
