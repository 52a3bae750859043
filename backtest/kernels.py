"""The replay kernel: marks holdings every observation and trades to target at each trade date.

Arrays in, arrays out (numba, ``cache=True``). Accounting is exact and self-financing: at a trade
with pre-trade value NAV_pre, target weights w (risk assets) and w_s (stable sleeve), the post-trade
value x solves

    x = NAV_pre − Σ_i cost_i(|w_i·x − h_i|)

with h_i the current value of holding i and cost_i the order's fee, platform fee, slippage and
gas (none for the ``cash`` sleeve; see ``backtest.costs``). New quantities are w_i·x / close_i, so
post-trade weights equal the targets and NAV_pre − costs = NAV_post. Orders skipped for
``min_order_usd`` or capped by ``max_participation`` freeze their leg; the other legs keep their
target proportions (``backtest.costs.rebalance_legs``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


from index_engine.codes import (
    FREEZE_MIN_ORDER,
    FREEZE_NONE,
    FREEZE_PARTICIPATION,
    FREEZE_UNFUNDED,
    KIND_INITIAL,
    KIND_REGIME_ENTRY,
    KIND_REGIME_EXIT,
    REASON_DELISTED,
    REASON_ENTRY,
    REASON_EXIT,
    REASON_REGIME_ENTRY,
    REASON_REGIME_EXIT,
    REASON_REWEIGHT,
    STATUS_NAV_EXHAUSTED,
    STATUS_NO_CONVERGENCE,
    STATUS_OK,
)


@njit(cache=True)
def _excess(x, a, b, lin, impact, max_impact, gas, nav_pre):
    """f(x) = x + Σ_j cost_j(|a_j·x + b_j|) − nav_pre and its slope."""
    f = x - nav_pre
    df = 1.0
    for j in range(a.shape[0]):
        d = a[j] * x + b[j]
        if d != 0.0:
            q = abs(d)
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
    """Root x of  x + Σ_j cost_j(|d_j|) = nav_pre  with each leg's trade d_j = a_j·x + b_j (USD) and
    cost(q) = lin·q + min(impact·q^1.5, max_impact·q) + gas·(q ≠ 0).

    Newton's method from x = nav_pre (where f ≥ 0), safeguarded by bisection inside the bracket
    [0, nav_pre]; with linear costs it lands on the exact root in a few steps. Returns (x, ok);
    x <= 0 means the costs exceed the portfolio.
    """
    lo, hi = 0.0, nav_pre
    f_lo, _ = _excess(lo, a, b, lin, impact, max_impact, gas, nav_pre)
    if f_lo >= 0.0:
        return 0.0, True  # even x = 0 cannot pay the costs
    x = nav_pre
    for _ in range(300):
        f, df = _excess(x, a, b, lin, impact, max_impact, gas, nav_pre)
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
            return x, True
        x = nxt
    return x, False


@njit(cache=True)
def rebalance_legs(h, w, h_s, w_s, lin, impact, cap, lin_s, impact_s, max_impact, gas, gas_s, min_order, nav_pre):
    """Trade every leg towards its target weight, paying costs out of the portfolio.

    Legs are risk assets (current values h, target weights w, cost coefficients, order caps) plus
    the stable sleeve (h_s, w_s). Orders below ``min_order`` are skipped and orders above their cap
    filled up to it (skipped if the cap is below ``min_order``): such legs are frozen at their
    reachable value, the other legs still get w·x, and what is not invested stays in the stable
    sleeve. When frozen sells cannot fund the other legs the free legs are scaled down together;
    when the fillable orders cannot even pay their own costs nothing trades (FREEZE_UNFUNDED).

    Returns (x, v, v_s, d, d_s, frozen, requested, ok): post-trade value; post-trade value and
    trade (USD, + buy) of each leg and of the stable leg; FREEZE_* code per leg; the requested
    notional of frozen legs; convergence. Trades are exactly the solver's, so costs are charged on
    the orders recorded.
    """
    m = h.shape[0]
    frozen = np.full(m, FREEZE_NONE, np.int8)
    value_frozen = np.zeros(m)
    requested = np.zeros(m)
    a = np.empty(m + 1)
    c = np.empty(m + 1)  # post-trade value of leg j = a_j·x + c_j; its trade d_j = a_j·x + (c_j − h_j)
    b = np.empty(m + 1)
    hh = np.empty(m + 1)
    hh[:m] = h
    hh[m] = h_s
    lin_all = np.empty(m + 1)
    imp_all = np.empty(m + 1)
    gas_all = np.empty(m + 1)
    lin_all[:m] = lin
    imp_all[:m] = impact
    gas_all[:m] = gas
    lin_all[m] = lin_s
    imp_all[m] = impact_s
    gas_all[m] = gas_s
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
            for j in range(m):
                if frozen[j] != FREEZE_NONE:
                    a[j] = 0.0
                    c[j] = value_frozen[j]
                elif mode == 0:
                    a[j] = w[j]
                    c[j] = 0.0
                else:
                    a[j] = w[j] / w_free
                    c[j] = -a[j] * v_frozen
            if n_frozen == 0:
                a[m] = w_s
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
            for j in range(m + 1):
                b[j] = c[j] - hh[j]
            x, ok = solve_post_trade_value(a, b, lin_all, imp_all, max_impact, gas_all, nav_pre)
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
            if q > 0.0 and (q < min_order or (q > cap[j] and cap[j] < min_order)):
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
            q = abs(a[j] * x + b[j]) if frozen[j] == FREEZE_NONE else requested[j]
            if q > 0.0:
                frozen[j] = FREEZE_UNFUNDED
                requested[j] = q
        return nav_pre, post[:m], post[m], d_all[:m], d_all[m], frozen, requested, ok
    for j in range(m + 1):
        d_all[j] = a[j] * x + b[j]
        # a free leg with nothing frozen is exactly w·x; any other leg is its value plus the trade
        post[j] = a[j] * x if c[j] == 0.0 else hh[j] + d_all[j]
    return x, post[:m], post[m], d_all[:m], d_all[m], frozen, requested, ok


@njit(cache=True)
def _grow(a):
    """The same records with room for twice as many rows."""
    out = np.empty((2 * a.shape[0] + 64, a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _reason(kind, is_stable, held_before, target, has_close):
    if kind == KIND_INITIAL:
        return REASON_ENTRY
    if (not is_stable) and held_before and not has_close:
        return REASON_DELISTED
    if kind == KIND_REGIME_EXIT:
        return REASON_REGIME_EXIT
    if kind == KIND_REGIME_ENTRY:
        return REASON_REGIME_ENTRY
    if not held_before:
        return REASON_ENTRY
    if target == 0.0:
        return REASON_EXIT
    return REASON_REWEIGHT


@njit(cache=True)
def simulate(
    price: np.ndarray,
    stable_price: np.ndarray,
    stable_col: int,
    first: int,
    last: int,
    trade_rows: np.ndarray,
    trade_kind: np.ndarray,
    weights: np.ndarray,
    initial_nav: float,
    fee_rate: float,
    platform_rate: float,
    slippage_rate: np.ndarray,
    impact: np.ndarray,
    order_cap: np.ndarray,
    gas: np.ndarray,
    min_order: float,
    max_impact: float,
    capacity: int,
):
    """Replay the plan over rows [first, last]. Prices are closes; NaN = no observation.

    ``stable_price`` (T,) is the forward-filled price of the stable sleeve (1.0 for cash).
    Cost arrays are per trade: slippage_rate, impact, order_cap (R, N); gas (R,).
    Returns per-observation arrays, transaction records, unfilled-order records, post-trade
    holdings records, and (status, failing trade index).
    """
    n = price.shape[1]
    length = last - first + 1
    nav = np.zeros(length)
    stable_value = np.zeros(length)
    turnover = np.zeros(length)
    day_cost = np.zeros((length, 4))  # fee, platform fee, slippage, gas
    n_hold = np.zeros(length, np.int64)

    tx_int = np.empty((capacity, 3), np.int64)  # row, col, reason
    tx_val = np.empty((capacity, 7))  # signed quantity, price, notional, fee, platform, slippage, gas
    un_int = np.empty((capacity, 3), np.int64)  # row, col, reason (FREEZE_*)
    un_val = np.empty((capacity, 3))  # signed requested notional, filled notional, price
    h_int = np.empty((capacity, 2), np.int64)  # row, col
    h_val = np.empty((capacity, 4))  # quantity, price, value, weight
    n_tx = 0
    n_un = 0
    n_h = 0

    qty = np.zeros(n)
    last_px = np.full(n, np.nan)
    held = np.empty(n, np.int64)
    n_held = 0
    involved = np.empty(n, np.int64)
    mark = np.zeros(n, np.bool_)
    w_buf = np.empty(n)
    h_buf = np.empty(n)
    lin_buf = np.empty(n)
    imp_buf = np.empty(n)
    cap_buf = np.empty(n)
    base_rate = fee_rate + platform_rate

    stable_qty = initial_nav / stable_price[first]
    k = 0
    n_trades = trade_rows.shape[0]
    status = STATUS_OK
    fail_at = -1
    for t in range(first, last + 1):
        o = t - first
        for j in range(n_held):  # mark to the last valid close
            i = held[j]
            p = price[t, i]
            if p > 0.0 and p < np.inf:
                last_px[i] = p
        sp = stable_price[t]
        value = stable_qty * sp
        for j in range(n_held):
            value += qty[held[j]] * last_px[held[j]]

        if k < n_trades and trade_rows[k] == t:
            kind = trade_kind[k]
            nav_pre = value
            m = 0
            for j in range(n_held):
                involved[m] = held[j]
                mark[held[j]] = True
                m += 1
            for i in range(n):
                if weights[k, i] > 0.0:
                    if not mark[i]:
                        involved[m] = i
                        mark[i] = True
                        m += 1
                    last_px[i] = price[t, i]  # eligible ⇒ valid close at t
            w_risk = 0.0
            for j in range(m):
                i = involved[j]
                mark[i] = False
                w_buf[j] = weights[k, i]
                h_buf[j] = qty[i] * last_px[i] if qty[i] != 0.0 else 0.0
                lin_buf[j] = base_rate + slippage_rate[k, i]
                imp_buf[j] = impact[k, i]
                cap_buf[j] = order_cap[k, i]
                w_risk += w_buf[j]
            w_stable = 1.0 - w_risk
            if w_stable < 1e-12:  # float residue of weights that sum to 1: no dust stable position
                w_stable = 0.0
            h_stable = stable_qty * sp
            if stable_col >= 0:
                lin_s, imp_s, gas_s = base_rate + slippage_rate[k, stable_col], impact[k, stable_col], gas[k]
            else:
                lin_s, imp_s, gas_s = 0.0, 0.0, 0.0
            x, post, post_s, d, d_s, frozen, requested, ok = rebalance_legs(
                h_buf[:m], w_buf[:m], h_stable, w_stable, lin_buf[:m], imp_buf[:m], cap_buf[:m],
                lin_s, imp_s, max_impact, gas[k], gas_s, min_order, nav_pre,
            )
            if not ok:
                status = STATUS_NO_CONVERGENCE
                fail_at = k
                break
            if x <= 0.0:
                status = STATUS_NAV_EXHAUSTED
                fail_at = k
                break
            to = abs(post_s / x - h_stable / nav_pre)
            for j in range(m + 1):
                is_stable = j == m
                hj = h_stable if is_stable else h_buf[j]
                dj = d_s if is_stable else d[j]
                if j < m:
                    to += abs(post[j] / x - hj / nav_pre)
                    if frozen[j] != FREEZE_NONE:
                        if n_un == un_int.shape[0]:
                            un_int, un_val = _grow(un_int), _grow(un_val)
                        col = involved[j]
                        un_int[n_un, 0] = t
                        un_int[n_un, 1] = col
                        un_int[n_un, 2] = frozen[j]
                        un_val[n_un, 0] = requested[j] if w_buf[j] * nav_pre > hj else -requested[j]
                        un_val[n_un, 1] = abs(dj)
                        un_val[n_un, 2] = last_px[col]
                        n_un += 1
                if dj == 0.0 or (is_stable and stable_col < 0):
                    continue
                col = stable_col if is_stable else involved[j]
                px = sp if is_stable else last_px[col]
                has_close = is_stable or (price[t, col] > 0.0 and price[t, col] < np.inf)
                target = w_stable if is_stable else w_buf[j]
                q = abs(dj)
                slip = slippage_rate[k, col] * q + min(impact[k, col] * np.sqrt(q), max_impact) * q
                if n_tx == tx_int.shape[0]:
                    tx_int, tx_val = _grow(tx_int), _grow(tx_val)
                tx_int[n_tx, 0] = t
                tx_int[n_tx, 1] = col
                tx_int[n_tx, 2] = _reason(kind, is_stable, hj != 0.0, target, has_close)
                tx_val[n_tx, 0] = dj / px
                tx_val[n_tx, 1] = px
                tx_val[n_tx, 2] = q
                tx_val[n_tx, 3] = fee_rate * q
                tx_val[n_tx, 4] = platform_rate * q
                tx_val[n_tx, 5] = slip
                tx_val[n_tx, 6] = gas[k]
                for c in range(4):
                    day_cost[o, c] += tx_val[n_tx, 3 + c]
                n_tx += 1
            turnover[o] = 0.5 * to
            # new book: quantities after the trades, holdings records
            n_held = 0
            for j in range(m):
                i = involved[j]
                v = post[j]
                if v > 0.0:
                    if n_h + 1 >= h_int.shape[0]:
                        h_int, h_val = _grow(h_int), _grow(h_val)
                    qty[i] = v / last_px[i]
                    held[n_held] = i
                    n_held += 1
                    h_int[n_h, 0] = t
                    h_int[n_h, 1] = i
                    h_val[n_h, 0] = qty[i]
                    h_val[n_h, 1] = last_px[i]
                    h_val[n_h, 2] = v
                    h_val[n_h, 3] = v / x
                    n_h += 1
                else:
                    qty[i] = 0.0
            v_s = post_s
            stable_qty = v_s / sp
            if v_s > 0.0:
                if n_h == h_int.shape[0]:
                    h_int, h_val = _grow(h_int), _grow(h_val)
                h_int[n_h, 0] = t
                h_int[n_h, 1] = stable_col
                h_val[n_h, 0] = stable_qty
                h_val[n_h, 1] = sp
                h_val[n_h, 2] = v_s
                h_val[n_h, 3] = v_s / x
                n_h += 1
            value = stable_qty * sp
            for j in range(n_held):
                value += qty[held[j]] * last_px[held[j]]
            k += 1
        nav[o] = value
        stable_value[o] = stable_qty * sp
        n_hold[o] = n_held
    return (
        nav, stable_value, turnover, day_cost, n_hold,
        tx_int[:n_tx], tx_val[:n_tx], un_int[:n_un], un_val[:n_un], h_int[:n_h], h_val[:n_h],
        status, fail_at,
    )
