"""The exact self-financing trade: how much a rebalance can keep invested after paying its own costs.

At a trade with pre-trade value NAV_pre, the post-trade value x solves

    x = NAV_pre − Σ_j cost_j(|d_j|),    d_j = a_j·x + b_j  (each leg's trade, USD)

with cost(q) = lin·q + min(impact·q^1.5, max_impact·q) + gas·(q ≠ 0). ``rebalance_legs`` sets up the
legs (risk assets and the stable sleeve), freezes orders skipped for ``min_order`` or capped by
participation, legs whose price is stale (``Legs.fixed``) and dust, and calls ``solve_post_trade_value``.

Dust: an order that is float residue rather than a decision is never placed and costs nothing. A
held risk leg that stays held is dust when its trade is at most ``ORDER_DUST`` of the position (the
larger of its value before and after); the stable leg when its trade is at most ``ORDER_DUST`` of
NAV_pre. Entries and exits are never dust.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from index_engine.codes import (
    FREEZE_DUST,
    FREEZE_MIN_ORDER,
    FREEZE_NONE,
    FREEZE_PARTICIPATION,
    FREEZE_STALE,
    FREEZE_UNFUNDED,
)

#: An order of at most this fraction of the position it resizes (of NAV_pre for the stable sleeve) is
#: float residue: ~4,500 ulps, far above the rounding of w·x − h (a few ulps of the position, plus the
#: rounding of the NAV sum), far below any real order (a weight moves by at most 1e-12 of itself).
ORDER_DUST = 1e-12

_NO_FIXED = np.zeros(0, np.int8)


class Legs(NamedTuple):
    """One rebalance: current values ``h`` (USD), target weights ``w``, linear cost rates ``lin``,
    impact coefficients ``impact`` and order caps ``cap`` (USD) of the m risk legs; the stable leg's
    ``h_s``, ``w_s``, ``lin_s``, ``impact_s``; gas per order ``gas`` / ``gas_s`` (USD); the impact-rate cap
    ``max_impact``; ``min_order`` (USD) and the pre-trade value ``nav_pre`` (USD). ``fixed`` (m,) int8 (optional):
    a FREEZE_* code per risk leg that must not trade (FREEZE_STALE: no price at the trade date), FREEZE_NONE
    for the others; empty = none fixed."""

    h: np.ndarray
    w: np.ndarray
    lin: np.ndarray
    impact: np.ndarray
    cap: np.ndarray
    h_s: float
    w_s: float
    lin_s: float
    impact_s: float
    gas: float
    gas_s: float
    max_impact: float
    min_order: float
    nav_pre: float
    fixed: np.ndarray = _NO_FIXED


class Fills(NamedTuple):
    """The result of ``rebalance_legs``: post-trade value ``x``; post-trade values ``post`` / ``post_s`` and
    trades ``trade`` / ``trade_s`` (USD, + buy) of the legs; ``frozen`` FREEZE_* code per leg; the
    ``requested`` notional of frozen legs; ``ok`` (the solve converged)."""

    x: float
    post: np.ndarray
    post_s: float
    trade: np.ndarray
    trade_s: float
    frozen: np.ndarray
    requested: np.ndarray
    ok: bool


@njit(cache=True)
def _excess(x, a, b, h, lin, impact, max_impact, gas, nav_pre, rel, dust_last):
    """f(x) = x + Σ_j cost_j(|a_j·x + b_j|) − nav_pre and its slope. A trade of at most rel × the larger of
    h_j and h_j + d_j (the last leg: at most ``dust_last``) is dust and costs nothing."""
    f = x - nav_pre
    df = 1.0
    last = a.shape[0] - 1
    for j in range(a.shape[0]):
        d = a[j] * x + b[j]
        if d != 0.0:
            q = abs(d)
            if q <= (dust_last if j == last else rel * max(h[j], h[j] + d)):
                continue
            if impact[j] == 0.0:  # linear costs (fixed_bps): no square root needed
                f += lin[j] * q + gas[j]
                df += (1.0 if d > 0.0 else -1.0) * a[j] * lin[j]
                continue
            root = np.sqrt(q)
            if impact[j] * root < max_impact:
                f += lin[j] * q + impact[j] * q * root + gas[j]
                slope = lin[j] + 1.5 * impact[j] * root
            else:  # the impact rate is capped: linear beyond the cap
                f += (lin[j] + max_impact) * q + gas[j]
                slope = lin[j] + max_impact
            df += (1.0 if d > 0.0 else -1.0) * a[j] * slope
    return f, df


@njit(cache=True)
def solve_post_trade_value(a, b, lin, impact, max_impact, gas, nav_pre):
    """Root x of  x + Σ_j cost_j(|d_j|) = nav_pre  with each leg's trade d_j = a_j·x + b_j (USD).

    Newton's method from x = nav_pre (where f ≥ 0), safeguarded by bisection inside the bracket
    [0, nav_pre]; with linear costs it lands on the exact root in a few steps. Returns (x, ok);
    x <= 0 means the costs exceed the portfolio. Every non-zero trade costs (no dust rule; see
    ``rebalance_legs``).
    """
    return _solve(a, b, np.zeros(a.shape[0]), lin, impact, max_impact, gas, nav_pre, 0.0, 0.0)


@njit(cache=True)
def _solve(a, b, h, lin, impact, max_impact, gas, nav_pre, rel, dust_last):
    """``solve_post_trade_value`` where trades within the dust thresholds of ``_excess`` cost nothing."""
    lo, hi = 0.0, nav_pre
    f_lo, _ = _excess(lo, a, b, h, lin, impact, max_impact, gas, nav_pre, rel, dust_last)
    if f_lo >= 0.0:
        return 0.0, True  # even x = 0 cannot pay the costs
    x = nav_pre
    for _ in range(300):
        f, df = _excess(x, a, b, h, lin, impact, max_impact, gas, nav_pre, rel, dust_last)
        if abs(f) <= 1e-13 * nav_pre:
            return x, True
        if f > 0.0:
            hi = x
        else:
            lo = x
        step = f / df if df > 0.0 else np.inf
        nxt = x - step
        if not (lo < nxt < hi):
            nxt = 0.5 * (lo + hi)
        if nxt == x or hi - lo <= 1e-15 * nav_pre:
            if abs(f) > 1e-9 * nav_pre and x <= 1e-9 * nav_pre:
                return 0.0, True  # the bracket closed on the gas jump at x = 0: the costs exceed the portfolio
            return x, True
        x = nxt
    return x, False


@njit(cache=True)
def _setup(legs, frozen, value_frozen, mode, n_frozen, w_free, v_frozen, a, c):
    """Coefficients of every leg's post-trade value a_j·x + c_j for one solve."""
    m = legs.h.shape[0]
    for j in range(m):
        if frozen[j] != FREEZE_NONE:
            a[j] = 0.0
            c[j] = value_frozen[j]
        elif mode == 0:
            a[j] = legs.w[j]
            c[j] = 0.0
        elif w_free > 0.0:
            a[j] = legs.w[j] / w_free
            c[j] = -a[j] * v_frozen
        else:  # every free leg is a sale to 0 (target weight 0): nothing to scale
            a[j] = 0.0
            c[j] = 0.0
    if n_frozen == 0:
        a[m] = legs.w_s
        c[m] = 0.0
    elif mode == 0:
        a[m] = 1.0 - w_free
        c[m] = -v_frozen
    elif w_free > 0.0:
        a[m] = 0.0
        c[m] = 0.0
    else:
        a[m] = 1.0
        c[m] = -v_frozen


