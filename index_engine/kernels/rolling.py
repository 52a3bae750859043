"""Rolling windows over time: means, sums, trailing volatility, smoothed market caps, medians."""

from __future__ import annotations

import numpy as np
from numba import njit

from index_engine.kernels.portable import log


@njit(cache=True)
def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over the last ``window`` observations, including the current one.

    Exact (re-summed, no running-sum drift). NaN until ``window`` finite values are available,
    and NaN wherever any value inside the window is NaN.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        s = 0.0
        ok = True
        for j in range(t - window + 1, t + 1):
            v = x[j]
            if not np.isfinite(v):
                ok = False
                break
            s += v
        if ok:
            out[t] = s / window
    return out


@njit(cache=True)
def positive_row_sum(x: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(T,) sum over ``columns`` of the finite, positive values of each row of ``x`` (T, N), each
    row added in column order (so the result does not depend on how rows are batched)."""
    t_count, n = x.shape
    use = np.zeros(n, np.bool_)
    use[columns] = True
    out = np.zeros(t_count)
    t = 0
    # Four rows per pass: four independent addition chains run side by side instead of one chain
    # waiting on each add's latency (2-2.5x faster); every row's own order, hence its bits, is kept.
    while t + 4 <= t_count:
        s0 = s1 = s2 = s3 = 0.0
        r0, r1, r2, r3 = x[t], x[t + 1], x[t + 2], x[t + 3]
        for i in range(n):
            if use[i]:
                v0, v1, v2, v3 = r0[i], r1[i], r2[i], r3[i]
                s0 += v0 if (v0 > 0.0 and v0 < np.inf) else 0.0  # NaN compares False
                s1 += v1 if (v1 > 0.0 and v1 < np.inf) else 0.0
                s2 += v2 if (v2 > 0.0 and v2 < np.inf) else 0.0
                s3 += v3 if (v3 > 0.0 and v3 < np.inf) else 0.0
        out[t], out[t + 1], out[t + 2], out[t + 3] = s0, s1, s2, s3
        t += 4
    for r in range(t, t_count):  # the last T mod 4 rows
        s = 0.0
        row = x[r]
        for i in range(n):
            v = row[i]
            s += v if (use[i] and v > 0.0 and v < np.inf) else 0.0
        out[r] = s
    return out


@njit(cache=True)
def trailing_mean(x: np.ndarray, d: int, col: int, window: int) -> float:
    """Mean of the finite values of ``x[d − window + 1 : d + 1, col]`` (the part of the window that
    exists); 0.0 when there is none (no evidence, e.g. of volume)."""
    s = 0.0
    c = 0
    for j in range(max(0, d - window + 1), d + 1):
        v = x[j, col]
        if np.isfinite(v):
            s += v
            c += 1
    return s / c if c > 0 else 0.0


@njit(cache=True)
def trailing_daily_vol(price: np.ndarray, days: np.ndarray, d: int, col: int, window: int) -> float:
    """Sample std (ddof 1) of the log returns between consecutive valid closes of ``col`` inside rows
    d − window + 1 … d, each scaled to one day by 1/sqrt(its calendar gap in days); NaN with fewer than
    two returns. Uses only data through d (the gap comes from the two closes' own dates)."""
    prev = np.nan
    prev_day = 0
    s = 0.0
    s2 = 0.0
    c = 0
    for j in range(max(0, d - window + 1), d + 1):
        p = price[j, col]
        if p > 0.0 and p < np.inf:
            if prev == prev:  # not NaN
                x = log(p / prev)
                gap = days[j] - prev_day
                if gap != 1:
                    x = x / np.sqrt(float(gap))
                s += x
                s2 += x * x
                c += 1
            prev = p
            prev_day = days[j]
    if c < 2:
        return np.nan
    var = (s2 - s * s / c) / (c - 1)
    return np.sqrt(max(var, 0.0))


@njit(cache=True)
def ewma_of_valid(x: np.ndarray, alpha: float) -> np.ndarray:
    """(T, N) exponentially weighted average per column over the valid (finite, > 0) values: seeded
    with the first valid value, s = α·x + (1 − α)·s_prev on each valid row, carried unchanged over
    invalid rows; NaN before the first valid value. Row t uses rows ≤ t only."""
    t_count, n = x.shape
    out = np.empty((t_count, n))
    state = np.full(n, np.nan)
    keep = 1.0 - alpha
    for t in range(t_count):
        for i in range(n):
            v = x[t, i]
            if v > 0.0 and v < np.inf:
                s = state[i]
                state[i] = v if s != s else alpha * v + keep * s
            out[t, i] = state[i]
    return out


@njit(cache=True)
def sma_of_valid(x: np.ndarray, window: int) -> np.ndarray:
    """(T, N) mean of the valid (finite, > 0) values among rows t − window + 1 … t of each column,
    summed oldest first; NaN where the window holds none. Row t uses rows ≤ t only."""
    t_count, n = x.shape
    out = np.empty((t_count, n))
    for t in range(t_count):
        lo = max(0, t - window + 1)
        for i in range(n):
            s = 0.0
            c = 0
            for j in range(lo, t + 1):
                v = x[j, i]
                if v > 0.0 and v < np.inf:
                    s += v
                    c += 1
            out[t, i] = s / c if c > 0 else np.nan
    return out


@njit(cache=True)
def trailing_median(x: np.ndarray, window: int) -> np.ndarray:
    """(n,) median of the last ``window`` values of ``x`` up to each position (fewer at the start)."""
    n = x.shape[0]
    out = np.empty(n)
    buf = np.empty(window)
    for i in range(n):
        lo = max(0, i - window + 1)
        m = i + 1 - lo
        buf[:m] = x[lo: i + 1]
        b = np.sort(buf[:m])
        out[i] = b[m // 2] if m % 2 == 1 else 0.5 * (b[m // 2 - 1] + b[m // 2])
    return out
