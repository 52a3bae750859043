"""The methodology's rules re-derived independently, in plain numpy/Python (no kernels, no replay).

Used by the invariant checkers in ``backtest.testing`` (``check_result_invariants``), which compare
them with what the engine did. Each function states the rule it re-derives; docs/testing.md lists
the invariants.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Optional

import numpy as np
import polars as pl

from index_engine.config import WEEKDAYS, IndexConfig
from index_engine.data.panel import MarketData


def req(ok, msg: str) -> None:
    if not ok:
        raise AssertionError(msg)


def close(a: float, b: float, tol: float, scale: float = 0.0) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), scale)


def ffill(a: np.ndarray) -> np.ndarray:
    """Last valid (finite > 0) value at or before each row, per column."""
    idx = np.where(np.isfinite(a) & (a > 0), np.arange(a.shape[0])[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.where(idx >= 0, a[np.maximum(idx, 0), np.arange(a.shape[1])], np.nan)


def trailing_mean(x: np.ndarray, d: int, window: int) -> np.ndarray:
    """(N,) mean of the finite values of x over rows d − window + 1 .. d; 0 where there are none."""
    win = x[max(0, d - window + 1) : d + 1]
    cnt = np.isfinite(win).sum(axis=0)
    return np.where(cnt > 0, np.nansum(win, axis=0) / np.maximum(cnt, 1), 0.0)


def scheduled(days: list, rb) -> np.ndarray:
    """Scheduled observations: a scheduled calendar day falls in (previous observation, this one]."""
    out = np.zeros(len(days), bool)
    for r, day in enumerate(days):
        prev = days[r - 1] if r else day - dt.timedelta(days=1)
        span = [prev + dt.timedelta(days=k) for k in range(1, (day - prev).days + 1)]
        out[r] = rb.frequency == "every_observation" or any(
            (d.weekday() == WEEKDAYS.index(rb.weekday)) if rb.frequency == "weekly" else d.day == 1 for d in span)
    return out


def bull_at(cfg: IndexConfig, market: MarketData) -> np.ndarray:
    """(T,) regime in effect for a trade at each row (True = bull): the state at row t − lag."""
    g, u, t_all, lag = cfg.regime, cfg.universe, market.n_dates, cfg.rebalance.decision_lag
    state, count, out = True, 0, np.ones(t_all + lag, bool)
    if g.signal == "asset_price_sma":
        sig = ffill(market.price[:, [market.asset_index(g.asset)]])[:, 0]
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


def eligible(cfg: IndexConfig, market: MarketData, t: int, first: list) -> np.ndarray:
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
    return e & (trailing_mean(market.volume, d, u.volume_window) >= u.min_volume_usd if u.min_volume_usd else True)


def selection(cfg: IndexConfig, market: MarketData, t: int, elig: np.ndarray, incumbents: set) -> set:
    """Top-N by market cap at the decision row (ties by asset_id) with the entry/exit buffer."""
    d, s = t - cfg.rebalance.decision_lag, cfg.selection
    ranked = sorted(np.flatnonzero(elig), key=lambda i: (-market.market_cap[d, i], market.asset_ids[i]))
    order = [market.asset_ids[i] for i in ranked]
    picked = [a for r, a in enumerate(order, 1) if r <= (s.exit if a in incumbents else s.entry)][: s.top_n]
    return set(picked + [a for a in order if a not in picked][: s.top_n - len(picked)])


def check_weights(cfg: IndexConfig, market: MarketData, t: int, w: dict, where: str) -> None:
    """Risk weights: ≤ max_weight where feasible (else equal), uncapped names ∝ the scheme's raw weight."""
    cap_mc = np.array([market.market_cap[t - cfg.rebalance.decision_lag, market.asset_index(a)] for a in w])
    raw = {"market_cap": cap_mc, "sqrt_market_cap": np.sqrt(cap_mc), "equal": np.ones(len(w))}[cfg.weighting.scheme]
    wv, cap = np.array(list(w.values())), min(cfg.weighting.max_weight or 1.0, 1.0)
    if len(w) * cap < 1:
        return req(np.allclose(wv, 1 / len(w), rtol=1e-9, atol=0), f"{where}: infeasible cap, weights not equal {w}")
    req((wv <= cap * (1 + 1e-12)).all(), f"{where}: a weight exceeds max_weight={cap}: {w}")
    free = wv < cap * (1 - 1e-9)
    if free.any():
        lam = wv[free] / raw[free]
        req(np.allclose(lam, lam[0], rtol=1e-9, atol=0), f"{where}: uncapped weights not ∝ {cfg.weighting.scheme}: {w}")
        req((raw[~free] * lam[0] >= cap * (1 - 1e-9)).all(), f"{where}: a capped name ranks below an uncapped one {w}")


def order_costs(cfg: IndexConfig, market: MarketData, t: int, col: int, q: float, px: np.ndarray) -> tuple:
    """(slippage USD, gas USD, participation cap USD) of an order of notional q on column col at row t."""
    c, d = cfg.costs, t - cfg.rebalance.decision_lag
    s, i = c.slippage_model, slice(col, col + 1)
    adv = trailing_mean(market.volume[:, i], d, s.adv_window)[0] if d >= 0 else 0.0
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


def by_day(frame: Optional[pl.DataFrame]) -> dict:
    """{date: [row dicts]} of an output frame (empty for None)."""
    return {} if frame is None else {k[0]: v.to_dicts() for k, v in frame.partition_by("date", as_dict=True).items()}


