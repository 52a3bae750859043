"""Invariant checkers for any backtest result (part of ``index_engine.testing``, see docs/testing.md).

``check_result_invariants`` re-derives every rule from the config and the market instead of trusting
the engine; ``check_no_lookahead`` compares a run with one on data truncated after a date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Optional

import numpy as np
import polars as pl

from index_engine.config import WEEKDAYS, IndexConfig
from index_engine.data.panel import MarketData


def _req(ok, msg: str) -> None:
    if not ok:
        raise AssertionError(msg)


def _close(a: float, b: float, tol: float, scale: float = 0.0) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), scale)


def _ffill(a: np.ndarray) -> np.ndarray:
    """Last valid (finite > 0) value at or before each row, per column."""
    idx = np.where(np.isfinite(a) & (a > 0), np.arange(a.shape[0])[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.where(idx >= 0, a[np.maximum(idx, 0), np.arange(a.shape[1])], np.nan)


def _trailing_mean(x: np.ndarray, d: int, window: int) -> np.ndarray:
    """(N,) mean of the finite values of x over rows d − window + 1 .. d; 0 where there are none."""
    win = x[max(0, d - window + 1) : d + 1]
    cnt = np.isfinite(win).sum(axis=0)
    return np.where(cnt > 0, np.nansum(win, axis=0) / np.maximum(cnt, 1), 0.0)


def _scheduled(days: list, rb) -> np.ndarray:
    """Scheduled observations: a scheduled calendar day falls in (previous observation, this one]."""
    out = np.zeros(len(days), bool)
    for r, day in enumerate(days):
        prev = days[r - 1] if r else day - dt.timedelta(days=1)
        span = [prev + dt.timedelta(days=k) for k in range(1, (day - prev).days + 1)]
        out[r] = rb.frequency == "every_observation" or any(
            (d.weekday() == WEEKDAYS.index(rb.weekday)) if rb.frequency == "weekly" else d.day == 1 for d in span)
    return out


def _bull_at(cfg: IndexConfig, market: MarketData) -> np.ndarray:
    """(T,) regime in effect for a trade at each row (True = bull): the state at row t − lag."""
    g, u, t_all, lag = cfg.regime, cfg.universe, market.n_dates, cfg.rebalance.decision_lag
    state, count, out = True, 0, np.ones(t_all + lag, bool)
    if g.signal == "asset_price_sma":
        sig = _ffill(market.price[:, [market.asset_index(g.asset)]])[:, 0]
    elif g.signal == "total_market_cap_sma":
        keep = ~np.isin(market.categories, list(u.exclude_categories))
        keep &= np.isin(market.asset_ids, list(u.assets)) if u.assets is not None else True
        cap = market.market_cap[:, keep]  # summed left to right, skipping NaN / 0, as documented
        sig = np.array([sum(row[np.isfinite(row) & (row > 0)].tolist(), 0.0) for row in cap])
    for r in range(t_all if g.signal != "none" else 0):
        win = sig[max(0, r - g.window + 1) : r + 1]
        sma = sum(win.tolist(), 0.0) / g.window if r >= g.window - 1 and np.isfinite(win).all() else math.nan
        if not (math.isfinite(sig[r]) and math.isfinite(sma)):
            count = 0  # the state carries over
            continue
        count = count + 1 if (sig[r] < sma * (1 - g.band) if state else sig[r] > sma * (1 + g.band)) else 0
        if count >= g.confirm:
            state, count = not state, 0
        out[r + lag :] = state
    return out[:t_all]


def _eligible(cfg: IndexConfig, market: MarketData, t: int, first: list) -> np.ndarray:
    """(N,) eligibility for a trade at row t (decision row t − lag) under ``cfg.universe``."""
    d, u = t - cfg.rebalance.decision_lag, cfg.universe
    if d < 0:
        return np.zeros(market.n_assets, bool)
    ok = lambda x: np.isfinite(x) & (x > 0)  # noqa: E731
    e = ok(market.price[d]) & ok(market.market_cap[d]) & ok(market.price[t]) & (market.asset_ids != cfg.stable.asset)
    e &= ~np.isin(market.categories, list(u.exclude_categories))
    e &= np.isin(market.asset_ids, list(u.assets)) if u.assets is not None else True
    e &= np.array([f is not None and (market.dates[d].astype(object) - f).days >= u.min_history_days for f in first])
    for name, lowest in getattr(u, "min_scores", {}).items():  # a missing score fails the screen
        e &= np.nan_to_num(market.scores[name][d], nan=-np.inf) >= lowest
    return e & (_trailing_mean(market.volume, d, u.volume_window) >= u.min_volume_usd if u.min_volume_usd else True)


def _selection(cfg: IndexConfig, market: MarketData, t: int, elig: np.ndarray, incumbents: set) -> set:
    """Top-N by market cap at the decision row (ties by asset_id) with the entry/exit buffer."""
    d, s = t - cfg.rebalance.decision_lag, cfg.selection
    ranked = sorted(np.flatnonzero(elig), key=lambda i: (-market.market_cap[d, i], market.asset_ids[i]))
    order = [market.asset_ids[i] for i in ranked]
    picked = [a for r, a in enumerate(order, 1) if r <= (s.exit if a in incumbents else s.entry)][: s.top_n]
    return set(picked + [a for a in order if a not in picked][: s.top_n - len(picked)])


def _check_weights(cfg: IndexConfig, market: MarketData, t: int, w: dict, where: str) -> None:
    """Risk weights: ≤ max_weight where feasible (else equal), uncapped names ∝ the scheme's raw weight."""
    cap_mc = np.array([market.market_cap[t - cfg.rebalance.decision_lag, market.asset_index(a)] for a in w])
    raw = {"market_cap": cap_mc, "sqrt_market_cap": np.sqrt(cap_mc), "equal": np.ones(len(w))}[cfg.weighting.scheme]
    wv, cap = np.array(list(w.values())), min(cfg.weighting.max_weight or 1.0, 1.0)
    if len(w) * cap < 1:
        return _req(np.allclose(wv, 1 / len(w), rtol=1e-9, atol=0), f"{where}: infeasible cap, weights not equal {w}")
    _req((wv <= cap * (1 + 1e-12)).all(), f"{where}: a weight exceeds max_weight={cap}: {w}")
    free = wv < cap * (1 - 1e-9)
    if free.any():
        lam = wv[free] / raw[free]
        _req(np.allclose(lam, lam[0], rtol=1e-9, atol=0), f"{where}: uncapped weights not ∝ {cfg.weighting.scheme}: {w}")
        _req((raw[~free] * lam[0] >= cap * (1 - 1e-9)).all(), f"{where}: a capped name ranks below an uncapped one {w}")


