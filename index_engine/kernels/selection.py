"""Universe screens, ranking and buffers in one pass per trade: the members of every trade (CSR).

Eligibility is evaluated inside the ranking loop (no R × N eligibility or score matrix): at trade k
with decision row d and trade row t an asset is eligible when ``static_ok`` (category / asset list /
not the stable sleeve), price and market cap at d are finite and > 0, the price at t is finite and
> 0 (we never buy at a missing price), its history since ``first_day`` reaches ``min_history_days``,
its trailing mean volume reaches ``min_volume``, ``score_ok`` allows it and, when a membership list is
in effect, the list names it.

Ranking: by ``rank_score[d]`` descending (market cap, or a smoothed market cap), or by the composite
of the ranks of market cap and trailing volume (MVIS style); ties by column (= asset_id order).
Buffers: incumbents (the members of the last re-selection, when the previous trade was invested)
stay while rank ≤ exit_rank; newcomers enter at rank ≤ entry_rank, and — while the index stands
(there are incumbents) — only after qualifying at ``qualify_reviews`` consecutive reviews; the result
is trimmed to ``top_n`` by rank or filled by rank from incumbents and qualified assets. A start (the
first investment or a regime entry) has no incumbents and selects by rank alone. Between
reconstitutions the member set is kept (see ``select_members``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from index_engine.kernels.rolling import trailing_mean


class PanelView(NamedTuple):
    """The panel arrays selection reads, all (T, N) float64 except ``days`` (T,) int64 (days since epoch)."""

    price: np.ndarray
    market_cap: np.ndarray
    rank_score: np.ndarray
    volume: np.ndarray
    days: np.ndarray


class Screens(NamedTuple):
    """Eligibility screens. ``score_ok`` / ``score_missing`` are (R, N) bool or (0, 0) when unused;
    ``list_members`` is (L, N) bool with ``list_of_trade`` (R,) the list in effect at each trade (−1: none)."""

    static_ok: np.ndarray
    first_day: np.ndarray
    min_history_days: int
    min_volume: float
    volume_window: int
    score_ok: np.ndarray
    score_missing: np.ndarray
    list_of_trade: np.ndarray
    list_members: np.ndarray


class SelectionRules(NamedTuple):
    """Top-N and buffers. ``composite_cap`` / ``composite_volume``: weights of the average rank (both 0:
    rank by ``rank_score``)."""

    top_n: int
    entry_rank: int
    exit_rank: int
    qualify_reviews: int
    replace_dropped: bool
    composite_cap: float
    composite_volume: float


class TradeSchedule(NamedTuple):
    """(R,) per trade: rows, decision rows (−1: no data yet), invested?, full re-selection?, review?"""

    trade_rows: np.ndarray
    decision_rows: np.ndarray
    active: np.ndarray
    reselect: np.ndarray
    review: np.ndarray


@njit(cache=True, inline="always")
def _valid(x: float) -> bool:
    return x > 0.0 and x < np.inf  # NaN compares False


@njit(cache=True)
def _asset_ok(panel, screens, k, d, t, i, lst, missing) -> bool:
    """Whether asset ``i`` is eligible for trade k (decision row d ≥ 0, trade row t, list ``lst``).
    ``missing[0]`` counts the assets that pass every screen but lack a score."""
    if not screens.static_ok[i]:
        return False
    if not (_valid(panel.price[d, i]) and _valid(panel.market_cap[d, i]) and _valid(panel.price[t, i])):
        return False
    if screens.min_history_days > 0 and panel.days[d] - screens.first_day[i] < screens.min_history_days:
        return False
    if screens.list_members.shape[0] > 0 and (lst < 0 or not screens.list_members[lst, i]):  # before the first list
        return False
    if screens.min_volume > 0.0 and trailing_mean(panel.volume, d, i, screens.volume_window) < screens.min_volume:
        return False
    if screens.score_ok.shape[0] > 0 and not screens.score_ok[k, i]:
        if screens.score_missing[k, i]:
            missing[0] += 1
        return False
    return True


@njit(cache=True)
def _list_of(screens, k) -> int:
    return screens.list_of_trade[k] if screens.list_of_trade.shape[0] > 0 else -1


@njit(cache=True)
def _eligible(panel, screens, k, d, t, idx, missing) -> int:
    """Write the eligible columns of trade k (ascending) into ``idx``; return how many. The same
    screens as ``_asset_ok``, as one tight loop over the panel's rows d and t (the hot path)."""
    if d < 0:
        return 0
    lst = _list_of(screens, k)
    use_lists = screens.list_members.shape[0] > 0
    use_scores = screens.score_ok.shape[0] > 0
    price_d, cap_d, price_t = panel.price[d], panel.market_cap[d], panel.price[t]
    static_ok = screens.static_ok
    m = 0
    for i in range(price_d.shape[0]):
        if not static_ok[i]:
            continue
        if not (_valid(price_d[i]) and _valid(cap_d[i]) and _valid(price_t[i])):
            continue
        if screens.min_history_days > 0 and panel.days[d] - screens.first_day[i] < screens.min_history_days:
            continue
        if use_lists and (lst < 0 or not screens.list_members[lst, i]):  # before the first list: none
            continue
        if screens.min_volume > 0.0 and trailing_mean(panel.volume, d, i, screens.volume_window) < screens.min_volume:
            continue
        if use_scores and not screens.score_ok[k, i]:
            if screens.score_missing[k, i]:
                missing[0] += 1
            continue
        idx[m] = i
        m += 1
    return m


