"""Property tests: random markets × random configs through the whole engine (index_engine.testing).

The checkers re-derive every documented rule independently of the engine's code (see
docs/testing.md); the tamper and cheat tests below make sure they can fail.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import backtest.engine
from backtest import BacktestError, run_backtest
from index_engine import IndexConfig, build_plan
from index_engine.data import panel_from_dense
from index_engine.testing import (
    CALENDARS,
    check_no_lookahead,
    check_result_invariants,
    market_and_config,
    markets,
    rules,
)

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(market, cfg):
    """run_backtest, skipping runs whose costs exceed the portfolio (a documented error)."""
    try:
        return run_backtest(cfg, market)
    except BacktestError as exc:
        msg = str(exc)
        assert "exceed the portfolio value" in msg, msg
        assume(False)


# ---- the generators produce what they promise ---------------------------------------------------------
@settings(FAST, max_examples=60)
@given(markets(), st.data())
def test_markets_are_valid_panels(market, data):
    assert market.n_assets >= 2 and market.n_dates >= 20
    assert (np.diff(market.dates.astype(np.int64)) > 0).all()
    assert list(market.asset_ids) == sorted(market.asset_ids)
    finite = np.isfinite(market.price)
    assert (market.price[finite] > 0).all()
    assert (market.market_cap[np.isfinite(market.market_cap)] >= 0).all()
    assert (market.volume[np.isfinite(market.volume)] >= 0).all()
    assert finite.any(axis=0).all(), "every asset has at least one price"
    assert "stablecoin" in set(market.categories) and finite[:, market.categories == "stablecoin"].all(axis=0).any()
    cal = data.draw(st.sampled_from(CALENDARS))
    m = data.draw(markets(calendar=cal, stablecoins=False, excluded=False, volume=False, max_days=40))
    step = np.diff(m.dates.astype(np.int64))
    assert {"daily": (step == 1).all(), "weekly": (step == 7).all(), "irregular": step.max() <= 3}[cal]
    assert not np.isin(m.categories, ["stablecoin", "wrapped", "pegged"]).any() and np.isnan(m.volume).all()


# ---- the whole engine ---------------------------------------------------------------------------------
@settings(FAST, max_examples=150)
@given(market_and_config())
def test_backtest_invariants(market_config):
    market, cfg = market_config
    check_result_invariants(run(market, cfg), market)


@settings(FAST, max_examples=100)
@given(market_and_config(), st.data())
def test_no_lookahead(market_config, data):
    market, cfg = market_config
    cut = market.dates[data.draw(st.integers(0, market.n_dates - 1), label="cut row")]
    run(market, cfg)  # skip configs whose gas exhausts the NAV
    assume(check_no_lookahead(cfg, market, cut))


# ---- the plan alone (no replay): fast, so more examples -------------------------------------------------
def _valid(x):
    return np.isfinite(x) & (x > 0)


@settings(FAST, max_examples=150)
@given(market_and_config())
def test_selection_never_holds_an_excluded_or_unpriced_asset(market_config):
    market, cfg = market_config
    plan = build_plan(cfg, market)
    k, i = np.nonzero(plan.weights > 0)
    d, t = plan.decision_rows[k], plan.trade_rows[k]
    assert (d >= 0).all()
    assert not np.isin(market.categories[i], cfg.universe.exclude_categories).any()
    assert _valid(market.price[d, i]).all() and _valid(market.market_cap[d, i]).all()
    assert _valid(market.price[t, i]).all(), "bought at a missing trade-date price"
    assert (i != plan.stable_col).all()
    if cfg.universe.assets is not None:
        assert np.isin(market.asset_ids[i], cfg.universe.assets).all()


@settings(FAST, max_examples=150)
@given(market_and_config())
def test_caps_hold_and_weights_sum_to_one(market_config):
    market, cfg = market_config
    plan = build_plan(cfg, market)
    n_sel = (plan.weights > 0).sum(axis=1)
    total = plan.weights.sum(axis=1)
    share = plan.share_at[plan.trade_rows]
    bull = plan.regime_at[plan.trade_rows] == 1
    assert ((share > 0) == bull).all()
    assert (total[~bull] == 0).all(), "bear trades hold only the stable sleeve"
    # graduated exposure: the selection's weights scaled by the risk share, the rest in the stable sleeve
    np.testing.assert_allclose(total[n_sel > 0], share[n_sel > 0], rtol=0, atol=1e-12)
    wc = cfg.weighting
    if wc.rank_caps or wc.min_weight or wc.category_caps or wc.fixed or cfg.universe.membership:
        # every bound of the general problem, re-derived (tiered caps, floors, category caps, fixed weights)
        score = rules.ranking_cap(cfg, market)
        for k in np.flatnonzero(n_sel > 0):
            cols, w = plan.targets.row(k)
            rules.check_weights(cfg, market, int(plan.trade_rows[k]), dict(zip(market.asset_ids[cols], w / share[k])),
                                f"trade {k}", score)
        return
    cap = wc.max_weight
    if cap is not None and cap < 1:
        weights = plan.weights / np.where(share > 0, share, 1.0)[:, None]
        feasible = n_sel * cap >= 1
        assert (weights[feasible] <= cap * (1 + 1e-12)).all()
        for row, n in zip(weights[~feasible & (n_sel > 0)], n_sel[~feasible & (n_sel > 0)]):
            np.testing.assert_allclose(row[row > 0], 1.0 / n, rtol=1e-12)
        assert ("cap_infeasible" in {w.kind for w in plan.warnings}) == bool((~feasible & (n_sel > 0)).any())


# ---- the checkers can fail ------------------------------------------------------------------------------
def _tamper(result, kind: str):
    """A copy of ``result`` with one small corruption, or None when there is nothing to corrupt."""
    h, x, nav = result.holdings, result.transactions, result.nav
    bump = lambda frame, col, row, f: frame.with_columns(  # noqa: E731
        pl.when(pl.int_range(pl.len()) == row).then(pl.col(col) * f).otherwise(pl.col(col)).alias(col))
    if kind == "weight" and h.height:
        return result.with_frames(holdings=h.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(pl.col("weight") + 1e-6).otherwise(pl.col("weight"))))
    if kind == "quantity" and h.height:
        return result.with_frames(holdings=bump(h, "quantity", h.height - 1, 1 + 1e-6))
    if kind == "nav":
        return result.with_frames(nav=bump(nav, "nav", nav.height - 1, 1 + 1e-6))
    if kind == "fee" and x.height:
        big = int(np.argmax(x["notional"].to_numpy()))
        return result.with_frames(transactions=x.with_columns(
            pl.when(pl.int_range(pl.len()) == big).then(pl.col("fee") + 1e-6 * pl.col("notional"))
            .otherwise(pl.col("fee")).alias("fee")))
    if kind == "drop_order" and x.height:
        return result.with_frames(transactions=x.slice(1))
    if kind == "reason" and x.height:
        flipped = pl.when(pl.col("reason") == "entry").then(pl.lit("reweight")).otherwise(pl.lit("entry"))
        return result.with_frames(transactions=x.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(flipped).otherwise(pl.col("reason")).alias("reason")))
    if kind == "regime" and nav.height:
        flipped = pl.when(pl.col("regime") == "bull").then(pl.lit("bear")).otherwise(pl.lit("bull"))
        return result.with_frames(nav=nav.with_columns(
            pl.when(pl.int_range(pl.len()) == nav.height - 1).then(flipped).otherwise(pl.col("regime")).alias("regime")))
    if kind == "risk_share" and nav.height:
        return result.with_frames(nav=bump(nav, "risk_share", nav.height - 1, 0.5))
    if kind == "drop_holding" and (h["asset_id"] != result.config.stable.asset).any():
        return result.with_frames(holdings=h.filter(pl.int_range(pl.len()) != int(
            np.argmax((h["asset_id"] != result.config.stable.asset).to_numpy()))))
    return None


@settings(FAST, max_examples=60)
@given(market_and_config(), st.sampled_from(["weight", "quantity", "nav", "fee", "drop_order", "reason",
                                             "drop_holding", "regime"]))
def test_check_result_invariants_detects_corruption(market_config, kind):
    market, cfg = market_config
    result = run(market, cfg)
    check_result_invariants(result, market)
    bad = _tamper(result, kind)
    assume(bad is not None)
    with pytest.raises(AssertionError):
        check_result_invariants(bad, market)


def make_market_with_volume():
    """One asset at $1 with $100 of daily volume for 3 days."""
    return panel_from_dense(np.datetime64("2024-01-01") + np.arange(3), np.array(["a"], dtype=object),
                            np.ones((3, 1)), np.full((3, 1), 1e6), np.full((3, 1), 100.0), pl.DataFrame({"asset_id": ["a"]}))


def _survivor_market():
    """'big' is the largest asset until it dies on day 20; 'small' survives."""
    t = 30
    price = np.ones((t, 2))
    price[21:, 0] = np.nan
    cap = np.column_stack([np.full(t, 1e9), np.full(t, 1e6)])
    return panel_from_dense(np.datetime64("2024-01-01") + np.arange(t), np.array(["big", "small"], dtype=object),
                            price, cap, None, pl.DataFrame({"asset_id": ["big", "small"]}))


def test_check_no_lookahead_detects_survivorship_bias(monkeypatch):
    market = _survivor_market()
    cfg = IndexConfig.from_dict({"selection": {"top_n": 1}, "regime": {"signal": "none"},
                                 "rebalance": {"decision_lag": 0}})
    assert check_no_lookahead(cfg, market, market.dates[10])
    real = backtest.engine.build_plan

    def survivors_only(cfg, mkt, *args):  # the classic bias: rank only assets alive at the end of the data
        alive = np.isfinite(mkt.price[-1])
        masked = panel_from_dense(mkt.dates, mkt.asset_ids, mkt.price, np.where(alive, mkt.market_cap, np.nan),
                                  mkt.volume, mkt.assets.drop(["first_date", "last_date"]))
        return real(cfg, masked, *args)

    monkeypatch.setattr(backtest.engine, "build_plan", survivors_only)
    with pytest.raises(AssertionError, match="differs"):
        check_no_lookahead(cfg, market, market.dates[10])


# ---- regressions -----------------------------------------------------------------------------------------
def test_fully_invested_trades_place_no_stable_sleeve_order():
    """Weights 1/6, 2/3, 1/6 sum to 1 − 1.1e-16 in float: that residue once became a stable-sleeve
    position and a dust order charged the full gas_usd at every rebalance."""
    t = 10  # 2024-01-01 is a Monday: weekly trades on rows 0 and 7
    ids = np.array(["a", "b", "c", "usd"], dtype=object)
    market = panel_from_dense(np.datetime64("2024-01-01") + np.arange(t), ids, np.ones((t, 4)),
                              np.tile([1e6, 4e6, 1e6, 1e9], (t, 1)), None,
                              pl.DataFrame({"asset_id": list(ids), "category": ["other"] * 3 + ["stablecoin"]}))
    cfg = IndexConfig.from_dict({"selection": {"top_n": 3}, "regime": {"signal": "none"}, "stable": {"asset": "usd"},
                                 "costs": {"fee_bps": 0, "gas_usd": 1.0}, "rebalance": {"decision_lag": 0}})
    result = run_backtest(cfg, market)
    check_result_invariants(result, market)
    assert "usd" not in result.holdings["asset_id"].to_list()
    assert result.transactions.filter(pl.col("asset_id") == "usd")["notional"].to_list() == [1e6]  # the initial sale


# ---- regressions of engine bugs these properties found (frozen legs, unfunded trades, capped impact) -------
def _frozen_legs_market():
    rng = np.random.default_rng(0)
    t = 8  # 2024-01-01 is a Monday: weekly trades on rows 0 and 7
    price = np.column_stack([np.ones(t), np.exp(np.cumsum(rng.normal(0, 0.05, t))), 1 + rng.normal(0, 0.001, t)])
    ids = np.array(["a", "b", "usd"], dtype=object)
    return panel_from_dense(np.datetime64("2024-01-01") + np.arange(t), ids, price, price * [1e3, 1e10, 1e9], None,
                            pl.DataFrame({"asset_id": list(ids), "category": ["other", "other", "stablecoin"]}))


def test_capped_sells_never_leave_a_negative_position():
    t = 8  # 2024-01-01 is a Monday: weekly trades on rows 0 and 7
    cap = np.tile([2e9, 1e9], (t, 1))
    cap[3:, 0] = 5e8  # 'b' overtakes 'a' from 2024-01-04 ...
    vol = np.full((t, 2), 1e7)
    vol[3:, 0] = 100.0  # ... and 'a' turns illiquid: its exit is capped at 5 % of $100
    ids = np.array(["a", "b"], dtype=object)
    market = panel_from_dense(np.datetime64("2024-01-01") + np.arange(t), ids, np.ones((t, 2)), cap, vol,
                              pl.DataFrame({"asset_id": list(ids)}))
    cfg = IndexConfig.from_dict({
        "selection": {"top_n": 1}, "regime": {"signal": "none"}, "rebalance": {"decision_lag": 0},
        "backtest": {"initial_nav": 1000.0},
        "costs": {"fee_bps": 0, "gas_usd": 10.0, "max_participation": 0.05, "slippage": {"adv_window": 1}}})
    check_result_invariants(run_backtest(cfg, market), market)


def test_frozen_legs_never_log_gas_they_do_not_charge():
    market = _frozen_legs_market()  # "a" (weight 1e-7) and b's 3-dollar reweight are below min_order_usd
    cfg = IndexConfig.from_dict({"selection": {"top_n": 2}, "regime": {"signal": "none"}, "stable": {"asset": "usd"},
                                 "rebalance": {"decision_lag": 0},
                                 "costs": {"fee_bps": 0, "gas_usd": 1.0, "min_order_usd": 100.0}})
    result = run_backtest(cfg, market)
    check_result_invariants(result, market)  # NAV_pre − costs == NAV_post on 2024-01-08


def test_no_order_below_min_order_usd():
    market = make_market_with_volume()
    cfg = IndexConfig.from_dict({"selection": {"top_n": 1}, "regime": {"signal": "none"},
                                 "rebalance": {"decision_lag": 0}, "backtest": {"initial_nav": 1000.0},
                                 "costs": {"fee_bps": 0, "min_order_usd": 1.0, "max_participation": 0.001}})
    result = run_backtest(cfg, market)  # the $1000 buy is cut to 0.1 % of a $100 ADV = $0.10
    assert (result.transactions["notional"] >= 1.0).all(), result.transactions


def test_sqrt_impact_solve_converges_or_names_the_cause():
    t, rng = 8, np.random.default_rng(1)  # two assets with $10 of daily volume; 'a' doubles in a week
    price = np.column_stack([np.linspace(1, 2, t), np.ones(t)]) * np.exp(rng.normal(0, 0.05, (t, 2)))
    ids = np.array(["a", "b"], dtype=object)
    market = panel_from_dense(np.datetime64("2024-01-01") + np.arange(t), ids, price, price * 1e9,
                              np.full((t, 2), 10.0), pl.DataFrame({"asset_id": list(ids)}))
    cfg = IndexConfig.from_dict({
        "selection": {"top_n": 2}, "weighting": {"scheme": "equal"}, "regime": {"signal": "none"},
        "rebalance": {"decision_lag": 0}, "backtest": {"initial_nav": 10000.0},
        "costs": {"fee_bps": 0, "slippage": {"model": "sqrt_impact", "k": 2.0, "vol_window": 5, "adv_window": 5}}})
    try:
        check_result_invariants(run_backtest(cfg, market), market)
    except BacktestError as exc:
        assert "please report" not in str(exc), exc


def test_weights_do_not_depend_on_a_fixed_asset_listed_later():
    """Regression (check_no_lookahead found it on a Hypothesis example): a weighting.fixed asset that exists
    only later in the panel switched every earlier trade to the general water-filling path, whose weights
    differ from the uniform-cap path in the last bits, so a run differed from the same run on data truncated
    before that listing (amplified to 1e-12 in the requested notional of a small unfilled order)."""
    rng = np.random.default_rng(3)
    t = 30
    price = np.exp(np.cumsum(rng.normal(0, 0.05, (t, 4)), axis=0))
    price[:20, 3] = np.nan  # "late" is listed on day 20
    cap = price * [3e9, 7e8, 1.1e8, 5e9]
    ids = np.array(["a", "b", "c", "late"], dtype=object)
    market = panel_from_dense(np.datetime64("2024-01-01") + np.arange(t), ids, price, cap, None,
                              pl.DataFrame({"asset_id": list(ids)}))
    cfg = IndexConfig.from_dict({"selection": {"top_n": 3}, "regime": {"signal": "none"},
                                 "weighting": {"fixed": {"late": 0.5}, "max_weight": 0.6},
                                 "rebalance": {"frequency": "every_observation", "decision_lag": 0}})
    full, part = build_plan(cfg, market), build_plan(cfg, market.truncate(market.dates[15]))
    for k in range(16):
        assert full.targets.row(k)[1].tolist() == part.targets.row(k)[1].tolist()
    assert check_no_lookahead(cfg, market, market.dates[15])
