"""What a simulation returns: daily outputs as pandas objects, built from the arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _costs, _kernel, _stops
from ._costs import COST_KINDS
from .checks import PreparedPrices

__all__ = ["SimulationResult", "build_result", "empty_result"]


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Daily outputs indexed by ``prices.index`` from the first rebalance date on.

    ``returns``: portfolio simple returns. ``weights``: end-of-day holdings over portfolio
    value, columns ``prices.columns``. ``turnover``: ``sum |traded value|`` over the
    pre-cost value (0 on days without trades). ``costs``: costs over the same value (and
    accrued fees over the previous close's value). ``trades``: number of assets traded
    (int). :attr:`cost_breakdown`: ``costs`` split by kind.
    """

    returns: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    trades: pd.Series
    ruined_on: pd.Timestamp | None = None
    """The day the portfolio's value reached zero or below: it lost everything that day
    (a return of -100%) and held nothing after it."""
    stop_exits: pd.DataFrame | None = None
    """One row per stop's exit (``date`` of the trade, ``asset``, ``rule``: one of
    ``stop_loss, take_profit, trailing_stop``); None when no stop is set."""
    _breakdown: npt.NDArray[np.float64] | None = field(default=None, repr=False, compare=False)
    """``(kinds, n)`` each kind's daily costs; None when only ``cost_bps`` and
    ``commission`` were charged (then the split follows from ``turnover``)."""
    _cost_rate: float = field(default=0.0, repr=False, compare=False)
    """``cost_bps / 1e4``, for that split."""

    @property
    def cost_breakdown(self) -> pd.DataFrame:
        """``costs`` split by kind: columns :data:`COST_KINDS` (``bps, commission,
        per_share, spread, impact, borrow, financing``), summing to ``costs`` within
        rounding. Built when asked for: most callers (an optimiser's windows) never do."""
        breakdown = self._breakdown
        if breakdown is None:
            turnover, costs = self.turnover.to_numpy(), self.costs.to_numpy()
            breakdown = np.zeros((len(COST_KINDS), len(costs)))
            breakdown[_costs.BPS] = self._cost_rate * turnover
            breakdown[_costs.COMMISSION] = costs - breakdown[_costs.BPS]
        else:
            breakdown = breakdown.copy()  # the frame is the caller's to change
        return pd.DataFrame(
            breakdown.T, index=self.costs.index, columns=pd.Index(COST_KINDS), copy=False
        )


def build_result(
    market: PreparedPrices, first: int, last: int, out: _kernel.KernelOutput, cost_rate: float
) -> SimulationResult:
    index = market.index[first : last + 1]
    return SimulationResult(
        returns=pd.Series(out.returns, index=index, name="returns", copy=False),
        # The transpose is a view whose memory order is pandas' own block layout.
        weights=pd.DataFrame(out.weights.T, index=index, columns=market.columns, copy=False),
        turnover=pd.Series(out.turnover, index=index, name="turnover", copy=False),
        costs=pd.Series(out.costs, index=index, name="costs", copy=False),
        trades=pd.Series(out.trades, index=index, name="trades", copy=False),
        ruined_on=None if out.ruined_at < 0 else pd.Timestamp(index[out.ruined_at]),
        stop_exits=None if out.stop_exits is None else _stop_frame(out.stop_exits, index, market),
        _breakdown=out.cost_breakdown,
        _cost_rate=cost_rate,
    )


def _stop_frame(
    exits: npt.NDArray[np.int64], index: pd.Index, market: PreparedPrices
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": index.take(exits[:, 0]),
            "asset": market.columns.take(exits[:, 1]),
            "rule": pd.Index(_stops.STOP_RULES).take(exits[:, 2]),
        }
    )


def empty_result(prices: pd.DataFrame, *, stops: bool = False) -> SimulationResult:
    index = prices.index[:0]
    exits = None
    if stops:
        none = np.zeros(0, dtype=np.int64)
        exits = pd.DataFrame(
            {
                "date": index,
                "asset": prices.columns.take(none),
                "rule": pd.Index(_stops.STOP_RULES).take(none),
            }
        )
    return SimulationResult(
        returns=pd.Series(np.zeros(0), index=index, name="returns"),
        weights=pd.DataFrame(
            np.zeros((0, len(prices.columns))), index=index, columns=prices.columns
        ),
        turnover=pd.Series(np.zeros(0), index=index, name="turnover"),
        costs=pd.Series(np.zeros(0), index=index, name="costs"),
        trades=pd.Series(np.zeros(0, dtype=np.int64), index=index, name="trades"),
        stop_exits=exits,
        _breakdown=np.zeros((len(COST_KINDS), 0)),
    )
