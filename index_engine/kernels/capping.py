"""Weighting schemes and exact capped weights: single caps, tiered caps, floors, category caps, fixed weights.

``cap_weights`` is the classic single-cap water-filling (kept bit-for-bit for the default config).
``waterfill`` solves the general problem exactly: w_i = clip(λ·raw_i, floor_i, cap_i) with Σ w = budget,
by sweeping the breakpoints floor_i/raw_i and cap_i/raw_i (no iteration tolerance; the final sums are
taken afresh in column order). ``weights_for_members`` applies them to every trade of a plan.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

SCHEME_MARKET_CAP = 0
SCHEME_SQRT_MARKET_CAP = 1
SCHEME_EQUAL = 2

# bits of the per-trade flags returned by weights_for_members
INFEASIBLE_CAP = 1  # Σ caps < budget: weights proportional to the caps instead
INFEASIBLE_FLOOR = 2  # Σ floors > budget: weights proportional to the floors instead
INFEASIBLE_CATEGORY = 4  # category caps cannot all hold (e.g. only capped categories): caps ignored
FIXED_MISSING = 8  # a fixed-weight asset is not a member at this trade: the others share its weight
FIXED_RESCALED = 16  # only fixed-weight members and their weights sum below 1: scaled up to sum to 1


class WeightRules(NamedTuple):
    """Weighting rules. ``max_weight`` ≤ 0 or ≥ 1: none. ``rank_caps`` (K,): caps of the largest, 2nd, …
    member by raw weight. ``min_weight`` 0: none. ``category`` (N,) int code of each asset and
    ``category_caps`` (C,) cap per code (inf: none). ``fixed`` (N,) fixed weight (NaN: none).
    ``list_weights`` (L, N) published weights (NaN: none; (0, 0) when unused) with ``list_of_trade`` (R,)."""

    scheme: int
    max_weight: float
    rank_caps: np.ndarray
    min_weight: float
    category: np.ndarray
    category_caps: np.ndarray
    fixed: np.ndarray
    list_weights: np.ndarray
    list_of_trade: np.ndarray


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
def waterfill(raw: np.ndarray, floor: np.ndarray, cap: np.ndarray, budget: float, out: np.ndarray) -> int:
    """Exact w_i = clip(λ·raw_i, floor_i, cap_i) with Σ w_i = budget, written to ``out``.

    ``raw`` > 0, 0 ≤ floor_i ≤ cap_i. Returns 0, or INFEASIBLE_CAP when Σ cap < budget (then
    w ∝ cap) or INFEASIBLE_FLOOR when Σ floor > budget (then w ∝ floor), each scaled to ``budget``.
    """
    n = raw.shape[0]
    if n == 0:
        return 0
    s_floor = 0.0
    s_cap = 0.0
    for i in range(n):
        s_floor += floor[i]
        s_cap += cap[i]
    if s_cap < budget:
        for i in range(n):
            out[i] = cap[i] / s_cap * budget
        return INFEASIBLE_CAP
    if s_floor > budget:
        for i in range(n):
            out[i] = floor[i] / s_floor * budget
        return INFEASIBLE_FLOOR
    # breakpoints: name i is at its floor for λ ≤ floor_i/raw_i, free in between, at its cap beyond
    points = np.empty(2 * n)
    for i in range(n):
        points[2 * i] = floor[i] / raw[i]
        points[2 * i + 1] = cap[i] / raw[i]
    order = np.argsort(points, kind="mergesort")
    state = np.full(n, -1, np.int8)  # -1 floor, 0 free, +1 cap
    level_floor, level_cap, level_raw = s_floor, 0.0, 0.0
    lam = -1.0
    for j in range(2 * n):
        p = order[j]
        beta = points[p]
        if level_floor + beta * level_raw + level_cap >= budget:
            break
        i = p // 2
        if p % 2 == 0:
            state[i] = 0
            level_floor -= floor[i]
            level_raw += raw[i]
        else:
            state[i] = 1
            level_raw -= raw[i]
            level_cap += cap[i]
    for _ in range(n + 1):  # λ from fresh sums (no drift from the sweep); settle any borderline name
        f_sum, c_sum, r_sum = 0.0, 0.0, 0.0
        for i in range(n):
            if state[i] < 0:
                f_sum += floor[i]
            elif state[i] > 0:
                c_sum += cap[i]
            else:
                r_sum += raw[i]
        if r_sum <= 0.0:
            break
        lam = (budget - f_sum - c_sum) / r_sum
        moved = False
        for i in range(n):
            w = lam * raw[i]
            if state[i] == 0 and w > cap[i]:
                state[i], moved = 1, True
            elif state[i] == 0 and w < floor[i]:
                state[i], moved = -1, True
        if not moved:
            break
    for i in range(n):
        if state[i] < 0:
            out[i] = floor[i]
        elif state[i] > 0:
            out[i] = cap[i]
        else:
            w = lam * raw[i]
            out[i] = min(max(w, floor[i]), cap[i])
    return 0


@njit(cache=True)
def _raw_weights(rules, raw_score, d, cols, lst, raw) -> None:
    m = cols.shape[0]
    listed = lst >= 0 and rules.list_weights.shape[0] > 0
    for j in range(m):
        if listed and np.isfinite(rules.list_weights[lst, cols[j]]):
            raw[j] = rules.list_weights[lst, cols[j]]
            continue
        v = raw_score[d, cols[j]]
        if rules.scheme == SCHEME_MARKET_CAP:
            raw[j] = v
        elif rules.scheme == SCHEME_SQRT_MARKET_CAP:
            raw[j] = np.sqrt(v)
        else:
            raw[j] = 1.0


@njit(cache=True)
def _bounds(rules, raw, free, floor, cap) -> None:
    """Per-name floor and cap of the free (not fixed) members; rank caps go by raw weight, largest first."""
    m = raw.shape[0]
    uniform = rules.max_weight if 0.0 < rules.max_weight < 1.0 else 1.0
    for j in range(m):
        floor[j] = rules.min_weight
        cap[j] = uniform
    n_rank = rules.rank_caps.shape[0]
    if n_rank > 0:
        neg = np.empty(m)
        for j in range(m):
            neg[j] = -raw[j] if free[j] else np.inf
        order = np.argsort(neg, kind="mergesort")
        r = 0
        for pos in range(m):
            j = order[pos]
            if not free[j]:
                break
            if r < n_rank:
                cap[j] = rules.rank_caps[r]
            r += 1


@njit(cache=True)
def _subset(values, mask) -> np.ndarray:
    count = 0
    for j in range(mask.shape[0]):
        if mask[j]:
            count += 1
    out = np.empty(count)
    c = 0
    for j in range(mask.shape[0]):
        if mask[j]:
            out[c] = values[j]
            c += 1
    return out


@njit(cache=True)
def _fill(values, mask, out) -> None:
    c = 0
    for j in range(mask.shape[0]):
        if mask[j]:
            out[j] = values[c]
            c += 1


@njit(cache=True)
def _general(rules, cols, raw, w) -> int:
    """Fixed weights, then floors/caps/rank caps by water-filling, then category caps; returns flags."""
    m = cols.shape[0]
    flags = 0
    free = np.ones(m, np.bool_)
    budget = 1.0
    for j in range(m):
        f = rules.fixed[cols[j]]
        if np.isfinite(f):
            free[j] = False
            w[j] = f
            budget -= f
    n_free = 0
    for j in range(m):
        if free[j]:
            n_free += 1
    if n_free == 0 and budget > 1e-12:  # nobody can take the rest: scale the fixed weights up, flagged
        total = 1.0 - budget
        for j in range(m):
            w[j] = w[j] / total
        return FIXED_RESCALED
    floor = np.empty(m)
    cap = np.empty(m)
    _bounds(rules, raw, free, floor, cap)
    in_group = free.copy()
    part = np.empty(m)
    flags |= waterfill(_subset(raw, in_group), _subset(floor, in_group), _subset(cap, in_group), budget, part)
    _fill(part, in_group, w)
    n_cat = rules.category_caps.shape[0]
    if n_cat == 0:
        return flags
    capped = np.zeros(n_cat, np.bool_)
    for _ in range(n_cat + 1):
        totals = np.zeros(n_cat)
        for j in range(m):
            c = rules.category[cols[j]]
            if free[j] and c >= 0:
                totals[c] += w[j]
        over = False
        for c in range(n_cat):
            if not capped[c] and totals[c] > rules.category_caps[c] + 1e-12:
                capped[c] = True
                over = True
        if not over:
            return flags
        rest = budget
        for c in range(n_cat):
            if capped[c]:
                rest -= rules.category_caps[c]
                for j in range(m):
                    in_group[j] = free[j] and rules.category[cols[j]] == c
                if waterfill(_subset(raw, in_group), _subset(floor, in_group), _subset(cap, in_group),
                             rules.category_caps[c], part) != 0:
                    return -1  # the category's own floors exceed its cap
                _fill(part, in_group, w)
        any_rest = False
        for j in range(m):
            c = rules.category[cols[j]]
            in_group[j] = free[j] and (c < 0 or not capped[c])
            any_rest = any_rest or in_group[j]
        if not any_rest or rest < 0.0:
            return -1  # nothing outside the capped categories can take the excess
        got = waterfill(_subset(raw, in_group), _subset(floor, in_group), _subset(cap, in_group), rest, part)
        if got != 0:
            return -1  # the names outside cannot take the excess within their own caps and floors
        _fill(part, in_group, w)
    return flags


@njit(cache=True)
def weights_for_members(ptr, cols, raw_score, decision_rows, rules):
    """(nnz,) target weights of the members CSR and (R,) flags (bits INFEASIBLE_* / FIXED_MISSING).

    ``raw_score`` (T, N) is the market cap (or its smoothed version) read at each trade's decision
    row. Each trade's weights sum to 1 (up to float rounding) unless it has no members.
    """
    r_count = ptr.shape[0] - 1
    raw = np.empty(cols.shape[0])
    for k in range(r_count):
        a, b = ptr[k], ptr[k + 1]
        if b > a:
            lst = rules.list_of_trade[k] if rules.list_of_trade.shape[0] > 0 else -1
            _raw_weights(rules, raw_score, decision_rows[k], cols[a:b], lst, raw[a:b])
    return capped_weights(ptr, cols, raw, rules)


@njit(cache=True)
def capped_weights(ptr, cols, raw, rules):
    """(nnz,) weights and (R,) flags from given (nnz,) raw weights of the members CSR (e.g. a custom
    weighting rule's): the caps, floors, category caps and fixed weights of ``rules``, normalised."""
    r_count = ptr.shape[0] - 1
    weight = np.zeros(cols.shape[0])
    flags = np.zeros(r_count, np.int64)
    # a trade without tiered caps, floors, category caps, list weights or a fixed-weight member is one uniform
    # cap: the classic path, whether or not a fixed-weight asset exists elsewhere in the panel (the same trade
    # must get the same bits on a panel truncated before that asset is listed)
    simple = (rules.rank_caps.shape[0] == 0 and rules.min_weight <= 0.0 and rules.category_caps.shape[0] == 0
              and rules.list_weights.shape[0] == 0)
    cap = rules.max_weight if 0.0 < rules.max_weight < 1.0 else 1.0
    n_fixed_total = 0.0
    for i in range(rules.fixed.shape[0]):
        if np.isfinite(rules.fixed[i]):
            n_fixed_total += 1.0
    for k in range(r_count):
        a, b = ptr[k], ptr[k + 1]
        m = b - a
        if m == 0:
            continue
        c = cols[a:b]
        raw_k = raw[a:b]
        present = 0.0
        for j in range(m):
            if np.isfinite(rules.fixed[c[j]]):
                present += 1.0
        if present < n_fixed_total:
            flags[k] |= FIXED_MISSING
        if simple and present == 0.0:
            if m * cap < 1.0:
                flags[k] |= INFEASIBLE_CAP
            w = cap_weights(raw_k, cap)
            weight[a:b] = w
            continue
        w = np.empty(m)
        got = _general(rules, c, raw_k, w)
        if got < 0:  # category caps cannot hold: weigh without them
            flags[k] |= INFEASIBLE_CATEGORY
            saved = rules.category_caps
            got = _general(WeightRules(rules.scheme, rules.max_weight, rules.rank_caps, rules.min_weight,
                                       rules.category, saved[:0], rules.fixed, rules.list_weights,
                                       rules.list_of_trade), c, raw_k, w)
        flags[k] |= got
        weight[a:b] = w
    return weight, flags
