"""Property-testing helpers: Hypothesis strategies for markets and configs, and invariant checkers.

Use them to property-test your own rules against the engine (see ``docs/testing.md``)::

    from hypothesis import given
    from backtest import run_backtest
    from index_engine.testing import check_result_invariants, market_and_config

    @given(market_and_config())
    def test_my_rules(mc):
        market, cfg = mc
        check_result_invariants(run_backtest(cfg, market), market)

Every market is drawn from a numpy seed plus structural parameters (sizes, calendar, probabilities
of listings, deaths, gaps...), so Hypothesis can still shrink a failure to a small example.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Optional, Sequence, Union

import numpy as np
import polars as pl
from hypothesis import strategies as st

from index_engine.config import WEEKDAYS, IndexConfig
from index_engine.data.panel import CATEGORIES, MarketData, panel_from_dense

__all__ = ["CALENDARS", "REASONS", "check_no_lookahead", "check_result_invariants", "index_configs",
           "market_and_config", "markets"]

CALENDARS = ("daily", "weekly", "irregular")
REASONS = frozenset({"entry", "exit", "reweight", "regime_exit", "regime_entry", "delisted"})
_DAY0, _DAY1 = dt.date(2017, 1, 1).toordinal(), dt.date(2024, 12, 31).toordinal()
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


# ---- markets ----------------------------------------------------------------------------------------
def _lifecycle(rng, t: int, p_late: float, p_death: float, p_gap: float, fixed: bool = False):
    """(T,) bool mask of priced rows: listing (NaN before), death (NaN after), gaps inside."""
    alive = np.zeros(t, bool)
    lo = 0 if fixed or rng.random() >= p_late else int(rng.integers(1, t))
    hi = t - 1 if fixed or rng.random() >= p_death or lo >= t - 1 else int(rng.integers(lo, t - 1))
    alive[lo : hi + 1] = True
    if not fixed and rng.random() < p_gap and hi - lo >= 2:
        g = int(rng.integers(lo + 1, hi + 1))
        alive[g : g + int(rng.integers(1, 6))] = False
        alive[hi] = True  # the last day stays priced so a gap is never a death
    return alive


@st.composite
def markets(draw, min_assets: int = 2, max_assets: int = 25, min_days: int = 20, max_days: int = 160,
            calendar: Union[None, str, Sequence[str]] = None, stablecoins: bool = True,
            excluded: bool = True, volume: Optional[bool] = None) -> MarketData:
    """Random valid ``MarketData`` panels.

    ``calendar``: "daily" (every day), "weekly" (every 7 days), "irregular" (gaps of 1-3 days), a
    sequence of these to draw from, or None for any. With ``stablecoins`` at least one asset is a
    stablecoin (~$1 ± 2 %, the first one priced from day 0); with ``excluded`` there may be wrapped /
    pegged assets. Risky assets have fat-tailed (Student-t) returns, late listings, deaths, gaps,
    missing or zero market caps on some rows, constant caps and exactly tied caps (exercising the
    asset_id tie-break); some are ``exchange_token``. The volume column (with zero days) is drawn
    unless ``volume`` says. Prices are > 0 where finite, caps and volumes >= 0 where finite.
    """
    n = draw(st.integers(min_assets, max_assets))
    t = draw(st.integers(min_days, max_days))
    cals = CALENDARS if calendar is None else ((calendar,) if isinstance(calendar, str) else tuple(calendar))
    cal = draw(st.sampled_from(cals))
    n_stable = draw(st.integers(1, min(3, n - 1))) if stablecoins and n >= 2 else 0
    n_excl = draw(st.integers(0, min(2, n - 1 - n_stable))) if excluded else 0
    p_late, p_death, p_gap = (draw(st.sampled_from([0.0, 0.2, 0.5])) for _ in range(3))
    p_mc = draw(st.sampled_from([0.0, 0.2, 0.5]))
    tail_df = draw(st.sampled_from([30.0, 4.0, 2.5]))
    vol = draw(st.floats(0.005, 0.2))
    ties = draw(st.booleans())
    has_volume = draw(st.booleans()) if volume is None else volume
    start = draw(st.integers(_DAY0, _DAY1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    n_risky = n - n_stable - n_excl
    steps = {"daily": np.ones(t - 1), "weekly": np.full(t - 1, 7), "irregular": rng.integers(1, 4, t - 1)}[cal]
    days = np.datetime64(dt.date.fromordinal(start), "D") + np.r_[0, np.cumsum(steps)].astype(np.int64)
    factor = np.clip(0.5 * vol * rng.standard_t(tail_df, t), -1.0, 1.0)
    price, mc, cats = np.full((t, n), np.nan), np.full((t, n), np.nan), []
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
        supply = 10.0 ** rng.uniform(4, 11) * np.exp(np.cumsum(rng.normal(0, 0.002, t) * (rng.random() < 0.5)))
        cap = px * supply
        if i < n_risky and rng.random() < 0.15:
            cap = np.full(t, cap[0])  # constant market cap
        if rng.random() < p_mc:
            cap = np.where(rng.random(t) < 0.3, np.nan, cap)  # missing caps, price present
        if rng.random() < p_mc / 4:
            cap = np.where(rng.random(t) < 0.1, 0.0, cap)
        price[:, i] = np.where(alive, px, np.nan)
        keep_cap = alive | ((rng.random(t) < 0.5) & (np.arange(t) > np.argmax(alive)))  # cap in a price gap
        mc[:, i] = np.where(keep_cap & (np.arange(t) <= t - 1 - np.argmax(alive[::-1])), cap, np.nan)
        cats.append(cat)
    if ties and n_risky >= 2:
        a, b = rng.choice(n_risky, 2, replace=False)
        both = np.isfinite(mc[:, a]) & np.isfinite(mc[:, b])
        mc[:, b] = np.where(both, mc[:, a], mc[:, b])
    vol_arr = None
    if has_volume:
        vol_arr = mc * np.exp(rng.normal(-3, 1.0, (t, n)))
        vol_arr[(rng.random((t, n)) < 0.3) & (rng.random(n) < 0.3)] = 0.0
        vol_arr[~np.isfinite(price)] = np.nan
    ids = np.array([f"{''.join(rng.choice(_LETTERS, 4))}-{i}" for i in range(n)], dtype=object)
    order = np.argsort(ids, kind="stable")
    assets = pl.DataFrame({"asset_id": list(ids[order]), "symbol": [s.split("-")[0].upper() for s in ids[order]],
                           "category": [cats[i] for i in order]})
    return panel_from_dense(days, ids[order], price[:, order], mc[:, order],
                            None if vol_arr is None else vol_arr[:, order], assets, source="<hypothesis>")


# ---- configs ----------------------------------------------------------------------------------------
@st.composite
def index_configs(draw, asset_ids: Optional[Sequence[str]] = None, stable_assets: Sequence[str] = (),
                  dates: Optional[np.ndarray] = None) -> IndexConfig:
    """Random valid ``IndexConfig`` over every methodology key.

    Selection (top_n 1..30, optional entry/exit buffer), weighting (any scheme, max_weight None or
    0.02..1), rebalance (any frequency/weekday, decision_lag 0..3), regime (none, total_market_cap_sma
    with window 2..60, band 0..0.1, confirm 1..3; asset_price_sma on one of ``asset_ids``), stable
    sleeve (cash or one of ``stable_assets``), costs (fee/slippage 0..100 bps, gas 0..5 USD), universe
    screens (excluded categories, min history/volume, an ``assets`` list from ``asset_ids``) and, when
    ``dates`` is given, a backtest start/end inside them; initial_nav 1e3..1e7.
    """
    top_n = draw(st.integers(1, 30))
    sel = {"top_n": top_n}
    if draw(st.booleans()):
        sel["entry_rank"] = draw(st.none() | st.integers(1, top_n))
        sel["exit_rank"] = draw(st.none() | st.integers(top_n, top_n + 10))
    universe = {}
    if draw(st.integers(0, 3)) == 0:
        universe["exclude_categories"] = draw(st.lists(st.sampled_from(CATEGORIES), unique=True))
    if draw(st.integers(0, 3)) == 0:
        universe["min_history_days"] = draw(st.integers(0, 60))
    if draw(st.integers(0, 3)) == 0:
        universe["min_volume_usd"] = draw(st.sampled_from([1.0, 1e4, 1e6]))
        universe["volume_window"] = draw(st.integers(1, 30))
    if asset_ids is not None and len(asset_ids) and draw(st.integers(0, 4)) == 0:
        universe["assets"] = draw(st.lists(st.sampled_from(list(asset_ids)), min_size=1, unique=True))
    signals = ["none", "total_market_cap_sma"] + (["asset_price_sma"] if asset_ids is not None and len(asset_ids) else [])
    regime = {"signal": draw(st.sampled_from(signals)), "window": draw(st.integers(2, 60)),
              "band": draw(st.sampled_from([0.0, 0.0, 0.02, 0.1])), "confirm": draw(st.integers(1, 3))}
    if regime["signal"] == "asset_price_sma":
        regime["asset"] = draw(st.sampled_from(list(asset_ids)))
    backtest = {"initial_nav": 10.0 ** draw(st.floats(3, 7))}
    if dates is not None and len(dates) and draw(st.booleans()):
        i, j = sorted(draw(st.lists(st.integers(0, len(dates) - 1), min_size=2, max_size=2)))
        day = dates.astype("datetime64[D]").astype(object)
        if draw(st.booleans()):  # the first observation on or after start is at most row i <= j
            backtest["start"] = day[i] - dt.timedelta(days=draw(st.integers(0, 1)))
        if draw(st.booleans()):
            backtest["end"] = day[j]
    raw = {
        "name": "hypothesis",
        "universe": universe,
        "selection": sel,
        "weighting": {"scheme": draw(st.sampled_from(["market_cap", "sqrt_market_cap", "equal"])),
                      "max_weight": draw(st.none() | st.floats(0.02, 1.0))},
        "rebalance": {"frequency": draw(st.sampled_from(["weekly", "monthly", "every_observation"])),
                      "weekday": draw(st.sampled_from(WEEKDAYS)), "decision_lag": draw(st.integers(0, 3))},
        "regime": regime,
        "stable": {"asset": draw(st.sampled_from(["cash", *stable_assets]))},
        "costs": {"fee_bps": draw(st.floats(0, 100)), "slippage_bps": draw(st.floats(0, 100)),
                  "gas_usd": draw(st.sampled_from([0.0, 0.0]) | st.floats(0, 5))},
        "backtest": backtest,
    }
    return IndexConfig.from_dict(raw, source="<hypothesis>")


@st.composite
def market_and_config(draw, **market_kwargs) -> tuple[MarketData, IndexConfig]:
    """A market from ``markets(**market_kwargs)`` and a config consistent with it: stable.asset may
    be one of its stablecoins priced from the first observation, regime.asset / universe.assets
    name its assets, the backtest window lies inside its dates."""
    market = draw(markets(**market_kwargs))
    stables = [a for a, c, p in zip(market.asset_ids, market.categories, market.price[0])
               if c == "stablecoin" and np.isfinite(p)]
    return market, draw(index_configs(list(market.asset_ids), stables, market.dates))


# ---- invariant checkers -----------------------------------------------------------------------------
def _req(ok, msg: str) -> None:
    if not ok:
        raise AssertionError(msg)


def _close(a: float, b: float, tol: float, scale: float = 0.0) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), scale)


def _ffill(a: np.ndarray) -> np.ndarray:
    """Last valid (finite > 0) value at or before each row, per column."""
    valid = np.isfinite(a) & (a > 0)
    idx = np.where(valid, np.arange(a.shape[0])[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.where(idx >= 0, a[np.maximum(idx, 0), np.arange(a.shape[1])], np.nan)


def _scheduled(days: list, rb) -> np.ndarray:
    """Scheduled observations: a scheduled calendar day falls in (previous observation, this one]."""
    out = np.zeros(len(days), bool)
    for r, day in enumerate(days):
        prev = days[r - 1] if r else day - dt.timedelta(days=1)
        span = [prev + dt.timedelta(days=k) for k in range(1, (day - prev).days + 1)]
        out[r] = rb.frequency == "every_observation" or any(
            (d.weekday() == WEEKDAYS.index(rb.weekday)) if rb.frequency == "weekly" else d.day == 1 for d in span)
    return out


def _eligible(cfg: IndexConfig, market: MarketData, t: int, stable_id: str) -> np.ndarray:
    """(N,) eligibility for a trade at row t, re-derived from the documented rules."""
    d, u = t - cfg.rebalance.decision_lag, cfg.universe
    if d < 0:
        return np.zeros(market.n_assets, bool)
    ok = lambda x: np.isfinite(x) & (x > 0)  # noqa: E731
    e = ok(market.price[d]) & ok(market.market_cap[d]) & ok(market.price[t])
    e &= ~np.isin(market.categories, list(u.exclude_categories)) & (market.asset_ids != stable_id)
    if u.assets is not None:
        e &= np.isin(market.asset_ids, list(u.assets))
    first = market.assets["first_date"].to_list()
    age = np.array([(market.dates[d].astype(object) - f).days if f else -1 for f in first])
    e &= age >= u.min_history_days
    if u.min_volume_usd > 0:
        win = market.volume[max(0, d - u.volume_window + 1) : d + 1]
        cnt = np.isfinite(win).sum(axis=0)
        mean = np.where(cnt > 0, np.nansum(win, axis=0) / np.maximum(cnt, 1), 0.0)
        e &= mean >= u.min_volume_usd
    return e


def _expected_selection(cfg, market, t, stable_id, incumbents: set) -> set:
    """Top-N by market cap at the decision row (ties by asset_id) with the entry/exit buffer."""
    d, s = t - cfg.rebalance.decision_lag, cfg.selection
    elig = np.flatnonzero(_eligible(cfg, market, t, stable_id))
    order = [market.asset_ids[i] for i in sorted(elig, key=lambda i: (-market.market_cap[d, i], market.asset_ids[i]))]
    picked = [a for r, a in enumerate(order, 1) if r <= (s.exit if a in incumbents else s.entry)][: s.top_n]
    return set(picked + [a for a in order if a not in picked][: s.top_n - len(picked)])


def _check_weights(cfg, market, t, w: dict, msg: str) -> None:
    """Risk weights: capped where feasible, else equal; uncapped names proportional to the scheme."""
    d, col = t - cfg.rebalance.decision_lag, {a: i for i, a in enumerate(market.asset_ids)}
    mc = np.array([market.market_cap[d, col[a]] for a in w])
    raw = {"market_cap": mc, "sqrt_market_cap": np.sqrt(mc), "equal": np.ones(len(w))}[cfg.weighting.scheme]
    wv, cap = np.array(list(w.values())), cfg.weighting.max_weight
    cap = cap if cap is not None and cap < 1 else 1.0
    if len(w) * cap < 1:
        _req(np.allclose(wv, 1 / len(w), rtol=1e-9, atol=0), f"{msg}: infeasible cap, weights not equal {w}")
        return
    _req((wv <= cap * (1 + 1e-12)).all(), f"{msg}: weight above max_weight={cap}: {w}")
    free = wv < cap * (1 - 1e-9)
    if free.any():
        lam = wv[free] / raw[free]
        _req(np.allclose(lam, lam[0], rtol=1e-9, atol=0), f"{msg}: uncapped weights not ∝ {cfg.weighting.scheme}: {w}")
        _req((raw[~free] * lam[0] >= cap * (1 - 1e-9)).all(), f"{msg}: a capped name ranks below an uncapped one: {w}")


def check_result_invariants(result, market: MarketData, tol: float = 1e-9) -> None:
    """Assert every documented invariant of a ``BacktestResult`` of ``market``; AssertionError names
    the first violation (date, asset, values). See ``docs/testing.md`` for the full list.

    NAV_pre at a trade date is reconstructed independently: the previous trade's holdings quantities
    (before the first trade: initial_nav / stable price at the window start, in the stable sleeve)
    marked at each asset's last valid close on or before the date (the stable asset likewise, cash
    at $1) — the kernel's convention. Eligibility, selection (with the buffer's incumbents = the
    previous trade's risk holdings), weights and the trade calendar are re-derived from ``cfg``.
    """
    cfg, c = result.config, result.config.costs
    stable_id = cfg.stable.asset
    days = market.dates.astype("datetime64[D]").astype(object).tolist()
    row_of, col = {d: r for r, d in enumerate(days)}, {a: i for i, a in enumerate(market.asset_ids)}
    px = _ffill(market.price)
    sp = np.ones(market.n_dates) if stable_id == "cash" else px[:, col[stable_id]]
    value_at = lambda a, t: sp[t] if a == stable_id else px[t, col[a]]  # noqa: E731
    nav = result.nav.to_dicts()
    _req(len(nav) > 0, "empty nav frame")
    rows = [row_of[n["date"]] for n in nav]
    b = cfg.backtest
    r0 = 0 if b.start is None else next(r for r, d in enumerate(days) if d >= b.start)
    r1 = len(days) - 1 if b.end is None else max(r for r, d in enumerate(days) if d <= b.end)
    _req(rows == list(range(r0, r1 + 1)), f"nav dates are not the backtest window rows {r0}..{r1}")
    hold, txs = defaultdict(list), defaultdict(list)
    for h in result.holdings.to_dicts():
        hold[h["date"]].append(h)
    for x in result.transactions.to_dicts():
        txs[x["date"]].append(x)
    _req(set(txs) <= set(hold), f"transactions on non-trade dates {sorted(set(txs) - set(hold))[:3]}")
    sched = _scheduled(days, cfg.rebalance)
    book, prev_regime, start = {stable_id: b.initial_nav / sp[r0]}, None, max(r0, cfg.rebalance.decision_lag)
    for o, (t, n) in enumerate(zip(rows, nav)):
        day, bull = n["date"], n["regime"] == "bull"
        _req(math.isfinite(n["nav"]) and n["nav"] > 0, f"{day}: NAV {n['nav']} is not finite > 0")
        pre = sum(q * value_at(a, t) for a, q in book.items())
        costs = n["fee"] + n["slippage"] + n["gas"]
        _req(_close(n["costs"], costs, tol, n["nav"]), f"{day}: costs {n['costs']} != fee+slippage+gas {costs}")
        switched = t > start and n["regime"] != prev_regime
        prev_regime = n["regime"]
        _req((day in hold) == (t >= start and (switched or (bull and (t == start or sched[t])))),
             f"{day}: trade={day in hold} but regime={n['regime']} switched={switched} scheduled={sched[t]}")
        if day not in hold:
            _req(_close(n["nav"], pre, tol), f"{day}: NAV {n['nav']} != marked holdings {pre}")
            continue
        _req(_close(pre - costs, n["nav"], tol), f"{day}: NAV_pre {pre} - costs {costs} != NAV_post {n['nav']}")
        hs = hold[day]
        new = {h["asset_id"]: h["quantity"] for h in hs}
        _req(len(new) == len(hs), f"{day}: duplicate holdings rows")
        _req(abs(sum(h["weight"] for h in hs) - 1) <= tol, f"{day}: holdings weights sum to {sum(h['weight'] for h in hs)}")
        for h in hs:
            a, where = h["asset_id"], f"{day} {h['asset_id']}"
            _req(h["weight"] >= 0 and h["quantity"] >= 0, f"{where}: negative weight/quantity {h}")
            _req(h["price"] == value_at(a, t), f"{where}: holding price {h['price']} != last close {value_at(a, t)}")
            _req(_close(h["value"], h["quantity"] * h["price"], tol), f"{where}: value != quantity × price")
            _req(abs(h["weight"] - h["value"] / n["nav"]) <= tol, f"{where}: weight {h['weight']} != value / NAV")
        risk = {h["asset_id"]: h["weight"] for h in hs if h["asset_id"] != stable_id}
        _req(n["n_holdings"] == len(risk), f"{day}: n_holdings {n['n_holdings']} != {len(risk)}")
        elig = _eligible(cfg, market, t, stable_id)
        for a in risk:
            i = col[a]
            _req(market.categories[i] not in cfg.universe.exclude_categories, f"{day}: holds excluded {a} ({market.categories[i]})")
            _req(elig[i], f"{day}: holds {a}, ineligible at decision row {t - cfg.rebalance.decision_lag} / trade row {t}")
        if not bull:
            _req(not risk, f"{day}: bear regime but risk assets held: {risk}")
        else:
            inc = {a for a in book if a != stable_id}
            exp = _expected_selection(cfg, market, t, stable_id, inc)
            _req(set(risk) == exp, f"{day}: selection {sorted(risk)} != expected {sorted(exp)} (incumbents {sorted(inc)})")
            if risk:
                _check_weights(cfg, market, t, risk, str(day))
        w_new = {h["asset_id"]: h["weight"] for h in hs}
        turnover = 0.5 * sum(abs(w_new.get(a, 0.0) - book.get(a, 0.0) * value_at(a, t) / pre) for a in set(book) | set(new))
        _req(abs(turnover - n["turnover"]) <= tol, f"{day}: turnover {n['turnover']} != {turnover}")
        sums, signed = defaultdict(float), {}
        for x in txs.get(day, []):
            a, where = x["asset_id"], f"{day} {x['asset_id']}"
            _req(a != "cash" and a not in signed, f"{where}: an order in the cash sleeve or two orders in one asset")
            _req(x["quantity"] >= 0 and x["side"] in ("buy", "sell"), f"{where}: bad quantity/side {x}")
            _req(_close(x["notional"], x["quantity"] * x["price"], tol), f"{where}: notional != quantity × price")
            for k, rate in (("fee", c.fee_bps / 1e4), ("slippage", c.slippage_bps / 1e4)):
                _req(_close(x[k], rate * x["notional"], tol, tol), f"{where}: {k} {x[k]} != {rate} × {x['notional']}")
                sums[k] += x[k]
            _req(x["gas"] == c.gas_usd, f"{where}: gas {x['gas']} != costs.gas_usd {c.gas_usd}")
            sums["gas"] += x["gas"]
            signed[a] = x["quantity"] if x["side"] == "buy" else -x["quantity"]
            _req(x["price"] == value_at(a, t), f"{where}: traded at {x['price']}, last close {value_at(a, t)}")
            if x["side"] == "buy" and a != stable_id:
                _req(np.isfinite(market.price[t, col[a]]) and elig[col[a]], f"{where}: bought an unpriced/ineligible asset")
            old, fresh = book.get(a, 0.0), new.get(a, 0.0)
            why = ("entry" if t == start and bull else "delisted" if old and a != stable_id and
                   not market.price[t, col[a]] > 0 else ("regime_entry" if bull else "regime_exit") if switched
                   else "entry" if not old else "exit" if not fresh else "reweight")
            _req(x["reason"] == why, f"{where}: reason {x['reason']!r}, expected {why!r}")
        for k in ("fee", "slippage", "gas"):
            _req(_close(sums[k], n[k], tol, n["nav"]), f"{day}: sum of transaction {k} {sums[k]} != nav {k} {n[k]}")
        for a in (set(book) | set(new)) - {"cash"}:
            d, scale = new.get(a, 0.0) - book.get(a, 0.0), max(book.get(a, 0.0), new.get(a, 0.0))
            _req(abs(signed.get(a, 0.0) - d) <= tol * scale, f"{day} {a}: order {signed.get(a)} != quantity change {d}")
        book = new


def _same(a: pl.DataFrame, b: pl.DataFrame, rtol: float, what: str) -> None:
    _req(a.columns == b.columns and a.height == b.height, f"{what}: {a.shape} vs {b.shape} rows/columns differ")
    for name in a.columns:
        x, y = a[name], b[name]
        if x.dtype.is_float():
            x, y = x.to_numpy(), y.to_numpy()
            ok = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= rtol * np.maximum(np.abs(x), np.abs(y)))
            bad = np.flatnonzero(~ok)
            _req(bad.size == 0, f"{what}.{name} differs at {a['date'][int(bad[0])] if bad.size else ''}: "
                 f"{x[bad[:1]]} (full data) vs {y[bad[:1]]} (truncated)")
        else:
            _req(x.equals(y), f"{what}.{name} differs: {x.to_list()[:5]} vs {y.to_list()[:5]}")


def check_no_lookahead(cfg: IndexConfig, market: MarketData, cut_date, rtol: float = 1e-12) -> bool:
    """Assert that results through ``cut_date`` do not depend on later data.

    Runs ``cfg`` on ``market`` and on ``market.truncate(cut_date)`` and asserts the nav, holdings and
    transactions frames are identical (floats to ``rtol`` relative) for dates <= cut_date. Returns
    False without comparing when the truncated run cannot exist: the window starts after
    ``cut_date``, or ``stable.asset`` / ``regime.asset`` was not yet observed by then; else True.
    """
    from backtest import run_backtest

    cut = np.datetime64(cut_date, "D")
    if cut < market.dates[0] or (cfg.backtest.start is not None and np.datetime64(cfg.backtest.start, "D") > cut):
        return False
    part_market = market.truncate(cut)
    known = set(part_market.asset_ids)
    if (cfg.stable.asset != "cash" and cfg.stable.asset not in known) or (
            cfg.regime.signal == "asset_price_sma" and cfg.regime.asset not in known):
        return False
    full, part = run_backtest(cfg, market), run_backtest(cfg, part_market)
    day = cut.astype(object)
    for what in ("nav", "holdings", "transactions"):
        keys = ["date"] if what == "nav" else ["date", "asset_id"]
        a, b = (getattr(r, what).filter(pl.col("date") <= day).sort(keys) for r in (full, part))
        _same(a, b, rtol, what)
    return True
