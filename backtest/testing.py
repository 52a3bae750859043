"""Invariant checkers for any backtest result (``index_engine.testing`` re-exports them; docs/testing.md).

``check_result_invariants`` re-derives every rule from the config and the market
(``index_engine.testing.rules``) instead of trusting the engine; ``check_no_lookahead`` compares a
run with one on data truncated after a date. They live in the replay package because they run and
read replays; the methodology package never imports the replay.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import polars as pl

from backtest.kernels import ORDER_DUST
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.methodology import Methodology, split
from index_engine.testing import regime as regime_rules
from index_engine.testing import rules
from index_engine.testing.rules import close, req


def check_result_invariants(result, market: MarketData, tol: float = 1e-9) -> None:
    """Assert every documented invariant of ``result = run_backtest(cfg, market)``; raises
    AssertionError naming the first violation (date, asset, values). The list is in docs/testing.md.

    NAV_pre at a trade date is reconstructed independently with the kernel's convention: the previous
    trade's quantities (before the first trade: initial_nav / stable price at the window start, in the
    stable sleeve) marked at each asset's last valid close on or before the date (the stable asset
    likewise; cash at $1). ``market`` is the panel given to ``run_backtest``: the spike filter
    (``prices.spike_factor``) is re-derived first, and every rule reads the filtered panel. The trade
    calendar, regime, eligibility, selection (incumbents = the previous trade's selection), weights,
    order costs and reasons are re-derived from the config;
    legs left off target by ``min_order_usd`` / ``max_participation`` must be in ``result.unfilled``.
    """
    if result.summary.get("rules"):
        raise ValueError(f"check_result_invariants re-derives the config's own rules; this run used custom rules "
                         f"({', '.join(result.summary['rules'])}): check it with check_no_lookahead instead")
    cfg, c = result.config, result.config.costs
    market, n_spikes = rules.spike_filtered(cfg, market)  # prices.spike_factor: the panel every rule reads
    warned = (getattr(result, "summary", None) or {}).get("warnings", {})
    req(warned.get("price_spike_filtered", {}).get("count", 0) == n_spikes,
        f"warning price_spike_filtered {warned.get('price_spike_filtered')}, re-derived {n_spikes} spikes")
    stable, lag = cfg.stable.asset, cfg.rebalance.decision_lag
    days = market.dates.astype("datetime64[D]").astype(object).tolist()
    px, first = rules.ffill(market.price), market.assets["first_date"].to_list()
    sp = np.ones(market.n_dates) if stable == "cash" else px[:, market.asset_index(stable)]
    mark = lambda a, t: sp[t] if a == stable else px[t, market.asset_index(a)]  # noqa: E731
    b, nav = cfg.backtest, result.nav.to_dicts()
    r0 = 0 if b.start is None else next(r for r, d in enumerate(days) if d >= b.start)
    r1 = len(days) - 1 if b.end is None else max(r for r, d in enumerate(days) if d <= b.end)
    req([n["date"] for n in nav] == days[r0 : r1 + 1], f"nav dates are not the window rows {r0}..{r1}")
    band = cfg.stable.depeg_band
    p_s = np.zeros(0) if stable == "cash" else market.price[r0: r1 + 1, market.asset_index(stable)]
    n_depeg = sum(1 for p in p_s if p > 0 and abs(p - 1.0) > band) if band is not None else 0  # closes off $1 ± band
    req(warned.get("stable_depeg", {}).get("count", 0) == n_depeg,
        f"warning stable_depeg {warned.get('stable_depeg')}, re-derived {n_depeg} closes outside $1 ± {band}")
    frames = (result.holdings, result.transactions, getattr(result, "unfilled", None))
    hold, txs, unf = (rules.by_day(f) for f in frames)
    unf = {d: {u["asset_id"]: u for u in us} for d, us in unf.items()}
    req(set(txs) | set(unf) <= set(hold), f"orders on non-trade dates {sorted((set(txs) | set(unf)) - set(hold))[:3]}")
    rb = cfg.rebalance
    lists = _membership_lists(cfg)
    sched, start = rules.scheduled(days, rb), max(r0, lag)
    recon = rules.reconstitutions(days, rb, sorted(lists))
    sample = sched | recon
    sample[min(start, len(days) - 1)] = True
    share_at = regime_rules.share_at(cfg, market, sample)
    apr = cfg.stable.yield_apr
    score = rules.ranking_cap(cfg, market)
    cost_cols = [k for k in ("fee", "platform_fee", "slippage", "gas") if k in nav[0]]
    book = {stable: b.initial_nav / sp[r0]}
    members: set = set()
    was_active, streak, prev_exp = False, {a: 0 for a in market.asset_ids}, None
    for t, n in zip(range(r0, r1 + 1), nav):
        day, share = n["date"], share_at[t]
        bull = share > 0
        label = "bull" if share >= 1 else "bear" if share <= 0 else "partial"
        req(n["regime"] == label and n.get("risk_share", share) == share,
            f"{day}: regime {n['regime']} / risk share {n.get('risk_share')}, re-derived {label} / {share}")
        req(math.isfinite(n["nav"]) and n["nav"] > 0, f"{day}: NAV {n['nav']} is not finite > 0")
        if t > r0 and stable in book:  # the stable sleeve's yield: (1 + apr)^(days / 365) per observation
            grown = book[stable] * (1.0 + apr) ** ((days[t] - days[t - 1]).days / 365.0)
            req(close(n.get("stable_yield", 0.0), (grown - book[stable]) * sp[t], 1e-9, n["nav"] * 1e-3),
                f"{day}: stable_yield {n.get('stable_yield')} != {(grown - book[stable]) * sp[t]}")
            book = {**book, stable: grown}
        pre, costs = sum(q * mark(a, t) for a, q in book.items()), sum(n[k] for k in cost_cols)
        req(close(n["costs"], costs, tol, n["nav"]),
                  f"{day}: costs {n['costs']} != sum of {cost_cols} {costs}")
        switched = t > start and bull != (share_at[t - 1] > 0)
        scaled = t > start and bull and share_at[t - 1] > 0 and share != share_at[t - 1]
        first_trade = bull and t == start
        planned = t >= start and (switched or scaled or sched[t] or recon[t] or first_trade)
        skipped = bool(n.get("rebalance_skipped", False))
        req((day in hold) == (planned and not skipped),
                  f"{day}: trade={day in hold} but regime={n['regime']} switched={switched} scheduled={sched[t]}")
        if not planned:
            req(close(n["nav"], pre, tol), f"{day}: NAV {n['nav']} != marked holdings {pre}")
            continue
        # the members this trade targets, re-derived (reconstitutions, reweights, time buffer, lists)
        starting = first_trade or (switched and bull)
        reselect = rb.reconstitution is None or recon[t] or starting
        listed = _listed_at(lists, day, market)
        elig = rules.eligible(cfg, market, t, first, None if listed is None else listed[0])
        order = rules.ranked(cfg, market, t, elig, score)
        if reselect and cfg.selection.qualify_reviews > 1:
            top = set(order[: cfg.selection.entry])
            streak = {a: (s + 1 if a in top else 0) for a, s in streak.items()}
        qualified = {a for a, s in streak.items() if s >= cfg.selection.qualify_reviews or
                     cfg.selection.qualify_reviews == 1}
        if not bull:
            members, was_active = set(), False
        elif reselect or not was_active:
            members = rules.selection(cfg, order, members if was_active else set(), qualified, standing=was_active)
            was_active = True
        elif cfg.selection.replace_dropped:
            for a in sorted(members):
                if a not in order:
                    members = (members - {a}) | set([x for x in order if x not in members][:1])
        exp = members & set(order)
        if skipped:
            req(not (switched or scaled or starting or recon[t]) and exp == prev_exp and rb.drift_band > 0,
                      f"{day}: a drift-band skip on a date that must trade (switch/start/reconstitution/new members)")
            req(close(n["nav"], pre, tol), f"{day}: skipped, but NAV {n['nav']} != marked holdings {pre}")
            continue
        prev_exp = exp
        req(close(pre - costs, n["nav"], tol), f"{day}: NAV_pre {pre} - costs {costs} != NAV_post {n['nav']}")
        hs, frozen = hold[day], unf.get(day, {})
        new, w_new = {h["asset_id"]: h["quantity"] for h in hs}, {h["asset_id"]: h["weight"] for h in hs}
        req(len(new) == len(hs), f"{day}: two holdings rows for one asset")
        req(abs(sum(w_new.values()) - 1) <= tol, f"{day}: holdings weights sum to {sum(w_new.values())}")
        for h in hs:
            a, where = h["asset_id"], f"{day} {h['asset_id']}"
            req(h["weight"] >= 0 and h["quantity"] >= 0, f"{where}: negative weight/quantity {h}")
            req(h["price"] == mark(a, t), f"{where}: holding price {h['price']} != last close {mark(a, t)}")
            req(close(h["value"], h["quantity"] * h["price"], tol), f"{where}: value != quantity × price")
            req(abs(h["weight"] - h["value"] / n["nav"]) <= tol, f"{where}: weight {h['weight']} != value / NAV")
        risk = {a: w for a, w in w_new.items() if a != stable}
        req(n["n_holdings"] == len(risk), f"{day}: n_holdings {n['n_holdings']} != {len(risk)}")
        req(frozen or not exp or abs(sum(risk.values()) - share) <= tol,
            f"{day}: risk weights sum to {sum(risk.values())}, the risk share is {share}")
        for a in set(risk) - set(frozen):
            cat = market.categories[market.asset_index(a)]
            req(cat not in cfg.universe.exclude_categories, f"{day}: holds {a} of excluded category {cat}")
            req(elig[market.asset_index(a)], f"{day}: holds {a}, ineligible at decision row {t - lag} / trade row {t}")
        req(set(risk) - set(frozen) <= exp and (frozen or exp <= set(risk)),  # frozen sells may starve buys
             f"{day}: holds {sorted(risk)}, expected {sorted(exp)}, unfilled {sorted(frozen)}")
        if risk and not frozen:
            rules.check_weights(cfg, market, t, {a: w / share for a, w in risk.items()}, str(day), score,
                                None if listed is None else listed[1])
        turnover = 0.5 * sum(abs(w_new.get(a, 0.0) - book.get(a, 0.0) * mark(a, t) / pre) for a in set(book) | set(new))
        req(abs(turnover - n["turnover"]) <= tol, f"{day}: turnover {n['turnover']} != {turnover}")
        sums: dict[str, float] = defaultdict(float)
        signed: dict[str, float] = {}
        for x in txs.get(day, []):
            a, q, where = x["asset_id"], x["notional"], f"{day} {x['asset_id']}"
            req(a != "cash" and a not in signed, f"{where}: an order in the cash sleeve or two orders in one asset")
            req(x["quantity"] >= 0 and x["side"] in ("buy", "sell"), f"{where}: bad quantity/side {x}")
            req(close(q, x["quantity"] * x["price"], tol), f"{where}: notional != quantity × price")
            req(x["price"] == mark(a, t), f"{where}: traded at {x['price']}, last close {mark(a, t)}")
            slip, gas, cap = rules.order_costs(cfg, market, t, market.asset_index(a), q, px)
            for k, want in (("fee", c.fee_bps / 1e4 * q), ("platform_fee", c.platform_fee_bps / 1e4 * q),
                            ("slippage", slip), ("gas", gas)):
                req(close(x.get(k, 0.0), want, 1e-6 if k == "slippage" else tol, tol),
                    f"{where}: {k} {x.get(k)} != {want}")
                sums[k] += x.get(k, 0.0)
            if a != stable:
                capped = frozen.get(a, {}).get("reason") == "max_participation"  # may fall below min_order
                req((capped or q >= c.min_order_usd * (1 - tol)) and q <= cap + tol * n["nav"],
                    f"{where}: notional {q} outside [min_order_usd {c.min_order_usd}, participation cap {cap}]")
                req(x["side"] == "sell" or elig[market.asset_index(a)], f"{where}: bought an ineligible/unpriced asset")
            signed[a] = q / x["price"] if x["side"] == "buy" else -q / x["price"]
            old = book.get(a, 0.0)
            # no float-residue order: a resize of a kept position above ORDER_DUST of it, a stable order above
            # ORDER_DUST of NAV_pre (entries and exits are never dust)
            size = pre if a == stable else max(old * mark(a, t), new.get(a, 0.0) * mark(a, t)) if old and a in new \
                else 0.0
            req(q > ORDER_DUST * size, f"{where}: a dust order of {q} USD (position {size})")
            zero_target = (a not in exp) if a != stable else bool(exp) and share >= 1
            why = ("entry" if t == start and bull else "delisted" if old and a != stable and
                   not market.price[t, market.asset_index(a)] > 0 else ("regime_entry" if bull else "regime_exit")
                   if switched else "entry" if not old else "exit" if zero_target else "regime_scale" if scaled
                   else "reweight")
            req(x["reason"] == why, f"{where}: reason {x['reason']!r}, expected {why!r}")
        for k in cost_cols:
            req(close(sums[k], n[k], tol, n["nav"]), f"{day}: transactions' {k} {sums[k]} != nav {k} {n[k]}")
        stale = rules.stale_positions(cfg, market, t, [a for a in book if a != stable])
        req(stale == {a for a, u in frozen.items() if u["reason"] == "stale_price"},
            f"{day}: stale_price rows {sorted(a for a, u in frozen.items() if u['reason'] == 'stale_price')}, "
            f"re-derived {sorted(stale)} (prices.max_stale_days={cfg.prices.max_stale_days})")
        for a, u in frozen.items():
            q = u["filled_notional"]
            req(u["reason"] in ("min_order", "max_participation", "unfunded", "stale_price"),
                f"{day} {a}: unfilled reason {u['reason']!r}")
            if u["reason"] == "stale_price":  # kept as it was: a sale of the whole position was due
                req(q == 0 and u["side"] == "sell" and close(new.get(a, 0.0), book[a], tol)
                    and close(u["requested_notional"], book[a] * mark(a, t), tol), f"{day} {a}: bad stale leg {u}")
                continue
            if u["reason"] == "unfunded":  # the fillable orders could not pay their own costs: no trade at all
                req(q == 0 and not txs.get(day), f"{day} {a}: an unfunded trade placed orders")
                continue
            col = market.asset_index(a)
            cap_requested = rules.order_costs(cfg, market, t, col, u["requested_notional"], px)[2]
            req(u["reason"] == "max_participation" or (q == 0 and (u["requested_notional"] < c.min_order_usd or
                                                                   cap_requested < c.min_order_usd)),
                f"{day} {a}: skipped for min_order but requested {u['requested_notional']} / filled {q}")
            req(u["reason"] == "min_order" or (u["requested_notional"] > q and close(
                q, rules.order_costs(cfg, market, t, col, q, px)[2], tol, n["nav"])), f"{day} {a}: bad fill {u}")
        for a in (set(book) | set(new)) - {"cash"}:
            d, scale = new.get(a, 0.0) - book.get(a, 0.0), max(book.get(a, 0.0), new.get(a, 0.0))
            req(abs(signed.get(a, 0.0) - d) <= tol * scale, f"{day} {a}: order {signed.get(a)} != quantity change {d}")
        book = new


def _membership_lists(cfg: IndexConfig) -> dict:
    """{list date: {asset_id: weight or None}} read from ``universe.membership`` (plain polars)."""
    path = cfg.universe.membership
    if not path:
        return {}
    frame = pl.read_csv(path, try_parse_dates=True) if str(path).endswith(".csv") else pl.read_parquet(path)
    frame = frame.with_columns(pl.col("date").cast(pl.Date))
    out: dict = {}
    for rec in frame.iter_rows(named=True):
        out.setdefault(rec["date"], {})[rec["asset_id"]] = rec.get("weight")
    return out


def _listed_at(lists: dict, day, market: MarketData):
    """((N,) bool listed, {asset_id: weight}) of the list in effect on ``day`` (none listed before the
    first list); None without lists."""
    if not lists:
        return None
    dates = [d for d in sorted(lists) if d <= day]
    if not dates:
        return np.zeros(market.n_assets, bool), {}
    chosen = lists[dates[-1]]
    listed = np.isin(market.asset_ids, list(chosen))
    weights = {a: w for a, w in chosen.items() if w is not None}
    return listed, weights


def _same(a: pl.DataFrame, b: pl.DataFrame, rtol: float, what: str) -> None:
    req(a.columns == b.columns and a.height == b.height, f"{what}: shape {a.shape} (full) vs {b.shape} (truncated)")
    for name in a.columns:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= rtol * np.maximum(abs(x), abs(y))) \
            if a[name].dtype.is_float() else x == y
        bad = np.flatnonzero(~same)
        req(bad.size == 0, f"{what}.{name} differs on {a['date'][int(bad[0])] if bad.size else ''}: "
             f"{x[bad[:1]]} (full data) vs {y[bad[:1]]} (truncated)")


def check_no_lookahead(spec: IndexConfig | Methodology, market: MarketData, cut_date, rtol: float = 1e-12) -> bool:
    """Assert that results through ``cut_date`` do not depend on later data.

    ``spec`` is a config or a ``Methodology`` with custom rules (a numba rule that indexes past its
    arrays is caught here). Runs it on ``market`` and on ``market.truncate(cut_date)`` and asserts
    that the nav, holdings,
    transactions and unfilled rows dated <= cut_date are identical (floats to ``rtol`` relative).
    Returns False without comparing when the truncated run cannot exist (cut before the data or the
    backtest start, or stable.asset / regime.asset / costs.gas_asset unseen by then), else True.
    """
    from backtest.engine import run_backtest

    cfg, _ = split(spec)
    cut = np.datetime64(cut_date, "D")
    if cut < market.dates[0] or (cfg.backtest.start is not None and np.datetime64(cfg.backtest.start, "D") > cut):
        return False
    part_market = market.truncate(cut)
    followed = {p.asset for p in cfg.regime.parts() if p.asset and p.signal in regime_rules.FOLLOWS_ASSET}
    needed = ({cfg.stable.asset} - {"cash"}) | followed
    if not needed | ({cfg.costs.gas_asset} if cfg.costs.gas_units else set()) <= set(part_market.asset_ids):
        return False
    full, part = run_backtest(spec, market), run_backtest(spec, part_market)
    for what in ("nav", "holdings", "transactions", "unfilled"):
        if getattr(full, what, None) is not None:
            keys = ["date"] if what == "nav" else ["date", "asset_id"]
            a, b = (getattr(r, what).filter(pl.col("date") <= cut.astype(object)).sort(keys) for r in (full, part))
            _same(a, b, rtol, what)
    return True
