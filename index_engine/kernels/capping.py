"""Weighting schemes and exact capped weights (iterative water-filling)."""

from __future__ import annotations

import numpy as np
from numba import njit

SCHEME_MARKET_CAP = 0
SCHEME_SQRT_MARKET_CAP = 1
SCHEME_EQUAL = 2


@njit(cache=True)
def cap_weights(raw: np.ndarray, cap: float) -> np.ndarray:
    """Weights proportional to ``raw`` (> 0) with every weight <= ``cap``.

    The excess of capped names is redistributed pro rata (to ``raw``) over the uncapped names,
    repeated until none exceeds the cap. Exact: the result sums to 1 up to float rounding and
    no rounding is applied. ``cap >= 1`` means uncapped. The caller guarantees feasibility
    (n × cap >= 1); for n × cap < 1 this returns equal weights.
    """
    n = raw.shape[0]
    w = np.empty(n)
    if n == 0:
        return w
    if n * cap < 1.0:
        w[:] = 1.0 / n
        return w
    fixed = np.zeros(n, np.bool_)
    n_fixed = 0
    while True:
        free_sum = 0.0
        for i in range(n):
            if not fixed[i]:
                free_sum += raw[i]
        budget = 1.0 - n_fixed * cap
        breach = False
        for i in range(n):
            if not fixed[i]:
                w[i] = raw[i] / free_sum * budget
                if w[i] > cap:
                    breach = True
        if not breach:
            break
        for i in range(n):
            if not fixed[i] and w[i] > cap:
                fixed[i] = True
                n_fixed += 1
                w[i] = cap
        if n_fixed == n:
            break
    return w


@njit(cache=True)
def weights_for_trades(
    score: np.ndarray, selected: np.ndarray, scheme: int, max_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(R, N) target weights of the risk sleeve and (R,) flags of infeasible caps.

    ``score`` is the market cap at each trade's decision date; ``scheme`` one of the SCHEME_*
    constants; ``max_weight`` <= 0 or >= 1 means no cap. Rows with no selection are all zero.
    Where n × max_weight < 1 the cap is infeasible: equal weights, flagged.
    """
    r_count, n = score.shape
    out = np.zeros((r_count, n))
    infeasible = np.zeros(r_count, np.bool_)
    cap = max_weight if 0.0 < max_weight < 1.0 else 1.0
    for k in range(r_count):
        idx = np.flatnonzero(selected[k])
        m = idx.shape[0]
        if m == 0:
            continue
        raw = np.empty(m)
        for j in range(m):
            v = score[k, idx[j]]
            if scheme == SCHEME_MARKET_CAP:
                raw[j] = v
            elif scheme == SCHEME_SQRT_MARKET_CAP:
                raw[j] = np.sqrt(v)
            else:
                raw[j] = 1.0
        if m * cap < 1.0:
            infeasible[k] = True
        w = cap_weights(raw, cap)
        for j in range(m):
            out[k, idx[j]] = w[j]
    return out, infeasible
