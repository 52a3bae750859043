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
from index_engine.data.panel import MarketData, panel_from_dense


def req(ok, msg: str) -> None:
    """Assert ``ok``, raising AssertionError(msg)."""
    if not ok:
        raise AssertionError(msg)


def close(a: float, b: float, tol: float, scale: float = 0.0) -> bool:
    """|a − b| within ``tol`` relative to the larger of |a|, |b| and ``scale``."""
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


def _calendar(days: list, frequency: str, weekday: str) -> np.ndarray:
    out = np.zeros(len(days), bool)
    for r, day in enumerate(days):
        prev = days[r - 1] if r else day - dt.timedelta(days=1)
        span = [prev + dt.timedelta(days=k) for k in range(1, (day - prev).days + 1)]
        if frequency == "every_observation":
            out[r] = True
        elif frequency == "weekly":
            out[r] = any(d.weekday() == WEEKDAYS.index(weekday) for d in span)
        elif frequency == "monthly":
            out[r] = any(d.day == 1 for d in span)
        else:  # quarterly
            out[r] = any(d.day == 1 and d.month in (1, 4, 7, 10) for d in span)
    return out


def scheduled(days: list, rb) -> np.ndarray:
    """Scheduled observations: a scheduled calendar day falls in (previous observation, this one]."""
    return _calendar(days, rb.frequency, rb.weekday)


def reconstitutions(days: list, rb, list_dates: list) -> np.ndarray:
    """Calendar reconstitutions (``rebalance.reconstitution``) and the first observation on or after each
    membership list's date."""
    out = np.zeros(len(days), bool) if rb.reconstitution is None else _calendar(days, rb.reconstitution, rb.weekday)
    for ld in list_dates:
        later = [r for r, d in enumerate(days) if d >= ld]
        if later:
            out[later[0]] = True
    return out


def spike_filtered(cfg: IndexConfig, market: MarketData) -> tuple[MarketData, int]:
    """(the panel with ``prices.spike_factor``'s spikes removed, the number removed): a close is a spike when
    it is more than the factor above, or below 1/factor of, the median of the asset's last ``spike_window``
    valid closes before it (all of them while fewer; judged from the 4th valid close on); its price and
    market cap become NaN. The median reads the raw closes, flagged ones included."""
    f, w = cfg.prices.spike_factor, cfg.prices.spike_window
    if f is None:
        return market, 0
    price, cap = market.price.copy(), market.market_cap.copy()
    for i in range(market.n_assets):
        rows = np.flatnonzero(np.isfinite(market.price[:, i]) & (market.price[:, i] > 0))
        v = market.price[rows, i]
        ref = np.full(v.size, np.nan)
        for k in range(3, min(w, v.size)):
            ref[k] = np.median(v[:k])
        if v.size > w:  # the full windows at once: ref[k] = median of v[k - w : k]
            ref[w:] = np.median(np.lib.stride_tricks.sliding_window_view(v, w)[:-1], axis=1)
        bad = rows[(v > ref * f) | (v * f < ref)]
        price[bad, i] = cap[bad, i] = np.nan
    n = int(np.isnan(price).sum() - np.isnan(market.price).sum())
    assets = market.assets.drop(["first_date", "last_date"])
    return panel_from_dense(market.dates, market.asset_ids, price, cap, market.volume, assets, market.source,
                            market.warnings, market.scores, market.symbol_changes), n


def ranking_cap(cfg: IndexConfig, market: MarketData) -> np.ndarray:
    """(T, N) market cap the methodology ranks and weights by: raw, EWMA or SMA of the valid caps."""
    mc, m = market.market_cap, cfg.market_cap
    if m.smoothing == "none":
        return mc
    out = np.full(mc.shape, np.nan)
    alpha = 1.0 - 0.5 ** (1.0 / m.halflife) if m.smoothing == "ewma" and m.halflife else 0.0
    window = int(m.window or 1)
    for i in range(mc.shape[1]):
        s = math.nan
        for t in range(mc.shape[0]):
            v = mc[t, i]
            ok = math.isfinite(v) and v > 0
            if m.smoothing == "ewma":
                s = (v if math.isnan(s) else alpha * v + (1 - alpha) * s) if ok else s
                out[t, i] = s
            else:
                vals = [x for x in mc[max(0, t - window + 1): t + 1, i] if math.isfinite(x) and x > 0]
                out[t, i] = sum(vals) / len(vals) if vals else math.nan
    return out


def eligible(cfg: IndexConfig, market: MarketData, t: int, first: list, listed: np.ndarray | None = None) -> np.ndarray:
    """(N,) eligibility for a trade at row t (decision row t − lag) under ``cfg.universe``; ``listed``
    (N,) bool is the membership list in effect (None: no lists)."""
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
    if listed is not None:
        e &= listed
    return e & (trailing_mean(market.volume, d, u.volume_window) >= u.min_volume_usd if u.min_volume_usd else True)


def ranked(cfg: IndexConfig, market: MarketData, t: int, elig: np.ndarray, score: np.ndarray) -> list[str]:
    """Eligible asset_ids in rank order at trade row t: by ``score`` at the decision row descending, or by
    the composite of market-cap and volume ranks (ascending); ties by asset_id."""
    d, s = t - cfg.rebalance.decision_lag, cfg.selection
    cols = np.flatnonzero(elig)
    ids = market.asset_ids
    if s.rank_by != "composite":
        return [ids[i] for i in sorted(cols, key=lambda i: (-score[d, i], ids[i]))]
    vol = trailing_mean(market.volume, d, cfg.universe.volume_window)
    by_cap = {i: r for r, i in enumerate(sorted(cols, key=lambda i: (-score[d, i], ids[i])), 1)}
    by_vol = {i: r for r, i in enumerate(sorted(cols, key=lambda i: (-vol[i], ids[i])), 1)}
    wc, wv = (s.composite or {}).get("market_cap", 0.0), (s.composite or {}).get("volume", 0.0)
    key = {i: (wc * by_cap[i] + wv * by_vol[i]) / (wc + wv) for i in cols}
    return [ids[i] for i in sorted(cols, key=lambda i: (key[i], ids[i]))]


