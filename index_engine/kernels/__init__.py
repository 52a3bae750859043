"""Numba kernels: dense arrays in, arrays out; no pandas, no config objects.

Each kernel is compiled with ``cache=True`` so a fresh process loads machine code from disk.
"""

from index_engine.kernels.capping import cap_weights, weights_for_trades
from index_engine.kernels.ranking import select_constituents
from index_engine.kernels.rolling import (
    positive_row_sum,
    regime_states,
    rolling_mean,
    trailing_logret_std_at,
    trailing_mean_at,
)

__all__ = [
    "cap_weights",
    "positive_row_sum",
    "regime_states",
    "rolling_mean",
    "select_constituents",
    "trailing_logret_std_at",
    "trailing_mean_at",
    "weights_for_trades",
]