@njit(cache=True)
def rebalance_legs(legs: Legs) -> Fills:
    """Trade every leg towards its target weight, paying costs out of the portfolio.

    Orders below ``min_order`` are skipped and orders above their cap filled up to it (skipped if
    the cap is below ``min_order``): such legs are frozen at their reachable value, the other legs
    still get w·x, and what is not invested stays in the stable sleeve. When frozen sells cannot
    fund the other legs the free legs are scaled down together; when the fillable orders cannot
    even pay their own costs nothing trades (FREEZE_UNFUNDED). Legs fixed by the caller
    (``Legs.fixed``) are frozen at their value from the start. Dust (module docstring) is never
    traded: a dust risk leg is frozen at its value (FREEZE_DUST, not an unfilled order) and a dust
    stable trade is dropped. Trades are exactly the solver's, so costs are charged on the orders recorded.
    """
    h, w, cap = legs.h, legs.w, legs.cap
    m = h.shape[0]
    frozen = np.full(m, FREEZE_NONE, np.int8)
    value_frozen = np.zeros(m)
    requested = np.zeros(m)
    if legs.fixed.shape[0] == m:
        for j in range(m):
            if legs.fixed[j] != FREEZE_NONE:
                frozen[j] = legs.fixed[j]
                value_frozen[j] = h[j]
                requested[j] = abs(w[j] * legs.nav_pre - h[j])
    a = np.empty(m + 1)
    c = np.empty(m + 1)  # post-trade value of leg j = a_j·x + c_j; its trade d_j = a_j·x + (c_j − h_j)
    b = np.empty(m + 1)
    hh = np.empty(m + 1)
    hh[:m] = h
    hh[m] = legs.h_s
    lin_all = np.empty(m + 1)
    imp_all = np.empty(m + 1)
    gas_all = np.empty(m + 1)
    lin_all[:m] = legs.lin
    imp_all[:m] = legs.impact
    gas_all[:m] = legs.gas
    lin_all[m] = legs.lin_s
    imp_all[m] = legs.impact_s
    gas_all[m] = legs.gas_s
    nav_pre = legs.nav_pre
    dust_s = ORDER_DUST * nav_pre
    x = nav_pre
    ok = True
    unfunded = False
    for _ in range(m + 1):
        w_free = 0.0
        v_frozen = 0.0
        n_frozen = 0
        for j in range(m):
            if frozen[j] == FREEZE_NONE:
                w_free += w[j]
            else:
                v_frozen += value_frozen[j]
                n_frozen += 1
        for mode in range(2):  # 0: free legs at w·x, the sleeve takes the rest; 1: scale free legs
            _setup(legs, frozen, value_frozen, mode, n_frozen, w_free, v_frozen, a, c)
            for j in range(m + 1):
                b[j] = c[j] - hh[j]
            x, ok = _solve(a, b, hh, lin_all, imp_all, legs.max_impact, gas_all, nav_pre, ORDER_DUST, dust_s)
            if not ok or n_frozen == 0 or a[m] * x + c[m] >= 0.0:
                break
        if not ok:
            break
        if n_frozen > 0 and x - v_frozen < 0.0:
            unfunded = True  # what can be filled does not pay for its own orders
            break
        changed = False
        for j in range(m):
            if frozen[j] != FREEZE_NONE:
                continue
            d = a[j] * x + b[j]
            q = abs(d)
            if q > 0.0 and q <= ORDER_DUST * max(h[j], h[j] + d):
                frozen[j] = FREEZE_DUST  # float residue: not an order, not an unfilled order
                value_frozen[j] = h[j]
                changed = True
            elif q > 0.0 and (q < legs.min_order or (q > cap[j] and cap[j] < legs.min_order)):
                frozen[j] = FREEZE_MIN_ORDER
                value_frozen[j] = h[j]
                requested[j] = q
                changed = True
            elif q > cap[j]:
                frozen[j] = FREEZE_PARTICIPATION
                value_frozen[j] = h[j] + (cap[j] if d > 0.0 else -cap[j])
                requested[j] = q
                changed = True
        if not changed:
            break
    d_all = np.zeros(m + 1)
    post = hh.copy()
    if unfunded:
        for j in range(m):
            if frozen[j] == FREEZE_STALE or frozen[j] == FREEZE_DUST:
                continue  # not trading for a reason of its own
            q = abs(a[j] * x + b[j]) if frozen[j] == FREEZE_NONE else requested[j]
            if q > 0.0:
                frozen[j] = FREEZE_UNFUNDED
                requested[j] = q
        return Fills(nav_pre, post[:m], float(post[m]), d_all[:m], float(d_all[m]), frozen, requested, ok)
    for j in range(m + 1):
        d_all[j] = a[j] * x + b[j]
        # a free leg with nothing frozen is exactly w·x; any other leg is its value plus the trade
        post[j] = a[j] * x if c[j] == 0.0 else hh[j] + d_all[j]
    if d_all[m] != 0.0 and abs(d_all[m]) <= dust_s:  # the stable leg's residue (costed as nothing above)
        d_all[m] = 0.0
        post[m] = hh[m]
    return Fills(x, post[:m], float(post[m]), d_all[:m], float(d_all[m]), frozen, requested, ok)