def selection(cfg: IndexConfig, order: list[str], incumbents: set, qualified: set | None = None,
              standing: bool = True) -> set:
    """Top-N of ``order`` with the entry/exit buffer; while the index stands (the previous trade was
    invested) a newcomer must be in ``qualified`` (the time buffer); filled by rank from incumbents and
    qualified newcomers."""
    s = cfg.selection
    can_enter = (lambda a: True) if not standing or qualified is None else (lambda a: a in qualified)
    picked = [a for r, a in enumerate(order, 1)
              if (r <= s.exit if a in incumbents else r <= s.entry and can_enter(a))][: s.top_n]
    fill = [a for a in order if a not in picked and (a in incumbents or can_enter(a))]
    return set(picked + fill[: s.top_n - len(picked)])


def check_weights(cfg: IndexConfig, market: MarketData, t: int, w: dict, where: str, score: np.ndarray,
                  listed_weights: dict | None = None) -> None:
    """Risk weights against every bound: fixed weights exact; caps (tiered by raw weight, else
    max_weight), floors and category caps hold; names strictly inside their bounds (and outside capped
    categories) are proportional to the scheme's raw weight (or the published list weights)."""
    wc = cfg.weighting
    ids = list(w)
    d = t - cfg.rebalance.decision_lag
    mc = np.array([score[d, market.asset_index(a)] for a in ids])
    raw = {"market_cap": mc, "sqrt_market_cap": np.sqrt(mc), "equal": np.ones(len(ids))}[wc.scheme]
    if listed_weights:
        raw = np.array([listed_weights.get(a, r) for a, r in zip(ids, raw)])
    wv = np.array([w[a] for a in ids])
    fixed = {a: f for a, f in (wc.fixed or {}).items() if a in w}
    if fixed and len(fixed) == len(ids):  # nothing else can take the rest: fixed weights scaled to sum to 1
        fixed = {a: f / sum(fixed.values()) for a, f in fixed.items()}
    for a, f in fixed.items():
        req(abs(w[a] - f) <= 1e-12, f"{where}: fixed weight of {a} is {w[a]}, expected {f}")
    free_idx = [j for j, a in enumerate(ids) if a not in fixed]
    cap = np.full(len(ids), min(wc.max_weight or 1.0, 1.0))
    rank_caps = wc.rank_caps or []
    for r, j in enumerate(sorted(free_idx, key=lambda j: (-raw[j], ids[j]))):  # ties by asset_id
        if r < len(rank_caps):
            cap[j] = rank_caps[r]
    floor = np.full(len(ids), wc.min_weight or 0.0)
    budget = 1.0 - sum(fixed.values())
    if sum(cap[j] for j in free_idx) < budget - 1e-12 or sum(floor[j] for j in free_idx) > budget + 1e-12:
        return  # infeasible bounds: the documented fallback (proportional to caps / floors), warned
    cats = market.categories
    over = {c for c, v in (wc.category_caps or {}).items()
            if sum(w[a] for a in ids if a not in fixed and cats[market.asset_index(a)] == c) > v + 1e-9}
    if over:
        return  # category caps that cannot hold are ignored there (warning category_cap_infeasible)
    for j in free_idx:
        req(wv[j] <= cap[j] * (1 + 1e-9) + 1e-12, f"{where}: {ids[j]} weight {wv[j]} above its cap {cap[j]}: {w}")
        req(wv[j] >= floor[j] * (1 - 1e-9) - 1e-12, f"{where}: {ids[j]} weight {wv[j]} below the floor {floor[j]}")
    capped_cats = {c for c, v in (wc.category_caps or {}).items()
                   if abs(sum(w[a] for a in ids if a not in fixed and cats[market.asset_index(a)] == c) - v) <= 1e-9}
    groups: dict = {}
    for j in free_idx:
        c = cats[market.asset_index(ids[j])]
        inside = floor[j] * (1 + 1e-9) < wv[j] < cap[j] * (1 - 1e-9)
        if inside:
            groups.setdefault(c if c in capped_cats else None, []).append(j)
    for members in groups.values():
        lam = wv[members] / raw[members]
        req(np.allclose(lam, lam[0], rtol=1e-9, atol=0), f"{where}: weights inside their bounds not ∝ raw: {w}")


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
                       if c.gas_units and c.gas_price_gwei else 0.0)
    return slip, gas, (c.max_participation * adv if c.max_participation and adv > 0 else math.inf)


def stale_positions(cfg: IndexConfig, market: MarketData, t: int, held: list) -> set:
    """The held risk assets (asset_ids in ``held``) a trade at row t must leave untraded under
    ``prices.max_stale_days``: no valid close at t, and a last valid close at most that many calendar days
    before t (a longer gap: sold as delisted)."""
    limit = cfg.prices.max_stale_days
    out: set = set()
    for a in held if limit is not None else ():
        p = market.price[: t + 1, market.asset_index(a)]
        ok = np.isfinite(p) & (p > 0)
        if not ok[t] and ok.any() and (market.dates[t] - market.dates[np.flatnonzero(ok)[-1]]).astype(int) <= limit:
            out.add(a)
    return out


def by_day(frame: Optional[pl.DataFrame]) -> dict:
    """{date: [row dicts]} of an output frame (empty for None)."""
    return {} if frame is None else {k[0]: v.to_dicts() for k, v in frame.partition_by("date", as_dict=True).items()}


