"""The trade list as arrays, one entry per trade, and as the frame users read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..simulation._stops import STOP_RULES

__all__ = ["DIRECTIONS", "REASONS", "TradeArrays"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int8Array = npt.NDArray[np.int8]

DIRECTIONS = pd.Index(["long", "short"])
REASONS = pd.Index(["open", "signal", *STOP_RULES])
"""The labels of ``exit_reason``: a trade still open, closed by its signal, by a stop."""


@dataclass(frozen=True, slots=True)
class TradeArrays:
    """The trade list as arrays, one entry per trade: what its statistics read.

    A backtest sums its trades up on every call and builds the frame (:meth:`frame`)
    only when it is asked for: the frame costs more than finding the trades.
    """

    columns: pd.Index
    index: pd.Index
    asset: IntArray
    """Column positions."""
    entry_day: IntArray
    """Positions in ``index``; ``exit_day`` is ``len(index)`` for a trade still open."""
    exit_day: IntArray
    sign: FloatArray
    entry_price: FloatArray
    exit_price: FloatArray
    is_open: npt.NDArray[np.bool_]
    trade_return: FloatArray
    pnl: FloatArray
    cost: FloatArray
    reason: Int8Array
    """Positions in the ``exit_reason`` labels: open, signal, then the stop rules."""

    @property
    def holding_days(self) -> IntArray:
        return self.exit_day - self.entry_day

    def frame(self) -> pd.DataFrame:
        """The trade list (:func:`.trades.trade_list`)."""
        last = max(len(self.index) - 1, 0)
        return pd.DataFrame(
            {
                "asset": self.columns.take(self.asset),
                # Categoricals: two or five labels, cheaper than a string per row.
                "direction": pd.Categorical.from_codes(
                    (self.sign < 0).astype(np.int8), categories=DIRECTIONS
                ),
                "entry_date": self.index.take(self.entry_day),
                "entry_price": self.entry_price,
                "exit_date": self.index.take(np.minimum(self.exit_day, last)),
                "exit_price": self.exit_price,
                "open": self.is_open,
                "holding_days": self.holding_days,
                "return": self.trade_return,
                "pnl": self.pnl,
                "costs": self.cost,
                "exit_reason": pd.Categorical.from_codes(self.reason, categories=REASONS),
            }
        )