def _order_costs(cfg: IndexConfig, market: MarketData, t: int, col: int, q: float, px: np.ndarray) -> tuple:
    """(slippage USD, gas USD, participation cap USD) of an order of notional q on column col at row t."""
    c, d = cfg.costs, t - cfg.rebalance.decision_lag
    s, i = c.slippage_model, slice(col, col + 1)
    adv = _trailing_mean(market.volume[:, i], d, s.adv_window)[0] if d >= 0 else 0.0
    slip = s.bps / 1e4 * q
    if s.model == "sqrt_impact":
        rows = np.arange(max(0, d - s.vol_window + 1), d + 1) if d >= 0 else np.array([], int)
        p, days = market.price[rows, col], market.dates[rows].astype(np.int64)
        ok_px = np.isfinite(p) & (p > 0)
        # each return scaled to one day by its own calendar gap: nothing after d enters
        ret = np.diff(np.log(p[ok_px])) / np.sqrt(np.diff(days[ok_px]))
        sigma = np.std(ret, ddof=1) if ret.size >= 2 else math.nan
        ok = math.isfinite(sigma) and adv > 0
        impact_rate = min(s.k * sigma * math.sqrt(q / adv), s.max_impact_bps / 1e4) if ok else 0.0
        slip = (s.spread_bps / 2e4 * q + impact_rate * q) if ok else s.fallback_bps / 1e4 * q
    gas = c.gas_usd + (c.gas_units * c.gas_price_gwei * 1e-9 * px[t, market.asset_index(c.gas_asset)]
                       if c.gas_units else 0.0)
    return slip, gas, (c.max_participation * adv if c.max_participation and adv > 0 else math.inf)


