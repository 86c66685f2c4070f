"""The embedded S&P 500 data set, shipped inside the package so runs need no network."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

__all__ = ["BUILTIN_DATASETS", "load_sp500"]

BUILTIN_DATASETS = ("sp500",)


@cache
def _read(filename: str) -> pd.DataFrame:
    with resources.files(__name__).joinpath(filename).open("rb") as handle:
        frame = pd.read_csv(handle, compression="gzip", index_col="Date", parse_dates=["Date"])
    frame.index.name = "date"
    frame.columns.name = "ticker"
    return frame.astype("float64")


def load_sp500() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily adjusted closes of 20 S&P 500 stocks and the index, 1990-01-02 to 2022-12-28.

    Returns copies, so callers may modify them without touching the cache.
    """
    return _read("sp500_dataset.csv.gz").copy(), _read("sp500_index.csv.gz").copy()
