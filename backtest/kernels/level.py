"""The index level the way providers publish it: base 1000, no costs, units method (numba).

At each trade date with level L and target weights w (risk assets; the stable sleeve gets the rest),
units_i = w_i·L / close_i; between trades L = Σ units_i·close_i (last valid close). The level is
continuous across rebalances by construction (the divisor/units method of methodology §3.1). A
drift-band candidate whose drifted weights are all within the band of the targets is not rebalanced.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.kernels.replay import STABLE_DUST, ReplayMarket, ReplayPlan

BASE_LEVEL = 1000.0


@njit(cache=True)
def index_level(market: ReplayMarket, plan: ReplayPlan, base: float) -> np.ndarray:
    """(last − first + 1,) gross level after each observation's rebalance."""
    price = market.price
    n = price.shape[1]
    first, last = plan.first, plan.last
    out = np.empty(last - first + 1)
    units = np.zeros(n)
    last_px = np.full(n, np.nan)
    target = np.zeros(n)
    held = np.empty(n, np.int64)
    n_held = 0
    stable_units = base / market.stable_price[first]
    k = 0
    for t in range(first, last + 1):
        if t > first and market.stable_growth[t] != 1.0:
            stable_units = stable_units * market.stable_growth[t]
        level = stable_units * market.stable_price[t]
        for j in range(n_held):
            i = held[j]
            p = price[t, i]
            if p > 0.0 and p < np.inf:
                last_px[i] = p
            level += units[i] * last_px[i]
        if k < plan.trade_rows.shape[0] and plan.trade_rows[k] == t:
            w_risk = 0.0
            for e in range(plan.ptr[k], plan.ptr[k + 1]):
                if plan.weight[e] > 0.0:
                    target[plan.col[e]] = plan.weight[e]
                    w_risk += plan.weight[e]
            w_stable = 1.0 - w_risk
            w_stable = w_stable if w_stable >= STABLE_DUST else 0.0
            skip = plan.skippable[k]
            if skip:
                if abs(stable_units * market.stable_price[t] / level - w_stable) > plan.drift_band:
                    skip = False
                for j in range(n_held):
                    i = held[j]
                    if abs(units[i] * last_px[i] / level - target[i]) > plan.drift_band:
                        skip = False
                for e in range(plan.ptr[k], plan.ptr[k + 1]):
                    i = plan.col[e]
                    if units[i] == 0.0 and target[i] > plan.drift_band:
                        skip = False
            if not skip:
                for j in range(n_held):
                    units[held[j]] = 0.0
                n_held = 0
                for e in range(plan.ptr[k], plan.ptr[k + 1]):
                    i = plan.col[e]
                    w = plan.weight[e]
                    if w > 0.0:
                        last_px[i] = price[t, i]
                        units[i] = w * level / last_px[i]
                        held[n_held] = i
                        n_held += 1
                stable_units = w_stable * level / market.stable_price[t]
            for e in range(plan.ptr[k], plan.ptr[k + 1]):
                target[plan.col[e]] = 0.0
            k += 1
        out[t - first] = level
    return out
