"""The regime's numba kernels: the state machine shared by every signal, and the signal series that
need a loop (EMA, breadth). Every value at observation t uses data through t only.

Ties: a value within ``TIE`` (relative) of its threshold counts as *on* the threshold, so a series
equal to its own average (a constant price) never switches because of the last bit of a sum.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from index_engine.codes import BEAR, BULL

#: relative distance below which a value counts as equal to its threshold
TIE = 1e-12


@njit(cache=True)
def regime_machine(value, lower, upper, entry_confirm, exit_confirm, min_dwell, entry_inclusive):
    """(T,) state (BULL 1 / BEAR 0) of one signal.

    While bullish, ``exit_confirm`` consecutive observations with value < lower (beyond the tie
    tolerance) switch to bearish; while bearish, ``entry_confirm`` consecutive observations with
    value > upper (≥ upper when ``entry_inclusive``) switch back. Where the value or a threshold is
    undefined the count restarts and the state carries (bullish before the first definition). After a
    switch at s0 no switch happens before s0 + ``min_dwell``; the count keeps running meanwhile.
    """
    n = value.shape[0]
    state = np.empty(n, np.int8)
    cur = BULL
    count = 0
    last_switch = -(1 << 60)
    for t in range(n):
        v = value[t]
        lo = lower[t]
        hi = upper[t]
        if not (np.isfinite(v) and np.isfinite(lo) and np.isfinite(hi)):
            count = 0
        elif cur == BULL:
            if v < lo - TIE * abs(lo):
                count += 1
            else:
                count = 0
            if count >= exit_confirm and t >= last_switch + min_dwell:
                cur = BEAR
                count = 0
                last_switch = t
        else:
            if entry_inclusive:
                beyond = v >= hi - TIE * abs(hi)
            else:
                beyond = v > hi + TIE * abs(hi)
            if beyond:
                count += 1
            else:
                count = 0
            if count >= entry_confirm and t >= last_switch + min_dwell:
                cur = BULL
                count = 0
                last_switch = t
        state[t] = cur
    return state


@njit(cache=True)
def regime_states(signal, sma, band, confirm):
    """The symmetric machine of ``total_market_cap_sma`` / ``asset_price_sma``: bearish below
    sma × (1 − band), bullish above sma × (1 + band), ``confirm`` observations each way."""
    return regime_machine(signal, sma * (1.0 - band), sma * (1.0 + band), confirm, confirm, 0, False)


@njit(cache=True)
def ema(x, window):
    """(T,) exponential moving average, α = 2 / (window + 1), seeded with the first finite value and
    carried over missing ones; NaN until ``window`` finite values have been seen."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    alpha = 2.0 / (window + 1.0)
    s = np.nan
    seen = 0
    for t in range(n):
        v = x[t]
        if np.isfinite(v):
            s = v if seen == 0 else alpha * v + (1.0 - alpha) * s
            seen += 1
        if seen >= window:
            out[t] = s
    return out


@njit(cache=True)
def breadth_share(price, market_cap, keep, top_n, window):
    """(T,) share of the top ``top_n`` assets by market cap at each observation (among ``keep``) whose
    close is above their own SMA over the last ``window`` observations; assets without a full window
    of closes are left out of the share; NaN where none of the top N has one."""
    t_count, n = price.shape
    out = np.full(t_count, np.nan)
    neg = np.empty(n)
    idx = np.empty(n, np.int64)
    for t in range(t_count):
        m = 0
        for i in range(n):
            c = market_cap[t, i]
            if keep[i] and c > 0.0 and c < np.inf:
                idx[m] = i
                neg[m] = -c
                m += 1
        if m == 0:
            continue
        order = np.argsort(neg[:m], kind="mergesort")  # largest first, ties by column
        above = 0
        counted = 0
        for r in range(min(top_n, m)):
            i = idx[order[r]]
            if t < window - 1:
                continue
            s = 0.0
            ok = True
            for j in range(t - window + 1, t + 1):
                p = price[j, i]
                if not (p > 0.0 and p < np.inf):
                    ok = False
                    break
                s += p
            if not ok:
                continue
            counted += 1
            if price[t, i] > s / window:
                above += 1
        if counted > 0:
            out[t] = above / counted
    return out
