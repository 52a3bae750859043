"""The replay's book: positions and last closes, marking to market, and the records a trade writes.

Numba kernels used by ``backtest.kernels.replay.simulate``: ``mark_to_market`` values the held assets at their
last valid closes; ``record_orders`` writes a trade's orders and unfilled orders (never dust); ``book_holdings``
books the new quantities and one holdings record per position.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from backtest.kernels.records import grow
from index_engine.codes import (
    FREEZE_DUST,
    FREEZE_NONE,
    KIND_INITIAL,
    KIND_REGIME_ENTRY,
    KIND_REGIME_EXIT,
    KIND_REGIME_SCALE,
    REASON_DELISTED,
    REASON_ENTRY,
    REASON_EXIT,
    REASON_REGIME_ENTRY,
    REASON_REGIME_EXIT,
    REASON_REGIME_SCALE,
    REASON_REWEIGHT,
)


class Book(NamedTuple):
    """Mutable replay state shared by the helpers (arrays are updated in place)."""

    qty: np.ndarray  # (N,) units held
    last_px: np.ndarray  # (N,) last valid close seen
    last_day: np.ndarray  # (N,) day number of that close
    held: np.ndarray  # (N,) columns held, first n_held entries
    target: np.ndarray  # (N,) scratch: the current trade's target weight per column
    mark: np.ndarray  # (N,) scratch flags
    involved: np.ndarray  # (N,) scratch: columns of the current trade's legs
    counts: np.ndarray  # [n_held, n_orders, n_unfilled, n_holdings_records]


@njit(cache=True)
def order_reason(kind, is_stable, held_before, target, has_close):
    """``codes.REASON_*`` of an order, by the first rule that applies (docs/methodology.md, transaction reasons)."""
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
    if kind == KIND_REGIME_SCALE:
        return REASON_REGIME_SCALE
    return REASON_REWEIGHT


@njit(cache=True)
def mark_to_market(book, price, days, t, stable_qty, sp):
    """Update the last valid closes of the held assets at row t; return the portfolio value."""
    n_held = book.counts[0]
    for j in range(n_held):
        i = book.held[j]
        p = price[t, i]
        if p > 0.0 and p < np.inf:
            book.last_px[i] = p
            book.last_day[i] = days[t]
    value = stable_qty * sp
    for j in range(n_held):
        value += book.qty[book.held[j]] * book.last_px[book.held[j]]
    return value

@njit(cache=True)
def record_orders(book, market, plan, costs, k, t, o, kind, m, h_buf, w_buf, rate_buf, imp_buf, h_stable, w_stable,
                   nav_pre, fills, sp, orders, unfilled, day_cost):
    """Write the orders and unfilled orders of trade k; return the logs and Σ|Δweight| (two-way)."""
    price = market.price
    stable_col = plan.stable_col
    x = fills.x
    to = abs(fills.post_s / x - h_stable / nav_pre)
    for j in range(m + 1):
        is_stable = j == m
        hj = h_stable if is_stable else h_buf[j]
        dj = fills.trade_s if is_stable else fills.trade[j]
        if j < m:
            to += abs(fills.post[j] / x - hj / nav_pre)
            if fills.frozen[j] != FREEZE_NONE and fills.frozen[j] != FREEZE_DUST:
                n_un = book.counts[2]
                unfilled = grow(unfilled, n_un + 1)
                col = book.involved[j]
                rec = unfilled[n_un]
                rec.row = t
                rec.col = col
                rec.reason = fills.frozen[j]
                rec.requested = fills.requested[j] if w_buf[j] * nav_pre > hj else -fills.requested[j]
                rec.filled = abs(dj)
                rec.price = book.last_px[col]
                book.counts[2] += 1
        if dj == 0.0 or (is_stable and stable_col < 0):
            continue
        col = stable_col if is_stable else book.involved[j]
        px = sp if is_stable else book.last_px[col]
        has_close = is_stable or (price[t, col] > 0.0 and price[t, col] < np.inf)
        target = w_stable if is_stable else w_buf[j]
        q = abs(dj)
        slip = rate_buf[j] * q + min(imp_buf[j] * np.sqrt(q), costs.max_impact) * q
        n_tx = book.counts[1]
        orders = grow(orders, n_tx + 1)
        rec = orders[n_tx]
        rec.row = t
        rec.col = col
        rec.reason = order_reason(kind, is_stable, hj != 0.0, target, has_close)
        rec.quantity = dj / px
        rec.price = px
        rec.notional = q
        rec.fee = costs.fee_rate * q
        rec.platform_fee = costs.platform_rate * q
        rec.slippage = slip
        rec.gas = plan.gas[k]
        day_cost[o, 0] += rec.fee
        day_cost[o, 1] += rec.platform_fee
        day_cost[o, 2] += rec.slippage
        day_cost[o, 3] += rec.gas
        book.counts[1] += 1
    return orders, unfilled, to


@njit(cache=True)
def book_holdings(book, plan, t, m, fills, sp, holdings):
    """The new book after trade k: quantities and one holdings record per position (stable last)."""
    x = fills.x
    n_held = 0
    for j in range(m):
        i = book.involved[j]
        v = fills.post[j]
        if v > 0.0:
            n_h = book.counts[3]
            holdings = grow(holdings, n_h + 2)
            book.qty[i] = v / book.last_px[i]
            book.held[n_held] = i
            n_held += 1
            rec = holdings[n_h]
            rec.row = t
            rec.col = i
            rec.quantity = book.qty[i]
            rec.price = book.last_px[i]
            rec.value = v
            rec.weight = v / x
            book.counts[3] += 1
        else:
            book.qty[i] = 0.0
    book.counts[0] = n_held
    v_s = fills.post_s
    stable_qty = v_s / sp
    if v_s > 0.0:
        n_h = book.counts[3]
        holdings = grow(holdings, n_h + 1)
        rec = holdings[n_h]
        rec.row = t
        rec.col = plan.stable_col
        rec.quantity = stable_qty
        rec.price = sp
        rec.value = v_s
        rec.weight = v_s / x
        book.counts[3] += 1
    return holdings, stable_qty
