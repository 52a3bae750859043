"""The replay kernel: marks holdings every observation and trades to target at each trade date.

Arrays in, records out (numba, ``cache=True``). Accounting is exact and self-financing: at a trade
with pre-trade value NAV_pre, target weights w (risk assets) and w_s (stable sleeve), the post-trade
value x solves x = NAV_pre − Σ_i cost_i(|w_i·x − h_i|) (``kernels.solve``); new quantities are
w_i·x / close_i, so post-trade weights equal the targets and NAV_pre − costs = NAV_post. Orders
skipped for ``min_order_usd`` or capped by ``max_participation`` freeze their leg, and so does a held
asset without a close at the trade date whose last close is at most ``max_stale_days`` old (reason
``stale_price``); the other legs keep their target proportions. Float-residue orders are never placed
(``kernels.solve.ORDER_DUST``).

``simulate(market=ReplayMarket, plan=ReplayPlan, costs=CostSpec)`` → ``SimulationResult``. Its inputs
are checked once, in Python, by ``backtest.engine.replay_inputs`` (shapes, dtypes, contiguity,
increasing trade rows inside the window, finite non-negative weights).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from backtest.kernels.book import Book, book_holdings, mark_to_market, record_orders
from backtest.kernels.costs import CostSpec, leg_cost
from backtest.kernels.records import HOLDING_DTYPE, ORDER_DTYPE, UNFILLED_DTYPE
from backtest.kernels.solve import Legs, rebalance_legs
from index_engine.codes import FREEZE_NONE, FREEZE_STALE, STATUS_NAV_EXHAUSTED, STATUS_NO_CONVERGENCE, STATUS_OK

#: A stable-sleeve target below this is float residue of risk weights summing to 1: treated as 0.
STABLE_DUST = 1e-12


class ReplayMarket(NamedTuple):
    """(T, N) ``price`` (closes, NaN = none) and ``volume`` (USD); (T,) ``days`` since 1970-01-01;
    (T,) ``stable_price`` (the stable sleeve's forward-filled price, 1.0 for cash); (T,)
    ``stable_growth`` (yield factor of the sleeve from the previous observation, 1.0 = none)."""

    price: np.ndarray
    volume: np.ndarray
    days: np.ndarray
    stable_price: np.ndarray
    stable_growth: np.ndarray


class ReplayPlan(NamedTuple):
    """The plan as arrays: window rows ``first``..``last``; (R,) ``trade_rows``, ``decision_rows``,
    ``trade_kind``; targets CSR ``ptr``/``col``/``weight``; (R,) ``skippable`` (drift-band candidates)
    with ``drift_band``; ``stable_col`` (−1: cash); ``gas`` (R,) USD per order; ``initial_nav`` USD;
    ``max_stale_days``: a held asset without a close at a trade date whose last close is at most this many
    calendar days old is not traded there (−1: never; it is sold as delisted)."""

    first: int
    last: int
    trade_rows: np.ndarray
    decision_rows: np.ndarray
    trade_kind: np.ndarray
    ptr: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    skippable: np.ndarray
    drift_band: float
    stable_col: int
    gas: np.ndarray
    initial_nav: float
    max_stale_days: int = -1


class SimulationResult(NamedTuple):
    """Per observation (L = last − first + 1): ``nav``, ``stable_value``, ``stable_yield`` (USD accrued),
    ``turnover`` (one-way), ``fee``/``platform_fee``/``slippage``/``gas`` (USD), ``n_holdings``,
    ``skipped`` (a drift-band skip). Records: ``orders`` (ORDER_DTYPE), ``unfilled`` (UNFILLED_DTYPE),
    ``holdings`` (HOLDING_DTYPE). ``fell_back`` (N,) assets that paid the fallback rate when bought,
    ``n_fell_back`` such (asset, trade) pairs; ``status`` (codes.STATUS_*), ``fail_at`` (trade index or −1)."""

    nav: np.ndarray
    stable_value: np.ndarray
    stable_yield: np.ndarray
    turnover: np.ndarray
    fee: np.ndarray
    platform_fee: np.ndarray
    slippage: np.ndarray
    gas: np.ndarray
    n_holdings: np.ndarray
    skipped: np.ndarray
    orders: np.ndarray
    unfilled: np.ndarray
    holdings: np.ndarray
    fell_back: np.ndarray
    n_fell_back: int
    status: int
    fail_at: int


@njit(cache=True)
def _gather_legs(book, market, plan, costs, k, t, h_buf, w_buf, lin_buf, rate_buf, imp_buf, cap_buf, fell):
    """Collect the legs of trade k (held assets first, then new targets in column order) with their
    current values, targets and cost parameters. Returns (m, Σ target weights)."""
    base_rate = costs.fee_rate + costs.platform_rate
    d = plan.decision_rows[k]
    n_held = book.counts[0]
    m = 0
    for j in range(n_held):
        book.involved[m] = book.held[j]
        book.mark[book.held[j]] = True
        m += 1
    for e in range(plan.ptr[k], plan.ptr[k + 1]):
        i = plan.col[e]
        if plan.weight[e] > 0.0:
            book.target[i] = plan.weight[e]
            if not book.mark[i]:
                book.involved[m] = i
                book.mark[i] = True
                m += 1
            book.last_px[i] = market.price[t, i]  # eligible ⇒ valid close at t
            book.last_day[i] = market.days[t]
    w_risk = 0.0
    for j in range(m):
        i = book.involved[j]
        book.mark[i] = False
        w_buf[j] = book.target[i]
        book.target[i] = 0.0
        h_buf[j] = book.qty[i] * book.last_px[i] if book.qty[i] != 0.0 else 0.0
        lc = leg_cost(costs, market.price, market.volume, market.days, d, i)
        lin_buf[j] = base_rate + lc.slippage_rate
        rate_buf[j] = lc.slippage_rate
        imp_buf[j] = lc.impact
        cap_buf[j] = lc.order_cap
        if lc.fell_back and w_buf[j] > 0.0:
            fell[i] = True
            book.counts[4] += 1
        w_risk += w_buf[j]
    return m, w_risk


@njit(cache=True)
def _stale_legs(book, market, plan, t, m, fix_buf):
    """FREEZE_STALE for each held leg of the trade at row t without a close there whose last close is at
    most ``plan.max_stale_days`` old, FREEZE_NONE for every other leg (held legs come first)."""
    fix_buf[:m] = FREEZE_NONE
    if plan.max_stale_days < 0:
        return
    for j in range(book.counts[0]):
        i = book.involved[j]
        p = market.price[t, i]
        if not (p > 0.0 and p < np.inf) and market.days[t] - book.last_day[i] <= plan.max_stale_days:
            fix_buf[j] = FREEZE_STALE


@njit(cache=True)
def _within_band(h_buf, w_buf, m, h_stable, w_stable, nav_pre, band):
    """Every drifted weight is within ``band`` of its target (the stable sleeve included)."""
    if abs(h_stable / nav_pre - w_stable) > band:
        return False
    for j in range(m):
        if abs(h_buf[j] / nav_pre - w_buf[j]) > band:
            return False
    return True


@njit(cache=True)
def simulate(market: ReplayMarket, plan: ReplayPlan, costs: CostSpec) -> SimulationResult:
    """Replay the plan over rows [first, last]; see the module docstring and ``SimulationResult``."""
    price = market.price
    n = price.shape[1]
    first, last = plan.first, plan.last
    length = last - first + 1
    nav = np.zeros(length)
    stable_value = np.zeros(length)
    stable_yield = np.zeros(length)
    turnover = np.zeros(length)
    day_cost = np.zeros((length, 4))  # fee, platform fee, slippage, gas
    n_hold = np.zeros(length, np.int64)
    skipped = np.zeros(length, np.bool_)
    n_trades = plan.trade_rows.shape[0]
    capacity = 64 + 2 * plan.col.shape[0] + 2 * n_trades
    orders = np.empty(capacity, ORDER_DTYPE)
    unfilled = np.empty(64, UNFILLED_DTYPE)
    holdings = np.empty(capacity, HOLDING_DTYPE)
    book = Book(np.zeros(n), np.full(n, np.nan), np.zeros(n, np.int64), np.empty(n, np.int64), np.zeros(n),
                 np.zeros(n, np.bool_), np.empty(n, np.int64), np.zeros(5, np.int64))
    fell = np.zeros(n, np.bool_)
    h_buf, w_buf, lin_buf, cap_buf = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    rate_buf, imp_buf = np.empty(n + 1), np.empty(n + 1)  # + the stable leg
    fix_buf = np.empty(n, np.int8)
    stable_col = plan.stable_col
    stable_qty = plan.initial_nav / market.stable_price[first]
    k = 0
    status = STATUS_OK
    fail_at = -1
    for t in range(first, last + 1):
        o = t - first
        sp = market.stable_price[t]
        if t > first and market.stable_growth[t] != 1.0:
            grown = stable_qty * market.stable_growth[t]
            stable_yield[o] = (grown - stable_qty) * sp
            stable_qty = grown
        value = mark_to_market(book, price, market.days, t, stable_qty, sp)
        if k < n_trades and plan.trade_rows[k] == t:
            kind = plan.trade_kind[k]
            nav_pre = value
            m, w_risk = _gather_legs(book, market, plan, costs, k, t, h_buf, w_buf, lin_buf, rate_buf, imp_buf,
                                     cap_buf, fell)
            w_stable = 1.0 - w_risk
            if w_stable < STABLE_DUST:  # float residue of weights that sum to 1: no dust stable position
                w_stable = 0.0
            h_stable = stable_qty * sp
            if plan.skippable[k] and _within_band(h_buf, w_buf, m, h_stable, w_stable, nav_pre, plan.drift_band):
                skipped[o] = True
                k += 1
                nav[o] = value
                stable_value[o] = stable_qty * sp
                n_hold[o] = book.counts[0]
                continue
            if stable_col >= 0:
                lc = leg_cost(costs, price, market.volume, market.days, plan.decision_rows[k], stable_col)
                rate_s, imp_s, gas_s = lc.slippage_rate, lc.impact, plan.gas[k]
                lin_s = costs.fee_rate + costs.platform_rate + rate_s
            else:
                rate_s, lin_s, imp_s, gas_s = 0.0, 0.0, 0.0, 0.0
            _stale_legs(book, market, plan, t, m, fix_buf)
            fills = rebalance_legs(Legs(
                h=h_buf[:m], w=w_buf[:m], lin=lin_buf[:m], impact=imp_buf[:m], cap=cap_buf[:m], h_s=h_stable,
                w_s=w_stable, lin_s=lin_s, impact_s=imp_s, gas=plan.gas[k], gas_s=gas_s, max_impact=costs.max_impact,
                min_order=costs.min_order, nav_pre=nav_pre, fixed=fix_buf[:m],
            ))
            if not fills.ok:
                status, fail_at = STATUS_NO_CONVERGENCE, k
                break
            if fills.x <= 0.0:
                status, fail_at = STATUS_NAV_EXHAUSTED, k
                break
            rate_buf[m], imp_buf[m] = rate_s, imp_s  # the stable leg's own slippage parameters
            orders, unfilled, to = record_orders(book, market, plan, costs, k, t, o, kind, m, h_buf, w_buf, rate_buf,
                                                  imp_buf, h_stable, w_stable, nav_pre, fills, sp, orders, unfilled,
                                                  day_cost)
            turnover[o] = 0.5 * to
            holdings, stable_qty = book_holdings(book, plan, t, m, fills, sp, holdings)
            value = stable_qty * sp
            for j in range(book.counts[0]):
                value += book.qty[book.held[j]] * book.last_px[book.held[j]]
            k += 1
        nav[o] = value
        stable_value[o] = stable_qty * sp
        n_hold[o] = book.counts[0]
    c = book.counts
    return SimulationResult(
        nav, stable_value, stable_yield, turnover, day_cost[:, 0].copy(), day_cost[:, 1].copy(),
        day_cost[:, 2].copy(), day_cost[:, 3].copy(), n_hold, skipped, orders[: c[1]], unfilled[: c[2]],
        holdings[: c[3]], fell, c[4], status, fail_at,
    )
