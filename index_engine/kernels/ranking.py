"""Top-N selection by market cap with an entry/exit rank buffer, chained across trade dates."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _kth_smallest(values: np.ndarray, k: int) -> float:
    """The k-th smallest (0-based) of ``values``, which is reordered in place (quickselect)."""
    lo, hi = 0, values.shape[0] - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return values[k]


@njit(cache=True)
def _select_one(
    score: np.ndarray,
    eligible: np.ndarray,
    incumbent: np.ndarray,
    top_n: int,
    entry_rank: int,
    exit_rank: int,
    out: np.ndarray,
    idx: np.ndarray,
    neg: np.ndarray,
    work: np.ndarray,
) -> None:
    """Fill ``out`` (bool, N) with the selection for one trade date.

    Ranks eligible assets by ``score`` descending, ties broken by column (= asset_id) order.
    Incumbents stay while rank <= exit_rank, newcomers enter at rank <= entry_rank; the result is
    trimmed to ``top_n`` by rank, or filled by rank from the remaining eligible assets.
    ``idx``, ``neg``, ``work`` are (N,) scratch buffers.
    """
    n = score.shape[0]
    m = 0
    for i in range(n):  # one pass: eligible columns (ascending) and their negated scores
        out[i] = False
        if eligible[i]:
            idx[m] = i
            neg[m] = -score[i]
            m += 1
    if m == 0:
        return
    # Only the best exit_rank + top_n ranks can be picked or used to fill: keep those (all ties at
    # the boundary included), then a stable sort keeps ascending column order among equal scores.
    k = exit_rank + top_n
    if m > k:
        work[:m] = neg[:m]
        bound = _kth_smallest(work[:m], k - 1)
        kept = 0
        for j in range(m):
            if neg[j] <= bound:
                idx[kept] = idx[j]
                neg[kept] = neg[j]
                kept += 1
        m = kept
    order = idx[:m][np.argsort(neg[:m], kind="mergesort")]
    chosen = 0
    picked = np.zeros(m, np.bool_)
    for pos in range(m):
        rank = pos + 1
        i = order[pos]
        if (incumbent[i] and rank <= exit_rank) or ((not incumbent[i]) and rank <= entry_rank):
            if chosen < top_n:  # candidates come in rank order, so trimming drops the worst-ranked
                picked[pos] = True
                chosen += 1
    for pos in range(m):  # fill by rank
        if chosen >= top_n:
            break
        if not picked[pos]:
            picked[pos] = True
            chosen += 1
    for pos in range(m):
        if picked[pos]:
            out[order[pos]] = True


@njit(cache=True)
def select_constituents(
    score: np.ndarray,
    eligible: np.ndarray,
    active: np.ndarray,
    top_n: int,
    entry_rank: int,
    exit_rank: int,
) -> np.ndarray:
    """(R, N) bool selection for every trade date.

    Args:
        score: (R, N) ranking score at each trade's decision date (market cap, USD).
        eligible: (R, N) bool eligibility at each trade.
        active: (R,) bool, False where the trade holds no risk assets (bear regime); such a row
            selects nothing and leaves no incumbents for the next trade.
    The incumbents of trade k are the selection of trade k−1 when that trade was active.
    """
    r_count, n = score.shape
    out = np.zeros((r_count, n), np.bool_)
    incumbent = np.zeros(n, np.bool_)
    idx = np.empty(n, np.int64)
    neg = np.empty(n)
    work = np.empty(n)
    for k in range(r_count):
        if active[k]:
            _select_one(score[k], eligible[k], incumbent, top_n, entry_rank, exit_rank, out[k], idx, neg, work)
            incumbent[:] = out[k]
        else:
            incumbent[:] = False
    return out