def _by_day(frame: Optional[pl.DataFrame]) -> dict:
    """{date: [row dicts]} of an output frame (empty for None)."""
    return {} if frame is None else {k[0]: v.to_dicts() for k, v in frame.partition_by("date", as_dict=True).items()}


# ---- checkers -----------------------------------------------------------------------------------------
def check_result_invariants(result, market: MarketData, tol: float = 1e-9) -> None:
    """Assert every documented invariant of ``result = run_backtest(cfg, market)``; raises
    AssertionError naming the first violation (date, asset, values). The list is in docs/testing.md.

    NAV_pre at a trade date is reconstructed independently with the kernel's convention: the previous
    trade's quantities (before the first trade: initial_nav / stable price at the window start, in the
    stable sleeve) marked at each asset's last valid close on or before the date (the stable asset
    likewise; cash at $1). The trade calendar, regime, eligibility, selection (incumbents = the
    previous trade's selection), weights, order costs and reasons are re-derived from the config;
    legs left off target by ``min_order_usd`` / ``max_participation`` must be in ``result.unfilled``.
    """
    cfg, c = result.config, result.config.costs
    stable, lag = cfg.stable.asset, cfg.rebalance.decision_lag
    days = market.dates.astype("datetime64[D]").astype(object).tolist()
    px, first = _ffill(market.price), market.assets["first_date"].to_list()
    sp = np.ones(market.n_dates) if stable == "cash" else px[:, market.asset_index(stable)]
    mark = lambda a, t: sp[t] if a == stable else px[t, market.asset_index(a)]  # noqa: E731
    b, nav = cfg.backtest, result.nav.to_dicts()
    r0 = 0 if b.start is None else next(r for r, d in enumerate(days) if d >= b.start)
    r1 = len(days) - 1 if b.end is None else max(r for r, d in enumerate(days) if d <= b.end)
    _req([n["date"] for n in nav] == days[r0 : r1 + 1], f"nav dates are not the window rows {r0}..{r1}")
    hold, txs, unf = (_by_day(f) for f in (result.holdings, result.transactions, getattr(result, "unfilled", None)))
    unf = {d: {u["asset_id"]: u for u in us} for d, us in unf.items()}
    _req(set(txs) | set(unf) <= set(hold), f"orders on non-trade dates {sorted((set(txs) | set(unf)) - set(hold))[:3]}")
    sched, bull_at, start = _scheduled(days, cfg.rebalance), _bull_at(cfg, market), max(r0, lag)
    cost_cols = [k for k in ("fee", "platform_fee", "slippage", "gas") if k in nav[0]]
    book, prev_sel = {stable: b.initial_nav / sp[r0]}, set()
    for t, n in zip(range(r0, r1 + 1), nav):
        day, bull = n["date"], n["regime"] == "bull"
        _req(bull == bull_at[t], f"{day}: regime {n['regime']}, re-derived {'bull' if bull_at[t] else 'bear'}")
        _req(math.isfinite(n["nav"]) and n["nav"] > 0, f"{day}: NAV {n['nav']} is not finite > 0")
        pre, costs = sum(q * mark(a, t) for a, q in book.items()), sum(n[k] for k in cost_cols)
        _req(_close(n["costs"], costs, tol, n["nav"]), f"{day}: costs {n['costs']} != sum of {cost_cols} {costs}")
        switched = t > start and bull != bull_at[t - 1]
        _req((day in hold) == (t >= start and (switched or sched[t] or (bull and t == start))),
             f"{day}: trade={day in hold} but regime={n['regime']} switched={switched} scheduled={sched[t]}")
        if day not in hold:
            _req(_close(n["nav"], pre, tol), f"{day}: NAV {n['nav']} != marked holdings {pre}")
            continue
        _req(_close(pre - costs, n["nav"], tol), f"{day}: NAV_pre {pre} - costs {costs} != NAV_post {n['nav']}")
        hs, frozen = hold[day], unf.get(day, {})
        new, w_new = {h["asset_id"]: h["quantity"] for h in hs}, {h["asset_id"]: h["weight"] for h in hs}
        _req(len(new) == len(hs), f"{day}: two holdings rows for one asset")
        _req(abs(sum(w_new.values()) - 1) <= tol, f"{day}: holdings weights sum to {sum(w_new.values())}")
        for h in hs:
            a, where = h["asset_id"], f"{day} {h['asset_id']}"
            _req(h["weight"] >= 0 and h["quantity"] >= 0, f"{where}: negative weight/quantity {h}")
            _req(h["price"] == mark(a, t), f"{where}: holding price {h['price']} != last close {mark(a, t)}")
            _req(_close(h["value"], h["quantity"] * h["price"], tol), f"{where}: value != quantity × price")
            _req(abs(h["weight"] - h["value"] / n["nav"]) <= tol, f"{where}: weight {h['weight']} != value / NAV")
        risk = {a: w for a, w in w_new.items() if a != stable}
        _req(n["n_holdings"] == len(risk), f"{day}: n_holdings {n['n_holdings']} != {len(risk)}")
        elig = _eligible(cfg, market, t, first)
        exp = prev_sel = _selection(cfg, market, t, elig, prev_sel) if bull else set()
        for a in set(risk) - set(frozen):
            cat = market.categories[market.asset_index(a)]
            _req(cat not in cfg.universe.exclude_categories, f"{day}: holds {a} of excluded category {cat}")
            _req(elig[market.asset_index(a)], f"{day}: holds {a}, ineligible at decision row {t - lag} / trade row {t}")
        _req(set(risk) - set(frozen) <= exp and (frozen or exp <= set(risk)),  # frozen sells may starve buys
             f"{day}: holds {sorted(risk)}, expected {sorted(exp)}, unfilled {sorted(frozen)}")
        if risk and not frozen:
            _check_weights(cfg, market, t, risk, str(day))
        turnover = 0.5 * sum(abs(w_new.get(a, 0.0) - book.get(a, 0.0) * mark(a, t) / pre) for a in set(book) | set(new))
        _req(abs(turnover - n["turnover"]) <= tol, f"{day}: turnover {n['turnover']} != {turnover}")
        sums, signed = defaultdict(float), {}
        for x in txs.get(day, []):
            a, q, where = x["asset_id"], x["notional"], f"{day} {x['asset_id']}"
            _req(a != "cash" and a not in signed, f"{where}: an order in the cash sleeve or two orders in one asset")
            _req(x["quantity"] >= 0 and x["side"] in ("buy", "sell"), f"{where}: bad quantity/side {x}")
            _req(_close(q, x["quantity"] * x["price"], tol), f"{where}: notional != quantity × price")
            _req(x["price"] == mark(a, t), f"{where}: traded at {x['price']}, last close {mark(a, t)}")
            slip, gas, cap = _order_costs(cfg, market, t, market.asset_index(a), q, px)
            for k, want in (("fee", c.fee_bps / 1e4 * q), ("platform_fee", c.platform_fee_bps / 1e4 * q),
                            ("slippage", slip), ("gas", gas)):
                _req(_close(x.get(k, 0.0), want, 1e-6 if k == "slippage" else tol, tol), f"{where}: {k} {x.get(k)} != {want}")
                sums[k] += x.get(k, 0.0)
            if a != stable:
                capped = frozen.get(a, {}).get("reason") == "max_participation"  # may fall below min_order
                _req((capped or q >= c.min_order_usd * (1 - tol)) and q <= cap + tol * n["nav"], f"{where}: notional {q} "
                     f"outside [min_order_usd {c.min_order_usd}, participation cap {cap}]")
                _req(x["side"] == "sell" or elig[market.asset_index(a)], f"{where}: bought an ineligible/unpriced asset")
            signed[a] = q / x["price"] if x["side"] == "buy" else -q / x["price"]
            old, zero_target = book.get(a, 0.0), (a not in exp) if a != stable else bool(exp)
            why = ("entry" if t == start and bull else "delisted" if old and a != stable and
                   not market.price[t, market.asset_index(a)] > 0 else ("regime_entry" if bull else "regime_exit")
                   if switched else "entry" if not old else "exit" if zero_target else "reweight")
            _req(x["reason"] == why, f"{where}: reason {x['reason']!r}, expected {why!r}")
        for k in cost_cols:
            _req(_close(sums[k], n[k], tol, n["nav"]), f"{day}: transactions' {k} {sums[k]} != nav {k} {n[k]}")
        for a, u in frozen.items():
            q = u["filled_notional"]
            _req(u["reason"] in ("min_order", "max_participation", "unfunded"), f"{day} {a}: unfilled reason {u['reason']!r}")
            if u["reason"] == "unfunded":  # the fillable orders could not pay their own costs: no trade at all
                _req(q == 0 and not txs.get(day), f"{day} {a}: an unfunded trade placed orders")
                continue
            _req(u["reason"] == "max_participation" or (q == 0 and (u["requested_notional"] < c.min_order_usd or
                 _order_costs(cfg, market, t, market.asset_index(a), u["requested_notional"], px)[2] < c.min_order_usd)),
                 f"{day} {a}: skipped for min_order but requested {u['requested_notional']} / filled {q}")
            _req(u["reason"] == "min_order" or (u["requested_notional"] > q and _close(
                q, _order_costs(cfg, market, t, market.asset_index(a), q, px)[2], tol, n["nav"])), f"{day} {a}: bad fill {u}")
        for a in (set(book) | set(new)) - {"cash"}:
            d, scale = new.get(a, 0.0) - book.get(a, 0.0), max(book.get(a, 0.0), new.get(a, 0.0))
            _req(abs(signed.get(a, 0.0) - d) <= tol * scale, f"{day} {a}: order {signed.get(a)} != quantity change {d}")
        book = new


