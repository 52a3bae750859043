"""Compiled loops that call a user's numba ``@njit`` rule (``index_engine.Methodology``) at full speed.

A rule receives the panel's arrays sliced to rows 0..d (numpy views: row d is the decision row, the
last one) and returns its answer; its keyword parameters follow as trailing positional arguments, in
the order they were given. Numba does not bounds-check, so reading past the slice is not an error
here: ``index_engine.testing.check_no_lookahead`` is what catches it (docs/python.md).

These loops are not cached (``cache=True`` cannot key on a user function); each new rule compiles
its loop once per process. A status array reports the first bad answer: ``status[0]`` the trade (or
row), ``status[1]`` the problem code, ``status[2]`` the length returned.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK = 0
BAD_LENGTH = 1  # the returned array is not (N,)
BAD_VALUE = 2  # a weight not finite / negative, or a share outside [0, 1]
OUTSIDE = 3  # a weight on an asset outside the trade's selection


@njit
def regime_loop(fn, price, market_cap, volume, lo, hi, args, out, status):
    """out[d] = fn(price[:d+1], market_cap[:d+1], volume[:d+1], *args) for d in lo..hi (a share in [0, 1])."""
    for d in range(lo, hi + 1):
        v = float(fn(price[: d + 1], market_cap[: d + 1], volume[: d + 1], *args))
        if not (v >= 0.0 and v <= 1.0):
            status[0], status[1] = d, BAD_VALUE
            out[d] = v
            return
        out[d] = v


@njit
def weighting_loop(fn, price, market_cap, volume, ptr, cols, decision_rows, args, raw, status):
    """raw[ptr[k]:ptr[k+1]] = the rule's weights of trade k's members; the rule gets the members mask."""
    n = price.shape[1]
    selected = np.zeros(n, np.bool_)
    for k in range(ptr.shape[0] - 1):
        a, b = ptr[k], ptr[k + 1]
        if a == b:
            continue
        d = decision_rows[k]
        for j in range(a, b):
            selected[cols[j]] = True
        w = fn(price[: d + 1], market_cap[: d + 1], volume[: d + 1], selected, *args)
        if w.shape[0] != n:
            status[0], status[1], status[2] = k, BAD_LENGTH, w.shape[0]
            return
        for i in range(n):
            v = w[i]
            if not (v >= 0.0 and v < np.inf):
                status[0], status[1], status[2] = k, BAD_VALUE, i
                return
            if v != 0.0 and not selected[i]:
                status[0], status[1], status[2] = k, OUTSIDE, i
                return
        for j in range(a, b):
            raw[j] = w[cols[j]]
            selected[cols[j]] = False


@njit
def selection_loop(fn, price, market_cap, volume, eligible_ptr, eligible_cols, decision_rows, args, status):
    """Members CSR ``(ptr, cols)`` of every trade: the rule's (N,) boolean mask, given the trade's
    eligible mask, intersected with it."""
    n = price.shape[1]
    r = decision_rows.shape[0]
    ptr = np.zeros(r + 1, np.int64)
    cols = np.empty(max(16, eligible_cols.shape[0]), np.int64)
    eligible = np.zeros(n, np.bool_)
    m = 0
    for k in range(r):
        a, b = eligible_ptr[k], eligible_ptr[k + 1]
        if a == b:
            ptr[k + 1] = m
            continue
        for j in range(a, b):
            eligible[eligible_cols[j]] = True
        d = decision_rows[k]
        mask = fn(price[: d + 1], market_cap[: d + 1], volume[: d + 1], eligible, *args)
        if mask.shape[0] != n:
            status[0], status[1], status[2] = k, BAD_LENGTH, mask.shape[0]
            return ptr, cols[:0]
        for i in range(n):
            if mask[i] and eligible[i]:
                if m == cols.shape[0]:
                    grown = np.empty(2 * m, np.int64)
                    grown[:m] = cols[:m]
                    cols = grown
                cols[m] = i
                m += 1
        ptr[k + 1] = m
        for j in range(a, b):
            eligible[eligible_cols[j]] = False
    return ptr, cols[:m].copy()
