"""The regime re-derived independently, in plain Python (no kernels): every signal of
docs/methodology.md *Regime*, the whipsaw controls, the vote and the share in effect for trades.

``share_at(cfg, market, sample)`` is what ``backtest.testing.check_result_invariants`` compares with
the engine's ``risk_share`` column; ``bull_at`` is ``share_at > 0``.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from index_engine.config import IndexConfig, SignalConfig
from index_engine.config.regime import FOLLOWS_ASSET
from index_engine.data.panel import MarketData

TIE = 1e-12  # the documented tie tolerance (relative)


def _ok(v: float) -> bool:
    return math.isfinite(v) and v > 0


def _universe(cfg: IndexConfig, market: MarketData) -> np.ndarray:
    u = cfg.universe
    keep = ~np.isin(market.categories, list(u.exclude_categories))
    return keep & (np.isin(market.asset_ids, list(u.assets)) if u.assets is not None else True)


def follow(cfg: IndexConfig, sig: SignalConfig, market: MarketData) -> list[float]:
    """The series a signal follows: ``asset``'s last valid close, else the universe's total market cap
    (finite positive caps summed left to right)."""
    if sig.signal in FOLLOWS_ASSET and sig.asset is not None:
        col, last, out = market.asset_index(sig.asset), math.nan, []
        for t in range(market.n_dates):
            v = float(market.price[t, col])
            last = v if _ok(v) else last
            out.append(last)
        return out
    cap = market.market_cap[:, _universe(cfg, market)]
    return [sum((float(v) for v in row if _ok(v)), 0.0) for row in cap]


def _sma(x: list[float], w: int, t: int) -> float:
    win = x[t - w + 1: t + 1] if t >= w - 1 else []
    return sum(win, 0.0) / w if win and all(math.isfinite(v) for v in win) else math.nan


def _ema(x: list[float], w: int) -> list[float]:
    out, s, seen, a = [], math.nan, 0, 2.0 / (w + 1.0)
    for v in x:
        if math.isfinite(v):
            s = v if seen == 0 else a * v + (1.0 - a) * s
            seen += 1
        out.append(s if seen >= w else math.nan)
    return out


def _breadth(cfg: IndexConfig, sig: SignalConfig, market: MarketData) -> list[float]:
    b, keep, out = sig.breadth, _universe(cfg, market), []
    for t in range(market.n_dates):
        cols = [i for i in range(market.n_assets) if keep[i] and _ok(float(market.market_cap[t, i]))]
        top = sorted(cols, key=lambda i: (-market.market_cap[t, i], i))[: b.top_n]
        above = counted = 0
        for i in top:
            win = [float(p) for p in market.price[t - b.window + 1: t + 1, i]] if t >= b.window - 1 else []
            if win and all(_ok(p) for p in win):
                counted += 1
                above += win[-1] > sum(win, 0.0) / b.window
        out.append(above / counted if counted else math.nan)
    return out


def values(cfg: IndexConfig, sig: SignalConfig, market: MarketData) -> tuple[list[float], list[float]]:
    """(value, reference) of one signal at every observation."""
    n, s = market.n_dates, sig.signal
    if s == "breadth":
        return _breadth(cfg, sig, market), [float(sig.breadth.threshold)] * n
    x = follow(cfg, sig, market)
    if s in ("total_market_cap_sma", "asset_price_sma"):
        return x, [_sma(x, sig.window, t) for t in range(n)]
    if s == "sma_crossover":
        return [_sma(x, int(sig.fast_window or 1), t) for t in range(n)], [_sma(x, sig.window, t) for t in range(n)]
    if s == "ema_crossover":
        return _ema(x, int(sig.fast_window or 1)), _ema(x, sig.window)
    if s == "momentum":
        k = int(sig.momentum_window or 1)
        return x, [x[t - k] if t >= k else math.nan for t in range(n)]
    peak, ref = math.nan, []
    for v in x:  # drawdown
        peak = v if math.isfinite(v) and not v <= peak else peak
        ref.append((1.0 - float(sig.drawdown_limit or 0.0)) * peak)
    return x, ref


def states(cfg: IndexConfig, sig: SignalConfig, market: MarketData) -> list[bool]:
    """Bull (True) / bear at every observation, data through it: exit after ``exit_confirm`` values
    below reference × (1 − exit band), entry after ``entry_confirm`` above reference × (1 + entry band)
    (breadth: at or above), beyond the tie tolerance; undefined values restart the count; no switch
    sooner than ``min_dwell`` observations after the previous one."""
    value, ref = values(cfg, sig, market)
    state, count, last, out = True, 0, None, []
    for t, (v, r) in enumerate(zip(value, ref)):
        lo, hi = r * (1.0 - sig.exit_band_value), r * (1.0 + sig.entry_band_value)
        if not (math.isfinite(v) and math.isfinite(lo) and math.isfinite(hi)):
            count = 0
        else:
            if state:
                beyond = v < lo - TIE * abs(lo)
            elif sig.signal == "breadth":
                beyond = v >= hi - TIE * abs(hi)
            else:
                beyond = v > hi + TIE * abs(hi)
            count = count + 1 if beyond else 0
            need = sig.exit_confirm_value if state else sig.entry_confirm_value
            if count >= need and (last is None or t >= last + sig.min_dwell):
                state, count, last = not state, 0, t
        out.append(state)
    return out


def share(cfg: IndexConfig, market: MarketData) -> list[float]:
    """Risk share at every observation, data through it: the vote of the signals' states."""
    g = cfg.regime
    if g.signal == "none":
        return [1.0] * market.n_dates
    votes = [states(cfg, p, market) for p in g.parts()]
    out = []
    for t in range(market.n_dates):
        k, m = sum(v[t] for v in votes), len(votes)
        bull = {"all": k == m, "any": k >= 1, "majority": 2 * k > m}[g.combine]
        out.append(k / m if g.exposure == "graduated" else float(bull))
    return out


def share_at(cfg: IndexConfig, market: MarketData, sample: Optional[np.ndarray] = None) -> np.ndarray:
    """(T,) risk share in effect for a trade at each row: the share at row t − lag (1.0 before); with
    ``evaluate: rebalance`` it changes only on the rows of ``sample`` (scheduled dates and the first
    trade row) and is held in between."""
    lag, raw = cfg.rebalance.decision_lag, share(cfg, market)
    at = [raw[t - lag] if t >= lag else 1.0 for t in range(market.n_dates)]
    if cfg.regime.evaluate == "rebalance" and sample is not None:
        held = None
        for t in range(market.n_dates):
            held = at[t] if sample[t] else held
            at[t] = at[t] if held is None else held
    return np.array(at)


def bull_at(cfg: IndexConfig, market: MarketData, sample: Optional[np.ndarray] = None) -> np.ndarray:
    """(T,) True where the risk share in effect for a trade is > 0."""
    return share_at(cfg, market, sample) > 0
