"""Top-N selection by market cap with an entry/exit rank buffer, chained across trade dates."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _select_one(
    score: np.ndarray,
    eligible: np.ndarray,
    incumbent: np.ndarray,
    top_n: int,
    entry_rank: int,
    exit_rank: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (bool, N) with the selection for one trade date.

    Ranks eligible assets by ``score`` descending, ties broken by column (= asset_id) order.
    Incumbents stay while rank <= exit_rank, newcomers enter at rank <= entry_rank; the result is
    trimmed to ``top_n`` by rank, or filled by rank from the remaining eligible assets.
    """
    idx = np.flatnonzero(eligible)
    m = idx.shape[0]
    out[:] = False
    if m == 0:
        return
    # Only the best exit_rank + top_n ranks can be picked or used to fill: partition to them (all
    # ties at the boundary kept), then a stable sort keeps ascending column order among equal scores.
    k = exit_rank + top_n
    if m > k:
        neg = -score[idx]
        bound = np.partition(neg, k - 1)[k - 1]
        idx = idx[neg <= bound]
    order = idx[np.argsort(-score[idx], kind="mergesort")]
    m = order.shape[0]
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
    row = np.zeros(n, np.bool_)
    for k in range(r_count):
        if active[k]:
            _select_one(score[k], eligible[k], incumbent, top_n, entry_rank, exit_rank, row)
            out[k] = row
            incumbent[:] = row
        else:
            incumbent[:] = False
    return out