@njit(cache=True)
def eligible_columns(panel, screens, k, d, t):
    """(m,) the eligible columns of trade k (decision row d, trade row t), ascending: the universe
    screens of ``_eligible`` (custom selection and weighting rules start from these)."""
    idx = np.empty(panel.price.shape[1], np.int64)
    missing = np.zeros(1, np.int64)
    m = _eligible(panel, screens, k, d, t, idx, missing)
    return idx[:m].copy()


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
def _composite_keys(panel, screens, rules, d, idx, m, key) -> None:
    """key[j] = weighted average of the market-cap rank and the trailing-volume rank of idx[j]
    among the m eligible assets (1 = largest; ties by column)."""
    cap = np.empty(m)
    vol = np.empty(m)
    for j in range(m):
        cap[j] = -panel.rank_score[d, idx[j]]
        vol[j] = -trailing_mean(panel.volume, d, idx[j], screens.volume_window)
    cap_rank = np.empty(m)
    vol_rank = np.empty(m)
    order = np.argsort(cap, kind="mergesort")
    for r in range(m):
        cap_rank[order[r]] = r + 1.0
    order = np.argsort(vol, kind="mergesort")
    for r in range(m):
        vol_rank[order[r]] = r + 1.0
    total = rules.composite_cap + rules.composite_volume
    for j in range(m):
        key[j] = (rules.composite_cap * cap_rank[j] + rules.composite_volume * vol_rank[j]) / total


