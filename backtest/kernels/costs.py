"""Per-order cost parameters of one asset at one trade, point in time (numba).

For an order of notional Q (USD) on asset i at a trade deciding on row d:

    cost = (fee + platform_fee)·Q + slippage_i·Q + min(impact_i·Q^0.5, max_impact)·Q + gas

``fixed_bps``: slippage_i = bps, impact_i = 0. ``sqrt_impact``: slippage_i = spread/2 and
impact_i = k·σ_i / sqrt(ADV_i), σ_i the daily volatility (``trailing_daily_vol``: each log return
scaled by its own calendar gap, so no later data enters) and ADV_i the mean 24 h volume, both over
windows ending at d; an asset without σ or ADV there pays ``fallback_rate`` (flagged).
``participation`` > 0 caps the order at that share of ADV_i (no cap without volume).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from index_engine.kernels.rolling import trailing_daily_vol, trailing_mean


class CostSpec(NamedTuple):
    """Cost settings as plain numbers (rates are fractions of notional, not bps)."""

    fee_rate: float
    platform_rate: float
    fixed_rate: float  # fixed_bps slippage rate
    sqrt_impact: bool
    impact_k: float
    half_spread: float
    fallback_rate: float
    max_impact: float  # cap on the impact rate; inf for fixed_bps
    vol_window: int
    adv_window: int
    participation: float  # order cap as a share of ADV; 0 = none
    min_order: float  # USD


class LegCost(NamedTuple):
    """Cost parameters of one asset at one trade: linear slippage rate, impact coefficient, order cap
    (USD), and whether the fallback rate was used."""

    slippage_rate: float
    impact: float
    order_cap: float
    fell_back: bool


@njit(cache=True)
def leg_cost(spec: CostSpec, price: np.ndarray, volume: np.ndarray, days: np.ndarray, d: int, col: int) -> LegCost:
    """Cost parameters of ``col`` for a trade deciding on row ``d`` (data through d only)."""
    need_adv = spec.sqrt_impact or spec.participation > 0.0
    adv = trailing_mean(volume, d, col, spec.adv_window) if (need_adv and d >= 0) else 0.0
    cap = spec.participation * adv if (spec.participation > 0.0 and adv > 0.0) else np.inf
    if not spec.sqrt_impact:
        return LegCost(spec.fixed_rate, 0.0, cap, False)
    sigma = trailing_daily_vol(price, days, d, col, spec.vol_window) if d >= 0 else np.nan
    if np.isfinite(sigma) and adv > 0.0:
        return LegCost(spec.half_spread, spec.impact_k * sigma / np.sqrt(adv), cap, False)
    return LegCost(spec.fallback_rate, 0.0, cap, True)


@njit(cache=True)
def leg_costs(spec: CostSpec, price: np.ndarray, volume: np.ndarray, days: np.ndarray, d: int, cols: np.ndarray):
    """(slippage_rate, impact, order_cap, fell_back) arrays of ``leg_cost`` for several columns."""
    m = cols.shape[0]
    rate = np.empty(m)
    impact = np.empty(m)
    cap = np.empty(m)
    fell = np.zeros(m, np.bool_)
    for j in range(m):
        lc = leg_cost(spec, price, volume, days, d, cols[j])
        rate[j], impact[j], cap[j], fell[j] = lc.slippage_rate, lc.impact, lc.order_cap, lc.fell_back
    return rate, impact, cap, fell
