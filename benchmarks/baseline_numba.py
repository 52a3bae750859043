"""The baseline: a minimal hand-written numba loop doing the benchmark's work in one pass over T.

This is what a competent engineer would write in an hour for exactly this index: weekly (Monday)
top-100 by market cap, cap-weighted (optional cap), optional total-market-cap SMA regime, a cash
sleeve, a proportional fee with the exact self-financing cost solve, decision lag 1. It returns the
NAV only: no trade log, no holdings, no statistics, no validation, no configuration. It is the
speed reference for ``run_backtest`` (target: within 2×); ``tests/test_benchmarks_smoke.py`` checks
that it computes the same NAV as index-engine.

``memory_floor`` is one numba pass that reads every price and market cap once: no backtest of this
panel can be faster than reading its inputs.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _kth_smallest(a, k):
    """The k-th smallest value of ``a`` (0-based; ``a`` is reordered): Hoare's quickselect.

    (np.partition would do, but costs numba ~7 s of compilation.)"""
    lo, hi = 0, a.shape[0] - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(cache=True)
def baseline_nav(price, mcap, include, monday, top_n, max_weight, regime_window, fee, initial_nav):
    """(T,) NAV after each day's trades.

    price, mcap: (T, N) float64 with NaN outside an asset's life. include: (N,) bool, category not
    excluded. monday: (T,) bool, scheduled rebalance rows. max_weight <= 0: no cap.
    regime_window <= 0: no regime (always bullish). fee: rate (0.001 = 10 bps).
    """
    t_count, n = price.shape
    nav = np.empty(t_count)
    qty = np.zeros(n)
    last = np.full(n, np.nan)  # last valid close of each asset
    held = np.empty(n, np.int64)
    n_held = 0
    cash = initial_nav

    win = max(regime_window, 1)
    ring = np.zeros(win)
    ring_sum = 0.0
    bull = True
    prev_bull = True

    cand = np.empty(n, np.int64)
    score = np.empty(n)
    target = np.zeros(n)
    inv = np.empty(n, np.int64)  # assets involved in a trade: held ∪ selected
    in_inv = np.zeros(n, np.bool_)
    fixed = np.zeros(n, np.bool_)  # capped, by rank
    order = np.empty(n, np.int64)  # selected candidates
    scratch = np.empty(n)
    cap = max_weight if 0.0 < max_weight < 1.0 else 1.0

    for t in range(t_count):
        # regime from data through t−1 (the decision row of a trade at t)
        if regime_window > 0 and t >= 1:
            d = t - 1
            s = 0.0
            for i in range(n):
                v = mcap[d, i]
                if include[i] and v > 0.0 and v < np.inf:
                    s += v
            ring_sum += s - ring[d % win]
            ring[d % win] = s
            if d >= win - 1:
                sma = ring_sum / win
                if s < sma:
                    bull = False
                elif s > sma:
                    bull = True

        # mark the book at the last valid close
        value = cash
        for j in range(n_held):
            i = held[j]
            p = price[t, i]
            if p > 0.0 and p < np.inf:
                last[i] = p
            value += qty[i] * last[i]

        trade = False
        if t == 1:
            trade = bull
        elif t > 1:
            trade = (bull != prev_bull) or (bull and monday[t])
        prev_bull = bull

        if trade:
            d = t - 1
            m = 0  # eligible candidates
            if bull:
                for i in range(n):
                    pd_, c, pt = price[d, i], mcap[d, i], price[t, i]
                    if (include[i] and pd_ > 0.0 and pd_ < np.inf and c > 0.0 and c < np.inf
                            and pt > 0.0 and pt < np.inf):
                        cand[m] = i
                        score[m] = -c
                        m += 1
            # top_n by cap (ties by column): quickselect finds the cut-off, no full sort
            k = min(m, top_n)
            if m > top_n:
                scratch[:m] = score[:m]
                kth = _kth_smallest(scratch[:m], top_n - 1)
                k = 0
                for j in range(m):
                    if score[j] < kth:
                        order[k] = j
                        k += 1
                for j in range(m):
                    if k == top_n:
                        break
                    if score[j] == kth:
                        order[k] = j
                        k += 1
            else:
                for j in range(m):
                    order[j] = j
            # weights ∝ cap at d, water-filled to the cap (excess spread pro rata over the rest)
            if k * cap < 1.0:
                for j in range(k):
                    target[cand[order[j]]] = 1.0 / k
            else:
                n_fixed = 0
                while True:
                    free_sum = 0.0
                    for j in range(k):
                        if not fixed[j]:
                            free_sum -= score[order[j]]
                    budget = 1.0 - n_fixed * cap
                    breach = False
                    for j in range(k):
                        if not fixed[j]:
                            w = -score[order[j]] / free_sum * budget
                            target[cand[order[j]]] = w
                            breach |= w > cap
                    if not breach:
                        break
                    for j in range(k):
                        i = cand[order[j]]
                        if not fixed[j] and target[i] > cap:
                            fixed[j] = True
                            target[i] = cap
                            n_fixed += 1
                fixed[:k] = False

            # the involved assets and their prices at t
            m_inv = 0
            for j in range(n_held):
                inv[m_inv] = held[j]
                in_inv[held[j]] = True
                m_inv += 1
            for j in range(k):
                i = cand[order[j]]
                last[i] = price[t, i]
                if not in_inv[i]:
                    inv[m_inv] = i
                    in_inv[i] = True
                    m_inv += 1
            w_risk = 0.0
            for j in range(m_inv):
                w_risk += target[inv[j]]
            # exact cost solve: x = value − fee·Σ|w_i·x − h_i| (Newton from above)
            x = value
            for _ in range(100):
                f = x - value
                df = 1.0
                for j in range(m_inv):
                    i = inv[j]
                    dv = target[i] * x - qty[i] * last[i]
                    if dv > 0.0:
                        f += fee * dv
                        df += fee * target[i]
                    elif dv < 0.0:
                        f -= fee * dv
                        df -= fee * target[i]
                if abs(f) <= 1e-13 * value:
                    break
                x -= f / df
            # the new book
            n_held = 0
            for j in range(m_inv):
                i = inv[j]
                in_inv[i] = False
                if target[i] > 0.0:
                    qty[i] = target[i] * x / last[i]
                    held[n_held] = i
                    n_held += 1
                else:
                    qty[i] = 0.0
                target[i] = 0.0
            cash = max(0.0, 1.0 - w_risk) * x
            value = cash
            for j in range(n_held):
                value += qty[held[j]] * last[held[j]]
        nav[t] = value
    return nav


def run(price, mcap, include, monday, max_weight=None, regime=False, fee_bps=10.0,
        top_n=100, regime_window=200, initial_nav=1_000_000.0):
    """Python-friendly wrapper of ``baseline_nav``."""
    return baseline_nav(price, mcap, include, monday, top_n, -1.0 if max_weight is None else float(max_weight),
                        regime_window if regime else 0, fee_bps / 1e4, initial_nav)


@njit(cache=True)
def memory_floor(price, mcap):
    """One pass over both (T, N) arrays: counts their observed (non-NaN) values.

    The cost of reading the inputs once (an integer count, so the loop vectorises): no backtest of
    this panel can be faster.
    """
    t_count, n = price.shape
    count = 0
    for t in range(t_count):
        for i in range(n):
            count += (price[t, i] == price[t, i]) + (mcap[t, i] == mcap[t, i])
    return count
