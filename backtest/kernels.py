"""The replay kernel: marks holdings every observation and trades to target at each trade date.

Arrays in, arrays out (numba, ``cache=True``). Accounting is exact and self-financing: at a trade
with pre-trade value NAV_pre, target weights w (risk assets) and w_s (stable sleeve), the post-trade
value x solves

    x = NAV_pre − Σ_i c_i·|w_i·x − h_i| − gas·(number of orders)

with h_i the current value of holding i and c_i = fee + slippage (0 for the ``cash`` sleeve). The
left side is increasing and piecewise linear in x, so Newton's method started at NAV_pre converges
from above in a few steps to the exact root. New quantities are w_i·x / close_i, so post-trade weights
equal the targets and NAV_pre − costs = NAV_post.
"""

from __future__ import annotations

import numpy as np
from numba import njit

REASON_ENTRY, REASON_EXIT, REASON_REWEIGHT, REASON_REGIME_EXIT, REASON_REGIME_ENTRY, REASON_DELISTED = range(6)
REASON_NAMES = ("entry", "exit", "reweight", "regime_exit", "regime_entry", "delisted")
STATUS_OK, STATUS_NAV_EXHAUSTED, STATUS_NO_CONVERGENCE = 0, 1, 2

# trade kinds, as in index_engine.plan
_KIND_INITIAL, _KIND_SCHEDULED, _KIND_REGIME_EXIT, _KIND_REGIME_ENTRY = 0, 1, 2, 3


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
    slippage_rate: float,
    gas: float,
    tx_capacity: int,
    holdings_capacity: int,
):
    """Replay the plan over rows [first, last]. Prices are closes; NaN = no observation.

    ``stable_price`` (T,) is the forward-filled price of the stable sleeve (1.0 for cash).
    Returns per-observation arrays (nav, stable_value, turnover, fee, slippage, gas, n_holdings),
    the transaction records, the post-trade holdings records, and (status, failing trade index).
    """
    t_all, n = price.shape
    length = last - first + 1
    nav = np.zeros(length)
    stable_value = np.zeros(length)
    turnover = np.zeros(length)
    fee_day = np.zeros(length)
    slip_day = np.zeros(length)
    gas_day = np.zeros(length)
    n_hold = np.zeros(length, np.int64)

    tx_row = np.empty(tx_capacity, np.int64)
    tx_col = np.empty(tx_capacity, np.int64)
    tx_qty = np.empty(tx_capacity)
    tx_price = np.empty(tx_capacity)
    tx_notional = np.empty(tx_capacity)
    tx_fee = np.empty(tx_capacity)
    tx_slip = np.empty(tx_capacity)
    tx_gas = np.empty(tx_capacity)
    tx_reason = np.empty(tx_capacity, np.int8)
    h_row = np.empty(holdings_capacity, np.int64)
    h_col = np.empty(holdings_capacity, np.int64)
    h_qty = np.empty(holdings_capacity)
    h_price = np.empty(holdings_capacity)
    h_value = np.empty(holdings_capacity)
    h_weight = np.empty(holdings_capacity)
    n_tx = 0
    n_h = 0

    qty = np.zeros(n)
    last_px = np.full(n, np.nan)
    held = np.empty(n, np.int64)
    n_held = 0
    involved = np.empty(n + 1, np.int64)
    mark = np.zeros(n, np.bool_)
    w_buf = np.empty(n + 1)
    h_buf = np.empty(n + 1)
    c_buf = np.empty(n + 1)
    cost_rate = fee_rate + slippage_rate
    stable_cost = cost_rate if stable_col >= 0 else 0.0

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
            if np.isfinite(p) and p > 0.0:
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
                i = held[j]
                involved[m] = i
                mark[i] = True
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
                w_buf[j] = weights[k, i]
                h_buf[j] = qty[i] * last_px[i] if qty[i] != 0.0 else 0.0
                c_buf[j] = cost_rate
                w_risk += w_buf[j]
            w_stable = max(0.0, 1.0 - w_risk)
            w_buf[m] = w_stable
            h_buf[m] = stable_qty * sp
            c_buf[m] = stable_cost
            x, ok = _solve_with_cash(w_buf[: m + 1], h_buf[: m + 1], c_buf[: m + 1], gas, nav_pre, stable_col >= 0)
            if not ok:
                status = STATUS_NO_CONVERGENCE
                fail_at = k
                break
            if x <= 0.0:
                status = STATUS_NAV_EXHAUSTED
                fail_at = k
                break
            to = 0.0
            for j in range(m + 1):
                to += abs(w_buf[j] - h_buf[j] / nav_pre)
            turnover[o] = 0.5 * to
            for j in range(m + 1):
                is_stable = j == m
                d = w_buf[j] * x - h_buf[j]
                if d == 0.0 or (is_stable and stable_col < 0):
                    continue
                col = stable_col if is_stable else involved[j]
                px = sp if is_stable else last_px[col]
                if kind == _KIND_INITIAL:
                    reason = REASON_ENTRY
                elif (not is_stable) and h_buf[j] != 0.0 and not (np.isfinite(price[t, col]) and price[t, col] > 0.0):
                    reason = REASON_DELISTED
                elif kind == _KIND_REGIME_EXIT:
                    reason = REASON_REGIME_EXIT
                elif kind == _KIND_REGIME_ENTRY:
                    reason = REASON_REGIME_ENTRY
                elif h_buf[j] == 0.0:
                    reason = REASON_ENTRY
                elif w_buf[j] == 0.0:
                    reason = REASON_EXIT
                else:
                    reason = REASON_REWEIGHT
                notional = abs(d)
                tx_row[n_tx] = t
                tx_col[n_tx] = col
                tx_qty[n_tx] = d / px
                tx_price[n_tx] = px
                tx_notional[n_tx] = notional
                tx_fee[n_tx] = fee_rate * notional
                tx_slip[n_tx] = slippage_rate * notional
                tx_gas[n_tx] = gas
                tx_reason[n_tx] = reason
                fee_day[o] += fee_rate * notional
                slip_day[o] += slippage_rate * notional
                gas_day[o] += gas
                n_tx += 1
            # new book: quantities at the targets, holdings records
            n_held = 0
            for j in range(m):
                i = involved[j]
                mark[i] = False
                if w_buf[j] > 0.0:
                    qty[i] = w_buf[j] * x / last_px[i]
                    held[n_held] = i
                    n_held += 1
                    h_row[n_h] = t
                    h_col[n_h] = i
                    h_qty[n_h] = qty[i]
                    h_price[n_h] = last_px[i]
                    h_value[n_h] = w_buf[j] * x
                    h_weight[n_h] = w_buf[j]
                    n_h += 1
                else:
                    qty[i] = 0.0
            stable_qty = w_stable * x / sp
            if w_stable > 0.0:
                h_row[n_h] = t
                h_col[n_h] = stable_col
                h_qty[n_h] = stable_qty
                h_price[n_h] = sp
                h_value[n_h] = w_stable * x
                h_weight[n_h] = w_stable
                n_h += 1
            value = 0.0
            for j in range(n_held):
                value += qty[held[j]] * last_px[held[j]]
            value += stable_qty * sp
            k += 1
        nav[o] = value
        stable_value[o] = stable_qty * sp
        n_hold[o] = n_held
    return (
        nav, stable_value, turnover, fee_day, slip_day, gas_day, n_hold,
        tx_row[:n_tx], tx_col[:n_tx], tx_qty[:n_tx], tx_price[:n_tx], tx_notional[:n_tx],
        tx_fee[:n_tx], tx_slip[:n_tx], tx_gas[:n_tx], tx_reason[:n_tx],
        h_row[:n_h], h_col[:n_h], h_qty[:n_h], h_price[:n_h], h_value[:n_h], h_weight[:n_h],
        status, fail_at,
    )


@njit(cache=True)
def _solve_with_cash(w, h, c, gas, nav_pre, stable_is_asset):
    """Solve with gas charged per order; the last leg is the stable sleeve (no order when cash)."""
    x = nav_pre
    last = w.shape[0] - 1
    for _ in range(200):
        f = x - nav_pre
        df = 1.0
        for j in range(w.shape[0]):
            d = w[j] * x - h[j]
            if d != 0.0:
                f += c[j] * abs(d)
                if j < last or stable_is_asset:
                    f += gas
                df += c[j] * w[j] * (1.0 if d > 0.0 else -1.0)
        if abs(f) <= 1e-13 * nav_pre:
            return x, True
        step = f / df
        if step == 0.0:
            return x, True
        x -= step
    return x, False
