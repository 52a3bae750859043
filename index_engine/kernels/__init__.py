"""Numba kernels: dense arrays in, arrays out; no pandas, no config objects.

Each kernel is compiled with ``cache=True`` so a fresh process loads machine code from disk.
Bundles of arguments are NamedTuples (``PanelView``, ``Screens``, ``SelectionRules``,
``TradeSchedule``, ``WeightRules``, ``Targets``): numba passes them by value at full speed, and
callers name every field.
"""

from index_engine.kernels.capping import cap_weights, waterfill, weights_for_members
from index_engine.kernels.cleaning import spike_mask
from index_engine.kernels.regime import breadth_share, ema, regime_machine, regime_states
from index_engine.kernels.rolling import (
    ewma_of_valid,
    positive_row_sum,
    rolling_mean,
    sma_of_valid,
    trailing_daily_vol,
    trailing_mean,
)
from index_engine.kernels.selection import select_members
from index_engine.kernels.sparse import Targets

__all__ = [
    "Targets",
    "breadth_share",
    "cap_weights",
    "ema",
    "ewma_of_valid",
    "positive_row_sum",
    "regime_machine",
    "regime_states",
    "rolling_mean",
    "select_members",
    "sma_of_valid",
    "spike_mask",
    "trailing_daily_vol",
    "trailing_mean",
    "waterfill",
    "weights_for_members",
]
