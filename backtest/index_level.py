"""The index level the way providers publish it: base 1000, no costs, units method.

At each trade date with level L and target weights w (risk assets; the stable sleeve gets the rest),
units_i = w_i·L / close_i; between trades L = Σ units_i·close_i (last valid close). The level is
continuous across rebalances by construction (the divisor/units method of methodology §3.1).
"""

from __future__ import annotations

import numpy as np
from numba import njit

BASE_LEVEL = 1000.0


@njit(cache=True)
def index_level(price, stable_price, first, last, trade_rows, weights, base):
    """(last − first + 1,) gross level after each observation's rebalance."""
    n = price.shape[1]
    out = np.empty(last - first + 1)
    units = np.zeros(n)
    last_px = np.full(n, np.nan)
    held = np.empty(n, np.int64)
    n_held = 0
    stable_units = base / stable_price[first]
    k = 0
    for t in range(first, last + 1):
        level = stable_units * stable_price[t]
        for j in range(n_held):
            i = held[j]
            p = price[t, i]
            if p > 0.0 and p < np.inf:
                last_px[i] = p
            level += units[i] * last_px[i]
        if k < trade_rows.shape[0] and trade_rows[k] == t:
            for j in range(n_held):
                units[held[j]] = 0.0
            n_held = 0
            w_risk = 0.0
            for i in range(n):
                w = weights[k, i]
                if w > 0.0:
                    last_px[i] = price[t, i]
                    units[i] = w * level / last_px[i]
                    held[n_held] = i
                    n_held += 1
                    w_risk += w
            w_stable = 1.0 - w_risk
            stable_units = (w_stable if w_stable >= 1e-12 else 0.0) * level / stable_price[t]
            k += 1
        out[t - first] = level
    return out
