"""Numbers the whole package agrees on, each defined once."""

from __future__ import annotations

__all__ = ["TRADING_DAYS_PER_YEAR"]

TRADING_DAYS_PER_YEAR = 252