@njit(cache=True)
def _ranked(panel, screens, rules, d, idx, m, key, work, guess) -> int:
    """Order idx[:m] by key ascending (ties by column) in place, keeping only the best
    ``exit_rank + top_n`` (every tie at the boundary included): no rule looks further down (buffers,
    reviews and replacements need at most 2·top_n ranks). Returns how many are kept.

    Incremental across consecutive trades: ``guess[0]`` is a key a little beyond the previous trade's
    boundary (the 1.5 × limit-th smallest). When at least ``limit`` keys are ≤ it, the boundary is
    searched among those only (exactly the same boundary, found in a fraction of the work);
    otherwise among all keys."""
    if rules.composite_cap + rules.composite_volume > 0.0:
        _composite_keys(panel, screens, rules, d, idx, m, key)
    else:
        for j in range(m):
            key[j] = -panel.rank_score[d, idx[j]]
    limit = rules.exit_rank + rules.top_n
    if m > limit:
        cnt = 0
        g = guess[0]
        if g == g:  # a guess from the previous trade
            for j in range(m):
                if key[j] <= g:
                    work[cnt] = key[j]
                    cnt += 1
        if cnt < limit:  # the guess holds too few keys (or there is none): search all of them
            work[:m] = key[:m]
            cnt = m
        loose = min(cnt, limit + limit // 2)
        guess[0] = _kth_smallest(work[:cnt], loose - 1)  # also moves the `loose` smallest to the front
        bound = _kth_smallest(work[:loose], limit - 1)
        kept = 0
        for j in range(m):
            if key[j] <= bound:
                idx[kept] = idx[j]
                key[kept] = key[j]
                kept += 1
        m = kept
    order = np.argsort(key[:m], kind="mergesort")
    work[:m] = idx[:m]
    for r in range(m):
        idx[r] = np.int64(work[order[r]])
    return m


@njit(cache=True)
def _reselect(rules, order, m, is_member, incumbent, qualified, chosen) -> int:
    """The buffer rule over candidates ``order[:m]`` in rank order; writes the chosen columns to
    ``chosen`` and returns how many. ``incumbent``: the previous trade was invested, so the assets
    flagged in ``is_member`` are incumbents."""
    n_chosen = 0
    picked = np.zeros(m, np.bool_)
    for pos in range(m):
        rank = pos + 1
        i = order[pos]
        if incumbent and is_member[i]:
            ok = rank <= rules.exit_rank
        else:  # the time buffer guards a standing index; a start (no incumbents) selects by rank alone
            ok = rank <= rules.entry_rank and (qualified[i] or not incumbent)
        if ok and n_chosen < rules.top_n:  # candidates come in rank order: trimming drops the worst-ranked
            picked[pos] = True
            chosen[n_chosen] = i
            n_chosen += 1
    for pos in range(m):  # fill by rank (newcomers still need to have qualified)
        if n_chosen >= rules.top_n:
            break
        i = order[pos]
        if not picked[pos] and (not incumbent or is_member[i] or qualified[i]):
            picked[pos] = True
            chosen[n_chosen] = i
            n_chosen += 1
    return n_chosen


@njit(cache=True)
def select_members(panel, screens, rules, schedule):
    """Members of every trade as CSR ``(ptr, col)`` (columns ascending within a trade), and the number
    of (asset, trade) pairs excluded only for a missing score.

    Per trade k (decision row d, trade row t):

    * ``review`` (a reconstitution date, the first investment, a regime entry): every asset's
      qualification streak is updated — +1 when it is eligible and ranks ≤ entry_rank, else 0 — so a
      newcomer must qualify at ``qualify_reviews`` consecutive reviews (also counted while bearish).
    * not ``active`` (invested share 0): no members; the next invested trade re-selects afresh.
    * ``reselect`` or the previous trade was not invested: a full re-selection with the buffers.
    * otherwise (a reweight between reconstitutions): the members are kept; a member that is not
      eligible at this trade gets no weight this time (and may return later) — or, with
      ``replace_dropped``, is replaced for good by the best-ranked eligible non-member.
    """
    r_count = schedule.trade_rows.shape[0]
    n = panel.price.shape[1]
    is_member = np.zeros(n, np.bool_)
    members = np.empty(max(rules.top_n, 1), np.int64)  # the member columns, ascending
    n_members = 0
    streak = np.zeros(n, np.int64)
    qualified = np.ones(n, np.bool_)
    idx = np.empty(n, np.int64)
    key = np.empty(n)
    work = np.empty(n)
    chosen = np.empty(max(rules.top_n, 1), np.int64)
    guess = np.full(1, np.nan)  # see _ranked
    ptr = np.zeros(r_count + 1, np.int64)
    cols = np.empty(max(16, min(r_count * rules.top_n, 1 << 22)), np.int64)
    nnz = 0
    was_active = False
    missing = np.zeros(1, np.int64)
    for k in range(r_count):
        d, t = schedule.decision_rows[k], schedule.trade_rows[k]
        active = schedule.active[k]
        full = active and (schedule.reselect[k] or not was_active)
        ranked = full or schedule.review[k] or (active and rules.replace_dropped)
        m = 0
        if ranked:  # the whole universe is screened and ranked; a plain reweight only checks its members
            m = _eligible(panel, screens, k, d, t, idx, missing)
            m = _ranked(panel, screens, rules, d, idx, m, key, work, guess)
        if schedule.review[k] and rules.qualify_reviews > 1:
            _update_streaks(rules, idx, m, streak, qualified, work)
        if not active:
            n_members = _set_members(is_member, members, n_members, idx, 0)
        elif full:
            n_chosen = _reselect(rules, idx, m, is_member, was_active, qualified, chosen)
            n_members = _set_members(is_member, members, n_members, chosen, n_chosen)
        elif rules.replace_dropped:
            n_members = _replace_dropped(panel, screens, k, d, t, idx, m, is_member, members, n_members, missing)
        was_active = active
        if active and d >= 0:
            lst = _list_of(screens, k)
            for j in range(n_members):
                i = members[j]
                if full or _asset_ok(panel, screens, k, d, t, i, lst, missing):
                    if nnz == cols.shape[0]:
                        grown = np.empty(2 * cols.shape[0], np.int64)
                        grown[:nnz] = cols[:nnz]
                        cols = grown
                    cols[nnz] = i
                    nnz += 1
        ptr[k + 1] = nnz
    return ptr, cols[:nnz].copy(), missing[0]


@njit(cache=True)
def _set_members(is_member, members, n_members, chosen, n_chosen) -> int:
    """Replace the member set by ``chosen[:n_chosen]`` (kept ascending); O(members), not O(N)."""
    for j in range(n_members):
        is_member[members[j]] = False
    picked = np.sort(chosen[:n_chosen])
    for j in range(n_chosen):
        members[j] = picked[j]
        is_member[picked[j]] = True
    return n_chosen


@njit(cache=True)
def _update_streaks(rules, order, m, streak, qualified, mark) -> None:
    """+1 for assets eligible and ranked ≤ entry_rank at this review, else back to 0."""
    n = streak.shape[0]
    mark[:n] = 0.0
    for pos in range(min(m, rules.entry_rank)):
        mark[order[pos]] = 1.0
    for i in range(n):
        streak[i] = streak[i] + 1 if mark[i] > 0.0 else 0
        qualified[i] = streak[i] >= rules.qualify_reviews


@njit(cache=True)
def _replace_dropped(panel, screens, k, d, t, order, m, is_member, members, n_members, missing) -> int:
    """Each member not eligible now leaves the members for good; the best-ranked eligible non-member
    (``order`` is in rank order) takes its place. Returns the new member count (columns ascending)."""
    if d < 0:
        return n_members
    lst = _list_of(screens, k)
    out = np.empty(n_members, np.int64)
    n_out = 0
    for j in range(n_members):
        i = members[j]
        if _asset_ok(panel, screens, k, d, t, i, lst, missing):
            out[n_out] = i
            n_out += 1
            continue
        is_member[i] = False
        for pos in range(m):
            c = order[pos]
            if not is_member[c]:
                is_member[c] = True
                out[n_out] = c
                n_out += 1
                break
    out = np.sort(out[:n_out])
    members[:n_out] = out
    return n_out
