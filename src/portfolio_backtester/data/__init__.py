"""Market data: sources, validation, the embedded data sets, and building OptimizationData."""

from ._build import asset_major, build_optimization_data, trading_slice
from .optimization_data import OptimizationData, WalkForwardWindow
from .sources import MarketData, load_market_data, read_price_file, validate_prices
from .synthetic import synthetic_prices

__all__ = [
    "MarketData",
    "OptimizationData",
    "WalkForwardWindow",
    "asset_major",
    "build_optimization_data",
    "load_market_data",
    "read_price_file",
    "synthetic_prices",
    "trading_slice",
    "validate_prices",
]
