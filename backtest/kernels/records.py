"""Structured record dtypes of the replay kernel's logs (one row per order / unfilled order / holding).

Numba reads and writes the named fields directly (``orders[n].fee = ...``); the frames in
``backtest.outputs`` are built from the same names, so no column exists only in a comment.
"""

from __future__ import annotations

import numpy as np
from numba import njit

ORDER_DTYPE = np.dtype([
    ("row", np.int64),  # observation row of the trade date
    ("col", np.int64),  # asset column (the stable asset's column for a priced stable sleeve)
    ("reason", np.int64),  # codes.REASON_*
    ("quantity", np.float64),  # signed units: + buy, − sell
    ("price", np.float64),  # USD per unit (the close used)
    ("notional", np.float64),  # |USD traded|
    ("fee", np.float64),  # exchange fee, USD
    ("platform_fee", np.float64),  # platform fee, USD
    ("slippage", np.float64),  # slippage and impact, USD
    ("gas", np.float64),  # gas, USD
])

UNFILLED_DTYPE = np.dtype([
    ("row", np.int64),
    ("col", np.int64),
    ("reason", np.int64),  # codes.FREEZE_* (min_order, max_participation, unfunded)
    ("requested", np.float64),  # signed requested notional, USD (+ buy)
    ("filled", np.float64),  # |USD filled|
    ("price", np.float64),
])

HOLDING_DTYPE = np.dtype([
    ("row", np.int64),
    ("col", np.int64),  # −1 for the cash sleeve
    ("quantity", np.float64),
    ("price", np.float64),
    ("value", np.float64),  # USD after the trades
    ("weight", np.float64),  # value / NAV after the trades
])


@njit(cache=True)
def grow(records: np.ndarray, needed: int) -> np.ndarray:
    """``records`` with room for at least ``needed`` rows (doubling), the filled rows kept."""
    if needed <= records.shape[0]:
        return records
    out = np.empty(max(needed, 2 * records.shape[0] + 64), records.dtype)
    out[: records.shape[0]] = records
    return out