def _same(a: pl.DataFrame, b: pl.DataFrame, rtol: float, what: str) -> None:
    _req(a.columns == b.columns and a.height == b.height, f"{what}: shape {a.shape} (full) vs {b.shape} (truncated)")
    for name in a.columns:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= rtol * np.maximum(abs(x), abs(y))) \
            if a[name].dtype.is_float() else x == y
        bad = np.flatnonzero(~same)
        _req(bad.size == 0, f"{what}.{name} differs on {a['date'][int(bad[0])] if bad.size else ''}: "
             f"{x[bad[:1]]} (full data) vs {y[bad[:1]]} (truncated)")


def check_no_lookahead(cfg: IndexConfig, market: MarketData, cut_date, rtol: float = 1e-12) -> bool:
    """Assert that results through ``cut_date`` do not depend on later data.

    Runs ``cfg`` on ``market`` and on ``market.truncate(cut_date)`` and asserts that the nav, holdings,
    transactions and unfilled rows dated <= cut_date are identical (floats to ``rtol`` relative).
    Returns False without comparing when the truncated run cannot exist (cut before the data or the
    backtest start, or stable.asset / regime.asset / costs.gas_asset unseen by then), else True.
    """
    from backtest import run_backtest

    cut = np.datetime64(cut_date, "D")
    if cut < market.dates[0] or (cfg.backtest.start is not None and np.datetime64(cfg.backtest.start, "D") > cut):
        return False
    part_market = market.truncate(cut)
    needed = {cfg.stable.asset} - {"cash"} | ({cfg.regime.asset} if cfg.regime.signal == "asset_price_sma" else set())
    if not needed | ({cfg.costs.gas_asset} if cfg.costs.gas_units else set()) <= set(part_market.asset_ids):
        return False
    full, part = run_backtest(cfg, market), run_backtest(cfg, part_market)
    for what in ("nav", "holdings", "transactions", "unfilled"):
        if getattr(full, what, None) is not None:
            keys = ["date"] if what == "nav" else ["date", "asset_id"]
            a, b = (getattr(r, what).filter(pl.col("date") <= cut.astype(object)).sort(keys) for r in (full, part))
            _same(a, b, rtol, what)
    return True
