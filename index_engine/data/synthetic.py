"""The embedded, seeded synthetic crypto market (the default data for demos and the flagship config).

``synthetic_market(seed, n_assets, days, start, n_stablecoins)`` returns a ``MarketData`` of ``days``
consecutive UTC days from ``start`` and ``n_assets`` columns; ``synthetic_long_frame`` returns the same
data in the long input format. Everything is drawn from one ``numpy.random.Generator(PCG64(seed))`` in
a fixed order (the market factor first, so it depends on ``seed`` and ``days`` only): the same
arguments give bit-identical arrays on every CPU. Only the generator's raw uniforms and integers are
used; normals, Student-t draws, ``exp`` and ``log`` come from ``index_engine.data.portable_random``
and ``index_engine.kernels.portable`` (IEEE arithmetic only), never from numpy's SIMD or libm paths
that differ in the last bit between machines. Prices and caps are USD, volumes USD per day, time in
days.

Parameters (as in ``SyntheticConfig``): ``seed`` (int, the PCG64 seed); ``n_assets`` (columns, >= 4:
bitcoin, ethereum, wrapped-bitcoin, the stablecoins and ``syn-NNNN`` generics); ``days`` (length of
the daily calendar); ``start`` (first UTC day, a date or ISO string); ``n_stablecoins`` (capped at
``n_assets - 4`` so that at least one generic remains).

Model
-----
* **Market factor** (daily log return ``f_t``): a semi-Markov regime chain alternating bull and bear
  phases. A bull lasts 240-540 days and rises 3-10x; a bear lasts 150-400 days and targets
  a 50-80 % fall: drift = log move / duration, plus Student-t (df 4) noise of 3 %/day, demeaned
  within each phase so that every phase realises its move exactly. The chain starts in a bull with
  probability 0.7, part-way through its first phase.
* **Risky assets** ("bitcoin", "ethereum", generics "syn-0001"...): log price
  ``log p_t = log p_0 + sum(beta * f + alpha + eps)``. Betas: bitcoin 1, ethereum 1.15, generics
  1.1 + 0.03/order of magnitude below the top generic + N(0, 0.2), clipped to [0.5, 1.8]. ``eps`` is
  Student-t (df 3), clipped at ±0.8 log, with daily volatility 0.8 % (bitcoin), 1.2 % (ethereum),
  1.5 % + 0.7 %/order of magnitude below the top generic (x U(0.7, 1.3); ~5 % for the smallest).
  Drift ``alpha = -sigma^2/2 - bleed``, bleed 0-0.03 %/day (alts decay against bitcoin).
  Starting caps follow a rank-size power law (slope 1.4 for the top 50, 2.5 beyond) with 0.3 log
  noise, scaled so bitcoin holds 58 % of the non-stable cap on day 0 (bitcoin $3,800 x 17.45 M coins,
  ethereum $140 x 104.5 M). Generics are numbered by day-0 cap (those listed on day 0) then by
  listing day; syn-0003 and syn-0011 are "exchange_token".
* **Supply**: bitcoin/ethereum grow 1.8 %/4 % a year; generics have occasional steps (1/250 per day,
  -0.5 %..+3 %). market_cap = price x supply.
* **Life cycle**: the top 10 generics and ~55 % of the rest trade from day 0; the others list on a
  random day (2.5x likelier in bulls; NaN before). ~30 % of listed generics die: the price collapses
  20-300x over 15-90 days, then NaN. ~4 % have one 2-7 day gap of NaN. 15 % of the smaller half lack
  a market cap for their first 30-365 days (price and volume present).
* **Stablecoins** (tether, usd-coin, dai, binance-usd, ...): price 1 + N(0, 0.0007) clipped to ±0.003;
  supply grows 20-70 %/year (log) with 0.4 %/day noise. One (usd-coin, or tether if alone) de-pegs
  once to 0.88-0.92 for 3-8 days, losing 10-30 % of its supply.
* **wrapped-bitcoin** (category "wrapped") lists on day 29: bitcoin's price x exp(N(0, 0.0015)),
  supply growing logistically from 100 to ~250,000 coins.
* **Volume**: cap x turnover (log-normal per asset, median 5 %/day; 100 % tether, 2 % wrapped) x
  log-normal daily noise x (1 + 4 |log return|); a fifth of days with zero volume below $300 k cap.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from index_engine.data.panel import MarketData, panel_from_dense
from index_engine.data.portable_random import normal, student_t, uniform
from index_engine.kernels.portable import exp_array, log, log_array

_STABLES = [("tether", "USDT", "Tether", 2.0e9), ("usd-coin", "USDC", "USD Coin", 2.5e8),
            ("dai", "DAI", "Dai", 7.0e7), ("binance-usd", "BUSD", "Binance USD", 2.0e7),
            ("true-usd", "TUSD", "TrueUSD", 2.0e7), ("frax", "FRAX", "Frax", 2.0e7)]
_BTC_SHARE = 0.58


def _market_factor(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily market log returns (days,) and the bull mask (days,) of the regime chain."""
    drift, bull, starts = np.empty(days), np.zeros(days, dtype=bool), []
    state, t = rng.random() < 0.7, 0
    while t < days:  # one iteration per phase (a handful), not per day
        if state:
            dur, move = int(rng.integers(240, 541)), log(uniform(rng, 3.0, 10.0))
        else:
            dur, move = int(rng.integers(150, 401)), log(1.0 - uniform(rng, 0.5, 0.8))
        if t == 0:  # the calendar starts part-way through a phase
            frac = uniform(rng, 0.4, 1.0)
            dur, move = max(60, int(dur * frac)), move * frac
        drift[t:t + dur], bull[t:t + dur] = move / dur, state
        starts.append(t)
        t, state = t + dur, not state
    noise = np.clip(0.03 / math.sqrt(2.0) * student_t(rng, 4, days), -0.3, 0.3)
    for a, b in zip(starts, [*starts[1:], days]):  # zero-sum per phase (math.fsum: exactly rounded)
        noise[a:b] -= math.fsum(noise[a:b].tolist()) / (b - a)
    return drift + noise, bull


