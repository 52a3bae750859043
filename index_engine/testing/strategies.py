"""Hypothesis strategies that draw valid markets and configs (re-exported by ``index_engine.testing``).

Markets are drawn from a numpy seed plus structural parameters (sizes, calendar, probabilities of
listings, deaths, gaps...), so Hypothesis still shrinks a failure to a small example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
import polars as pl
from hypothesis import strategies as st

from index_engine.config import WEEKDAYS, IndexConfig
from index_engine.data.panel import CATEGORIES, MarketData, panel_from_dense

CALENDARS = ("daily", "weekly", "irregular")
_DAY0, _DAY1 = dt.date(2017, 1, 1).toordinal(), dt.date(2024, 12, 31).toordinal()
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
_PROBS = st.sampled_from([0.0, 0.2, 0.5])


# ---- strategies -------------------------------------------------------------------------------------
def _lifecycle(rng, t: int, p_late: float, p_death: float, p_gap: float, fixed: bool = False) -> np.ndarray:
    """(T,) bool mask of priced rows: listing (NaN before), death (NaN after), one gap inside."""
    alive = np.zeros(t, bool)
    lo = 0 if fixed or rng.random() >= p_late else int(rng.integers(1, t))
    hi = t - 1 if fixed or rng.random() >= p_death or lo >= t - 1 else int(rng.integers(lo, t - 1))
    alive[lo : hi + 1] = True
    if not fixed and rng.random() < p_gap and hi - lo >= 2:
        g = int(rng.integers(lo + 1, hi + 1))
        alive[g : g + int(rng.integers(1, 6))] = False
        alive[hi] = True  # the last priced day stays priced: a gap is never a death
    return alive


@st.composite
def markets(draw, min_assets: int = 2, max_assets: int = 25, min_days: int = 20, max_days: int = 160,
            calendar: Union[None, str, Sequence[str]] = None, stablecoins: bool = True,
            excluded: bool = True, volume: Optional[bool] = None) -> MarketData:
    """Random valid ``MarketData`` panels of ``min_assets..max_assets`` × ``min_days..max_days``.

    ``calendar``: "daily" (every day), "weekly" (every 7 days), "irregular" (gaps of 1-3 days), a
    sequence of these, or None for any. With ``stablecoins`` 1-3 assets are stablecoins (~$1 ± 2 %;
    the first is priced on every row); with ``excluded`` up to 2 are wrapped / pegged. Risky assets
    have fat-tailed (Student-t) returns, late listings (NaN before), deaths (NaN after), gaps, missing
    or zero market caps on some rows, constant caps and exactly tied caps (exercising the asset_id
    tie-break); some are ``exchange_token``. A volume column (with zero days) is drawn unless
    ``volume`` says, and maybe a score column ``rating`` (0..10, some missing) for
    ``universe.min_scores``. Half the markets have ticker changes (``symbol_changes``): renames and
    symbols first observed after the first row, so label look-ahead shows in the outputs. Always
    valid input: prices > 0, caps and volumes >= 0 where finite.
    """
    n, t = draw(st.integers(min_assets, max_assets)), draw(st.integers(min_days, max_days))
    choices = CALENDARS if calendar is None else [calendar] if isinstance(calendar, str) else calendar
    cal = draw(st.sampled_from(choices))
    n_stable = draw(st.integers(1, min(3, n - 1))) if stablecoins and n >= 2 else 0
    n_excl = draw(st.integers(0, min(2, n - 1 - n_stable))) if excluded else 0
    p_late, p_death, p_gap, p_mc = (draw(_PROBS) for _ in range(4))
    tail_df, vol = draw(st.sampled_from([30.0, 4.0, 2.5])), draw(st.floats(0.005, 0.2))
    ties = draw(st.booleans())
    has_volume = draw(st.booleans()) if volume is None else volume
    has_score, renames = draw(st.booleans()), draw(st.booleans())
    start, rng = draw(st.integers(_DAY0, _DAY1)), np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    n_risky = n - n_stable - n_excl
    steps = {"daily": np.ones(t - 1), "weekly": np.full(t - 1, 7), "irregular": rng.integers(1, 4, t - 1)}[cal]
    days = np.datetime64(dt.date.fromordinal(start), "D") + np.r_[0, np.cumsum(steps)].astype(np.int64)
    factor = np.clip(0.5 * vol * rng.standard_t(tail_df, t), -1.0, 1.0)
    price, mc, cats, rows = np.full((t, n), np.nan), np.full((t, n), np.nan), [], np.arange(t)
    for i in range(n):
        if i < n_risky:
            eps = np.clip(vol * rng.uniform(0.3, 2.0) * rng.standard_t(tail_df, t), -1.5, 1.5)
            logp = np.log(10.0 ** rng.uniform(-4, 5)) + np.cumsum(rng.uniform(0.5, 1.5) * factor + eps)
            px, cat = np.exp(np.clip(logp, -25, 25)), "exchange_token" if rng.random() < 0.15 else "other"
            alive = _lifecycle(rng, t, p_late, p_death, p_gap)
        elif i < n_risky + n_stable:
            px, cat = 1.0 + np.clip(rng.normal(0, 0.004, t), -0.02, 0.02), "stablecoin"
            alive = _lifecycle(rng, t, p_late, p_death, p_gap, fixed=i == n_risky)
        else:
            cat = str(rng.choice(["wrapped", "pegged"]))
            px = price[:, 0] * np.exp(rng.normal(0, 0.002, t)) if cat == "wrapped" else 1.0 + 0.01 * rng.random(t)
            alive = np.isfinite(px) if cat == "wrapped" else _lifecycle(rng, t, p_late, p_death, p_gap)
        cap = px * 10.0 ** rng.uniform(4, 11) * np.exp(np.cumsum(rng.normal(0, 0.002, t) * (rng.random() < 0.5)))
        if i < n_risky and rng.random() < 0.15:
            cap = np.full(t, cap[0])  # constant market cap
        if rng.random() < p_mc:
            cap = np.where(rng.random(t) < 0.3, np.nan, cap)  # missing caps, price present
        if rng.random() < p_mc / 4:
            cap = np.where(rng.random(t) < 0.1, 0.0, cap)
        price[:, i] = np.where(alive, px, np.nan)
        life = (rows >= np.argmax(alive)) & (rows <= t - 1 - np.argmax(alive[::-1]))
        mc[:, i] = np.where(alive | (life & (rng.random(t) < 0.5)), cap, np.nan)  # some caps inside price gaps
        cats.append(cat)
    if ties and n_risky >= 2:
        a, b = rng.choice(n_risky, 2, replace=False)
        mc[:, b] = np.where(np.isfinite(mc[:, a]) & np.isfinite(mc[:, b]), mc[:, a], mc[:, b])
    volumes = None
    if has_volume:
        volumes = mc * np.exp(rng.normal(-3, 1.0, (t, n)))
        volumes[(rng.random((t, n)) < 0.3) & (rng.random(n) < 0.3)] = 0.0
        volumes[~np.isfinite(price)] = np.nan
    ids = np.array([f"{''.join(rng.choice(_LETTERS, 4))}-{i}" for i in range(n)], dtype=object)
    o = np.argsort(ids, kind="stable")
    assets = pl.DataFrame({"asset_id": list(ids[o]), "symbol": [s.split("-")[0].upper() for s in ids[o]],
                           "category": [cats[i] for i in o]})
    rating = np.where(rng.random((t, n)) < 0.1, np.nan, rng.integers(0, 11, (t, n)).astype(float))
    return panel_from_dense(days, ids[o], price[:, o], mc[:, o], None if volumes is None else volumes[:, o],
                            assets, source="<hypothesis>", scores={"rating": rating[:, o]} if has_score else None,
                            symbol_changes=_ticker_changes(rng, assets["symbol"].to_list(), t) if renames else None)


def _ticker_changes(rng, symbols: list[str], t: int) -> pl.DataFrame:
    """Symbol histories (col, row, symbol) where some tickers change: about a third of the assets get
    a first symbol observed only after row 0 (the asset_id is the label before) and/or 1-2 renames."""
    cols, rows, syms = [], [], []
    for j, base in enumerate(symbols):
        cuts = [int(rng.integers(1, t)) if rng.random() < 0.15 else 0]
        if rng.random() < 0.3:
            cuts += rng.integers(cuts[0], t, int(rng.integers(1, 3))).tolist()
        for k, row in enumerate(sorted(set(cuts))):
            cols.append(j)
            rows.append(row)
            syms.append(base if k == 0 else f"{base}{k + 1}")
    return pl.DataFrame({"col": cols, "row": rows, "symbol": syms}, schema={"col": pl.Int64, "row": pl.Int64,
                                                                            "symbol": pl.Utf8})


_SIGNAL_TYPES = ("total_market_cap_sma", "asset_price_sma", "sma_crossover", "ema_crossover", "breadth", "momentum",
                 "drawdown")


@st.composite
def signal_sections(draw, asset_ids: Sequence[str] = ()) -> dict:
    """One random valid signal section (``SignalConfig`` keys): any signal type of the library
    (price signals on one of ``asset_ids`` or the total market cap), windows 2..60, symmetric or
    asymmetric bands 0..0.1 and confirmations 1..3, ``min_dwell`` 0..20."""
    ids = list(asset_ids)
    kinds = [k for k in _SIGNAL_TYPES if ids or k != "asset_price_sma"]
    sig: dict = {"signal": draw(st.sampled_from(kinds)), "window": draw(st.integers(2, 60))}
    if sig["signal"] in ("sma_crossover", "ema_crossover"):
        sig["fast_window"] = draw(st.integers(1, sig["window"] - 1))
    if sig["signal"] == "breadth":
        sig["breadth"] = {"top_n": draw(st.integers(1, 30)), "window": draw(st.integers(1, 30)),
                          "threshold": draw(st.sampled_from([0.3, 0.5, 0.7, 1.0]))}
    if sig["signal"] == "momentum":
        sig["momentum_window"] = draw(st.integers(1, 60))
    if sig["signal"] == "drawdown":
        sig["drawdown_limit"] = draw(st.sampled_from([0.05, 0.2, 0.5]))
    if ids and (sig["signal"] == "asset_price_sma" or (sig["signal"] not in ("total_market_cap_sma", "breadth")
                                                        and draw(st.booleans()))):
        sig["asset"] = draw(st.sampled_from(ids))
    band = st.sampled_from([0.0, 0.0, 0.02, 0.1])
    sig["band"], sig["confirm"] = draw(band), draw(st.integers(1, 3))
    if draw(st.integers(0, 3)) == 0:
        sig.update(entry_band=draw(band), exit_band=draw(band), entry_confirm=draw(st.integers(1, 3)),
                   exit_confirm=draw(st.integers(1, 3)))
    if draw(st.integers(0, 3)) == 0:
        sig["min_dwell"] = draw(st.integers(0, 20))
    return sig


@st.composite
def regime_sections(draw, asset_ids: Sequence[str] = ()) -> dict:
    """A random valid ``regime`` section: half the time today's flagship family (``none``,
    ``total_market_cap_sma``, ``asset_price_sma``), else any signal of ``signal_sections`` or a
    composite of 2..3 of them (``combine`` all/any/majority or graduated exposure); ``evaluate``
    every observation or at the rebalance."""
    ids = list(asset_ids)
    if draw(st.booleans()):
        regime = {"signal": draw(st.sampled_from(["none", "total_market_cap_sma"] + ["asset_price_sma"] * bool(ids))),
                  "window": draw(st.integers(2, 60)), "band": draw(st.sampled_from([0.0, 0.0, 0.02, 0.1])),
                  "confirm": draw(st.integers(1, 3))}
        if regime["signal"] == "asset_price_sma":
            regime["asset"] = draw(st.sampled_from(ids))
    elif draw(st.booleans()):
        regime = draw(signal_sections(ids))
    else:
        regime = {"signal": "composite", "signals": draw(st.lists(signal_sections(ids), min_size=2, max_size=3)),
                  "combine": draw(st.sampled_from(["all", "any", "majority"])),
                  "exposure": draw(st.sampled_from(["binary", "graduated"]))}
    if draw(st.integers(0, 3)) == 0:
        regime["evaluate"] = "rebalance"
    return regime


@st.composite
def index_configs(draw, asset_ids: Optional[Sequence[str]] = None, stable_assets: Sequence[str] = (),
                  dates: Optional[np.ndarray] = None, gas_assets: Sequence[str] = (),
                  scores: Sequence[str] = (), volume: bool = True) -> IndexConfig:
    """Random valid ``IndexConfig`` over every methodology and cost key.

    Selection (top_n 1..30, optional entry/exit buffer), weighting (any scheme, max_weight None or
    0.02..1), rebalance (any frequency/weekday, decision_lag 0..3), regime (none; total_market_cap_sma;
    asset_price_sma on one of ``asset_ids``; window 2..60, band 0..0.1, confirm 1..3), stable sleeve
    (cash or one of ``stable_assets``), universe screens (excluded categories, min history / volume,
    min_scores on one of ``scores``, an ``assets`` list from ``asset_ids``), costs (fee / platform fee /
    fixed slippage 0..100 bps or
    sqrt_impact, gas 0..5 USD or priced in one of ``gas_assets``, min_order_usd, max_participation),
    initial_nav 1e3..1e7 and, when ``dates`` is given, an optional backtest start/end inside them.
    The published-index vocabulary is drawn too: smoothed market caps (EWMA/SMA), quarterly calendars,
    a reconstitution calendar with a drift band, a composite rank (when ``volume``), a time buffer,
    replacement of dropped members, tiered caps, a floor, a category cap and fixed weights. Data hygiene:
    ``prices.max_stale_days`` 1, 3, 10 or 30, ``prices.spike_factor`` 1.5, 3 or 10 (the fat-tailed markets
    move up to ~4.5× a day, so a low factor flags many closes) with ``spike_window`` 3..9, ``stable.depeg_band``
    0.001, 0.005 or null (the drawn stablecoins stay within $1 ± 0.02).
    """
    top_n, ids, scores = draw(st.integers(1, 30)), list(asset_ids or []), list(scores)
    maybe = lambda: draw(st.integers(0, 3)) == 0  # noqa: E731 - an optional key, drawn 1 time in 4
    sel = {"top_n": top_n, "entry_rank": draw(st.none() | st.integers(1, top_n)),
           "exit_rank": draw(st.none() | st.integers(top_n, top_n + 10))}
    if maybe():
        sel.update(qualify_reviews=draw(st.integers(1, 3)), replace_dropped=draw(st.booleans()))
    if volume and maybe():
        sel.update(rank_by="composite", composite=draw(st.sampled_from(
            [{"market_cap": 1.0, "volume": 1.0}, {"market_cap": 0.7, "volume": 0.3}, {"volume": 1.0}])))
    market_cap = {}
    if maybe():
        market_cap = draw(st.sampled_from([{"smoothing": "ewma", "halflife": float(draw(st.integers(1, 20)))},
                                           {"smoothing": "sma", "window": draw(st.integers(1, 20))}]))
    universe = {k: draw(v) for k, v in (
        ("exclude_categories", st.lists(st.sampled_from(CATEGORIES), unique=True)),
        ("min_history_days", st.integers(0, 60)),
        ("min_volume_usd", st.sampled_from([1.0, 1e4, 1e6])), ("volume_window", st.integers(1, 30)),
        ("min_scores", st.fixed_dictionaries({n: st.floats(0, 10) for n in scores[:1]})),
        ("assets", st.lists(st.sampled_from(ids), min_size=1, unique=True) if ids else st.none())) if maybe()}
    regime = draw(regime_sections(ids))
    if maybe():
        stable_yield = draw(st.sampled_from([0.0, 0.04, 0.2]))
    else:
        stable_yield = 0.0
    backtest = {"initial_nav": 10.0 ** draw(st.floats(3, 7))}
    if dates is not None and len(dates) and draw(st.booleans()):
        i, j = sorted(draw(st.lists(st.integers(0, len(dates) - 1), min_size=2, max_size=2)))
        day = dates.astype("datetime64[D]").astype(object)
        backtest.update(start=day[i] - dt.timedelta(days=draw(st.integers(0, 1))) if draw(st.booleans()) else None,
                        end=day[j] if draw(st.booleans()) else None)  # start maps to a row <= i <= j
    bps = st.just(0.0) | st.floats(0, 100)
    costs = {k: draw(v) for k, v in (("platform_fee_bps", bps), ("min_order_usd", st.sampled_from([1.0, 100.0, 1e4])),
                                     ("max_participation", st.floats(0.001, 1.0))) if maybe()}
    costs.update(fee_bps=draw(bps), gas_usd=draw(st.just(0.0) | st.floats(0, 5)))
    if maybe():
        costs["slippage"] = {"model": "sqrt_impact", "k": draw(st.floats(0, 2)), "spread_bps": draw(bps),
                             "vol_window": draw(st.integers(2, 30)), "adv_window": draw(st.integers(1, 30)),
                             "fallback_bps": draw(bps)}
    else:
        costs["slippage_bps"] = draw(bps)
    if gas_assets and maybe():
        costs.update(gas_units=draw(st.floats(1e4, 2e5)), gas_price_gwei=draw(st.floats(1, 100)),
                     gas_asset=draw(st.sampled_from(list(gas_assets))))
    weighting = {"scheme": draw(st.sampled_from(["market_cap", "sqrt_market_cap", "equal"])),
                 "max_weight": draw(st.none() | st.floats(0.02, 1.0))}
    if maybe():
        weighting["rank_caps"] = draw(st.lists(st.floats(0.05, 1.0), min_size=1, max_size=3))
    if maybe():
        caps = [c for c in [weighting["max_weight"], *weighting.get("rank_caps", [])] if c is not None]
        weighting["min_weight"] = draw(st.floats(0.001, min([1.0 / top_n, *caps]) * 0.999))
    if maybe():
        weighting["category_caps"] = {draw(st.sampled_from(["exchange_token", "other"])): draw(st.floats(0.05, 1.0))}
    if ids and maybe():
        weighting["fixed"] = {draw(st.sampled_from(ids)): draw(st.floats(0.05, 0.6))}
    rebalance = {"frequency": draw(st.sampled_from(["weekly", "monthly", "quarterly", "every_observation"])),
                 "weekday": draw(st.sampled_from(WEEKDAYS)), "decision_lag": draw(st.integers(0, 3))}
    if maybe():
        rebalance.update(reconstitution=draw(st.sampled_from(["weekly", "monthly", "quarterly"])),
                         drift_band=draw(st.sampled_from([0.0, 0.001, 0.02, 0.2])))
    depeg = {"depeg_band": draw(st.sampled_from([0.001, 0.005, None]))} if maybe() else {}
    prices = {k: draw(v) for k, v in (("max_stale_days", st.sampled_from([1, 3, 10, 30])),
                                      ("spike_factor", st.sampled_from([1.5, 3.0, 10.0])),
                                      ("spike_window", st.integers(3, 9))) if maybe()}
    return IndexConfig.from_dict({
        "name": "hypothesis", "market_cap": market_cap, "universe": universe, "selection": sel, "regime": regime,
        "backtest": backtest, "costs": costs, "stable": {"asset": draw(st.sampled_from(["cash", *stable_assets])),
                                                               "yield_apr": stable_yield, **depeg},
        "weighting": weighting, "rebalance": rebalance, "prices": prices,
    }, source="<hypothesis>")


@st.composite
def market_and_config(draw, **market_kwargs) -> tuple[MarketData, IndexConfig]:
    """``(market, cfg)``: a market from ``markets(**market_kwargs)`` and a config consistent with it —
    stable.asset may be one of its stablecoins and costs.gas_asset one of its assets (priced on the
    first row), regime.asset and universe.assets name its assets, the window lies inside its dates."""
    market = draw(markets(**market_kwargs))
    priced = [(a, c) for a, c, p in zip(market.asset_ids, market.categories, market.price[0]) if np.isfinite(p)]
    return market, draw(index_configs(list(market.asset_ids), [a for a, c in priced if c == "stablecoin"],
                                      market.dates, [a for a, _ in priced], list(market.scores),
                                      volume=bool(np.isfinite(market.volume).any())))


# ---- re-derivations of the documented rules (independent of the engine's code) ---------------------