def synthetic_market(seed: int = 7, n_assets: int = 800, days: int = 2190,
                     start: date | str = "2019-01-01", n_stablecoins: int = 4) -> MarketData:
    """The seeded synthetic market as a dense panel (see the module docstring for the model)."""
    if n_assets < 4 or days < 2:
        raise ValueError(f"synthetic_market needs n_assets >= 4 and days >= 2 (got {n_assets}, {days})")
    rng = np.random.Generator(np.random.PCG64(seed))
    T = int(days)
    dates = np.datetime64(start, "D") + np.arange(T)
    tt = np.arange(T)[:, None]
    f, bull = _market_factor(rng, T)

    n_st = min(max(int(n_stablecoins), 0), n_assets - 4)
    n_g = n_assets - 3 - n_st  # generics; risky block = bitcoin, ethereum, generics
    # ---- generic starting caps (rank-size power law) and listings -------------------------------
    k = np.arange(1, n_g + 1)
    rel = np.where(k <= 50, -1.4 * log_array(k), -1.4 * log(50.0) - 2.5 * log_array(np.maximum(k, 50) / 50))
    logcap = rel + 0.3 * normal(rng, n_g)
    at_start = (k <= 10) | (rng.random(n_g) < 0.55)
    cdf = np.cumsum(np.where(bull[1:], 2.5, 1.0))  # listing-day odds (exact: sums of halves)
    list_day = np.where(at_start, 0, 1 + np.searchsorted(cdf, rng.random(n_g) * cdf[-1], side="right"))
    order = np.lexsort((-logcap, list_day))  # day-0 listings by cap, then later ones by day
    logcap, list_day, rank = logcap[order], list_day[order], k[order]
    btc_cap0, eth_cap0 = 3800.0 * 17.45e6, 140.0 * 104.5e6
    alt_total = btc_cap0 * (1 / _BTC_SHARE - 1) - eth_cap0
    cap0 = exp_array(logcap)
    for _ in range(4):  # scale to bitcoin's target share, every generic below 0.8 x ethereum
        cap0 = np.minimum(cap0 * alt_total / math.fsum(cap0[list_day == 0].tolist()), 0.8 * eth_cap0)

    # ---- per-asset dynamics (risky block: column 0 bitcoin, 1 ethereum, 2.. generics) ----------
    n_r = n_g + 2
    size = log_array(cap0.max() / cap0) / log(10.0)  # orders of magnitude below the top generic
    beta = np.r_[1.0, 1.15, np.clip(1.1 + 0.03 * size + 0.2 * normal(rng, n_g), 0.5, 1.8)]
    sig = np.r_[0.008, 0.012, (0.015 + 0.007 * size) * uniform(rng, 0.7, 1.3, n_g)]
    alpha = -0.5 * (sig * sig) - np.r_[0.0, 0.0001, uniform(rng, 0.0, 0.0003, n_g)]
    p0 = np.r_[3800.0, 140.0, exp_array(uniform(rng, -3.0, 2.5, n_g) * log(10.0))]
    lst = np.r_[0, 0, list_day]
    # deaths: collapse over L days ending at the death day D (price NaN from D on)
    can_die = np.r_[False, False, rank > 10] & (lst + 90 < T - 1)
    dies = can_die & (rng.random(n_r) < 0.3)
    death = np.where(dies, rng.integers(lst + 90, np.maximum(T, lst + 91)), T)
    coll_len = np.maximum(np.minimum(rng.integers(15, 91, n_r), death - lst - 1), 1)
    coll_drop = log_array(uniform(rng, 20.0, 300.0, n_r))
    inc = student_t(rng, 3, (T, n_r))
    inc *= sig / math.sqrt(3.0)
    np.clip(inc, -0.8, 0.8, out=inc)
    inc += np.multiply.outer(f, beta)
    inc += alpha
    d = np.flatnonzero(dies)  # collapse: an extra -drop/L per day over the L days before death
    inc[:, d] -= np.where((tt >= death[d] - coll_len[d]) & (tt < death[d]), coll_drop[d] / coll_len[d], 0.0)
    inc[0] = 0.0
    logp = np.cumsum(inc, axis=0)
    logp += log_array(p0)
    u = rng.random((T, n_r))
    logs = np.where(u < 1 / 250, u * 250 * 0.035 - 0.005, 0.0)  # supply steps
    logs[:, :2] = 0.0
    np.cumsum(logs, axis=0, out=logs)
    logs += log_array(np.r_[btc_cap0, eth_cap0, cap0] / p0)
    logs[:, :2] += np.multiply.outer(np.arange(T), np.r_[0.018, 0.04] / 365)
    logs += logp
    price_r, cap_r = exp_array(logp), exp_array(logs)
    alive = (tt >= lst) & (tt < death)
    gappy = (rng.random(n_r) < 0.04) & (death - lst > 40) & (np.arange(n_r) >= 2)
    g0 = rng.integers(lst + 5, np.maximum(death - 15, lst + 6))
    g1 = g0 + rng.integers(2, 8, n_r)
    d = np.flatnonzero(gappy)
    alive[:, d] &= (tt < g0[d]) | (tt >= g1[d])
    no_cap = np.r_[False, False, (rank > n_g / 2) & (rng.random(n_g) < 0.15)]
    cap_until = lst + rng.integers(30, 366, n_r)
    turnover = np.r_[0.06, 0.1, exp_array(log(0.05) + 0.8 * normal(rng, n_g))]
    vol_r = normal(rng, (T, n_r))
    vol_r *= 0.6
    vol_r -= 0.18
    vol_r = exp_array(vol_r)
    vol_r *= cap_r
    vol_r *= turnover
    np.abs(inc, out=inc)
    inc *= 4.0
    inc += 1.0
    vol_r *= inc
    vol_r[(cap_r < 3e5) & (u > 0.8)] = 0.0
    dead = ~alive
    price_r[dead] = np.nan
    vol_r[dead] = np.nan
    cap_r[dead] = np.nan
    d = np.flatnonzero(no_cap)
    cap_r[:, d] = np.where(tt < cap_until[d], np.nan, cap_r[:, d])

    # ---- stablecoins ------------------------------------------------------------------------------
    st_meta = [_STABLES[i] if i < len(_STABLES) else (f"stable-{i + 1:02d}", f"USD{i + 1}",
               f"Synthetic Dollar {i + 1}", 2.0e7) for i in range(n_st)]
    st_list = np.array([0 if i < 3 else int(rng.integers(T // 5, T // 2 + 1)) for i in range(n_st)], int)
    price_s = 1.0 + np.clip(0.0007 * normal(rng, (T, n_st)), -0.003, 0.003)
    g = uniform(rng, 0.2, 0.7, n_st) / 365
    s0 = np.array([m[3] for m in st_meta])
    logs_s = log_array(s0) + g * tt + np.cumsum(0.004 * normal(rng, (T, n_st)), axis=0)
    if n_st:
        j = 1 if n_st >= 2 else 0
        d0 = int(rng.integers(int(0.3 * T), max(int(0.85 * T), int(0.3 * T) + 1)))
        d0 = max(d0, int(st_list[j]) + 1)
        L, depth = int(rng.integers(3, 9)), uniform(rng, 0.08, 0.12)
        x = (np.arange(L) + 0.5) / L
        prof = np.sqrt(4.0 * x * (1.0 - x))[: max(T - d0, 0)]  # a hump: deepest mid-way
        price_s[d0:d0 + L, j] = 1.0 - depth * prof
        logs_s[d0:, j] += log(uniform(rng, 0.7, 0.9))
    cap_s = price_s * exp_array(logs_s)
    vol_s = cap_s * np.where(np.arange(n_st) == 0, 1.0, 0.15) * exp_array(0.4 * normal(rng, (T, n_st)) - 0.08)
    dead_s = tt < st_list
    for a in (price_s, cap_s, vol_s):
        a[dead_s] = np.nan

    # ---- wrapped bitcoin ----------------------------------------------------------------------------
    wl = min(29, T // 4)
    price_w = price_r[:, 0] * exp_array(np.clip(0.0015 * normal(rng, T), -0.006, 0.006))
    supply_w = 100.0 + 2.5e5 / (1.0 + exp_array(-(np.arange(T) - wl - 600) / 150.0))
    cap_w = price_w * supply_w
    vol_w = cap_w * 0.02 * exp_array(0.5 * normal(rng, T) - 0.125)
    for a in (price_w, cap_w, vol_w):
        a[:wl] = np.nan

    # ---- assemble, sorted by asset_id --------------------------------------------------------------
    width = max(4, len(str(n_g)))
    ids = ["bitcoin", "ethereum"] + [f"syn-{i:0{width}d}" for i in range(1, n_g + 1)]
    ids += ["wrapped-bitcoin"] + [m[0] for m in st_meta]
    symbols = ["BTC", "ETH"] + [f"S{i:0{width}d}" for i in range(1, n_g + 1)] + ["WBTC"] + [m[1] for m in st_meta]
    names = ["Bitcoin", "Ethereum"] + [f"Synthetic {i}" for i in range(1, n_g + 1)]
    names += ["Wrapped Bitcoin"] + [m[2] for m in st_meta]
    cats = ["other"] * n_r + ["wrapped"] + ["stablecoin"] * n_st
    for i in (3, 11):  # syn-0003, syn-0011
        if i <= n_g:
            cats[1 + i] = "exchange_token"
    idx = np.argsort(np.array(ids, dtype=object), kind="stable")
    pos = np.empty_like(idx)
    pos[idx] = np.arange(n_assets)  # column of each block asset in the sorted panel
    out = []
    for blocks in ((price_r, price_w, price_s), (cap_r, cap_w, cap_s), (vol_r, vol_w, vol_s)):
        arr = np.empty((T, n_assets))
        arr[:, pos[:n_r]], arr[:, pos[n_r]], arr[:, pos[n_r + 1:]] = blocks
        out.append(arr)
    table = pl.DataFrame({"asset_id": [ids[i] for i in idx], "symbol": [symbols[i] for i in idx],
                          "name": [names[i] for i in idx], "category": [cats[i] for i in idx]})
    return panel_from_dense(
        dates=dates, asset_ids=np.array([ids[i] for i in idx], dtype=object),
        price=out[0], market_cap=out[1], volume=out[2], assets=table,
        source=f"synthetic(seed={seed}, n_assets={n_assets}, days={T}, start={dates[0]}, n_stablecoins={n_st})",
    )


def synthetic_long_frame(seed: int = 7, n_assets: int = 800, days: int = 2190,
                         start: date | str = "2019-01-01", n_stablecoins: int = 4
                         ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The synthetic market in the long input format: ``(frame, categories)``.

    ``frame`` has one row per observed (date, asset) — rows with a price — sorted by date then
    asset_id, with columns date, asset_id, symbol, name, price_usd, market_cap_usd, volume_24h_usd
    (NaN caps/volumes become nulls); ``categories`` has columns asset_id, category.
    """
    m = synthetic_market(seed=seed, n_assets=n_assets, days=days, start=start, n_stablecoins=n_stablecoins)
    r, c = np.nonzero(np.isfinite(m.price))
    sym, name = m.assets["symbol"].to_numpy(), m.assets["name"].to_numpy()
    frame = pl.DataFrame({
        "date": pl.Series("date", m.dates[r], dtype=pl.Date),
        "asset_id": pl.Series("asset_id", m.asset_ids[c], dtype=pl.Utf8),
        "symbol": pl.Series("symbol", sym[c], dtype=pl.Utf8),
        "name": pl.Series("name", name[c], dtype=pl.Utf8),
        "price_usd": m.price[r, c],
        "market_cap_usd": m.market_cap[r, c],
        "volume_24h_usd": m.volume[r, c],
    }).with_columns(pl.col("market_cap_usd", "volume_24h_usd").fill_nan(None))
    return frame, m.assets.select("asset_id", "category")
