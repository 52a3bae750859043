"""The cost model: platform fee, square-root impact, gas priced in a native asset, minimum order size,
participation caps — each with the exact self-financing identity."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest import BacktestError, run_backtest
from backtest.kernels import Legs, rebalance_legs, solve_post_trade_value
from index_engine import ConfigError, IndexConfig
from tests._helpers import make_market


def cfg(**sections) -> IndexConfig:
    base = {
        "regime": {"signal": "none"},
        "rebalance": {"frequency": "every_observation", "decision_lag": 0},
        "selection": {"top_n": 1},
        "costs": {"fee_bps": 0},
        "backtest": {"initial_nav": 1000.0},
    }
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    return IndexConfig.from_dict(base)


def test_solver_with_square_root_impact_hits_the_root():
    a = np.array([0.6, 0.4, 0.0])
    b = np.array([0.0, 0.0, -1000.0])
    lin = np.array([0.001, 0.001, 0.0])
    imp = np.array([0.002, 0.0005, 0.0])
    gas = np.array([1.0, 1.0, 0.0])
    x, ok = solve_post_trade_value(a, b, lin, imp, np.inf, gas, 1000.0)
    cost = sum(lin[j] * abs(a[j] * x + b[j]) + imp[j] * abs(a[j] * x + b[j]) ** 1.5 + gas[j] for j in range(2))
    assert ok and x + cost == pytest.approx(1000.0, rel=1e-13)
    # with the impact rate capped at 1 %, the costs are linear beyond the cap and the root is still exact
    x, ok = solve_post_trade_value(a, b, lin, imp, 0.01, gas, 1000.0)
    cost = sum(lin[j] * abs(a[j] * x + b[j]) + min(imp[j] * abs(a[j] * x + b[j]) ** 0.5, 0.01) * abs(a[j] * x + b[j])
               + gas[j] for j in range(2))
    assert ok and x + cost == pytest.approx(1000.0, rel=1e-13)


def test_platform_fee_is_charged_and_logged_separately():
    r = run_backtest(cfg(costs={"fee_bps": 10, "platform_fee_bps": 40}), make_market(np.ones((1, 1))))
    x = 1000.0 / 1.005
    tx = r.transactions.row(0, named=True)
    assert tx["fee"] == pytest.approx(0.001 * x, rel=1e-14)
    assert tx["platform_fee"] == pytest.approx(0.004 * x, rel=1e-14)
    assert r.stats["costs_platform_fee"] == pytest.approx(0.004 * x, rel=1e-14)
    assert r.nav["costs"][0] == pytest.approx(1000.0 - x, rel=1e-10)


def _liquid_market(t=60, vol_usd=1e6):
    rng = np.random.default_rng(2)
    price = np.exp(np.cumsum(rng.normal(0, 0.03, (t, 3)), axis=0))
    volume = np.full((t, 3), vol_usd)
    volume[:, 2] = np.nan  # no volume data for a02
    return make_market(price, price * [[30.0, 20.0, 10.0]], volume=volume)


def test_sqrt_impact_rate_and_fallback_for_assets_without_volume():
    market = _liquid_market()
    c = cfg(selection={"top_n": 3}, rebalance={"frequency": "weekly"}, backtest={"start": "2024-01-29"},
            costs={"slippage": {"model": "sqrt_impact", "k": 0.7, "spread_bps": 10, "vol_window": 20,
                                "adv_window": 20, "fallback_bps": 80}})
    r = run_backtest(c, market)
    first = r.transactions.filter(pl.col("date") == r.transactions["date"][0])
    row = market.date_index(np.datetime64("2024-01-29"))
    logret = np.diff(np.log(market.price[row - 19: row + 1, 0]))
    sigma = logret.std(ddof=1)
    a00 = first.filter(pl.col("asset_id") == "a00").row(0, named=True)
    q = a00["notional"]
    assert a00["slippage"] == pytest.approx(q * (0.0005 + 0.7 * sigma * np.sqrt(q / 1e6)), rel=1e-9)
    a02 = first.filter(pl.col("asset_id") == "a02").row(0, named=True)
    assert a02["slippage"] == pytest.approx(0.008 * a02["notional"], rel=1e-12)
    assert r.summary["warnings"]["cost_fallback"]["examples"] == ["a02"]
    # the identity still holds with the non-linear cost
    assert r.nav.filter(pl.col("date") == a00["date"])["nav"][0] == pytest.approx(1000.0 - first["fee"].sum()
                                                                                  - first["slippage"].sum(), rel=1e-12)


def test_impact_grows_with_order_size():
    market = _liquid_market()
    base = dict(selection={"top_n": 2}, backtest={"start": "2024-01-29", "end": "2024-01-29"},
                costs={"slippage": {"model": "sqrt_impact", "k": 1.0, "vol_window": 20, "adv_window": 20}})
    small = run_backtest(cfg(**base), market).transactions
    big = run_backtest(cfg(**{**base, "backtest": {**base["backtest"], "initial_nav": 1e7}}), market).transactions
    rate = lambda tx: (tx["slippage"] / tx["notional"]).to_numpy()  # noqa: E731
    assert (rate(big) > 50 * rate(small)).all()  # sqrt(1e7 / 1e3) = 100 × the impact rate


def test_gas_in_native_units_is_priced_at_the_trade_close():
    price = np.array([[2000.0, 1.0], [3000.0, 1.0]])
    market = make_market(price, price * [[1.0, 1e6]], ids=["ethereum", "a01"])
    c = cfg(universe={"assets": ["a01"]}, costs={"gas_units": 100_000, "gas_price_gwei": 20})
    r = run_backtest(c, market)
    assert r.transactions["gas"].to_list() == [pytest.approx(100_000 * 20e-9 * 2000.0)]
    with pytest.raises(ConfigError, match="go together"):
        cfg(costs={"gas_units": 10})


def test_min_order_skips_small_orders_and_reports_them():
    price = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.04]])
    market = make_market(price, np.array([[2.0, 1.0]] * 3))
    c = cfg(selection={"top_n": 2}, weighting={"scheme": "equal"}, costs={"min_order_usd": 15})
    r = run_backtest(c, market)
    # row 2: a01 drifted to 520/1020; rebalancing to 50/50 needs two orders of $10 < $15 → skipped
    assert r.transactions.filter(pl.col("date") == r.nav["date"][2]).height == 0
    un = r.unfilled
    assert un["reason"].to_list() == ["min_order", "min_order"]
    assert un["filled_notional"].to_list() == [0.0, 0.0]
    assert un["requested_notional"].to_numpy() == pytest.approx([10.0, 10.0])


def test_max_participation_caps_orders_and_keeps_the_rest_in_the_sleeve():
    t = 5
    price = np.ones((t, 2))
    volume = np.array([[1e9, 200.0]] * t)
    market = make_market(price, np.array([[2.0, 1.0]] * t), volume=volume)
    c = cfg(selection={"top_n": 2}, weighting={"scheme": "equal"},
            costs={"max_participation": 0.5, "slippage": {"model": "fixed_bps", "adv_window": 1}})
    r = run_backtest(c, market)
    first = r.transactions.filter(pl.col("date") == r.nav["date"][0])
    assert first.filter(pl.col("asset_id") == "a01")["notional"][0] == pytest.approx(100.0)  # 0.5 × ADV 200
    assert first.filter(pl.col("asset_id") == "a00")["notional"][0] == pytest.approx(500.0)  # still its target
    cash = r.holdings.filter((pl.col("date") == r.nav["date"][0]) & (pl.col("asset_id") == "cash"))
    assert cash["value"][0] == pytest.approx(400.0)  # the unfilled part stays in the stable sleeve
    un = r.unfilled.filter(pl.col("date") == r.nav["date"][0])
    assert un["reason"].to_list() == ["max_participation"] and un["requested_notional"][0] == pytest.approx(500.0)
    # the next days fill more of a01 until the target is reached
    held = r.holdings.filter(pl.col("asset_id") == "a01")["value"].to_list()
    assert held[:3] == pytest.approx([100.0, 200.0, 300.0])


def _legs(h, w, cap, h_s=0.0, w_s=0.0, gas=0.0, nav=1000.0):
    m = len(w)
    return rebalance_legs(Legs(h=np.asarray(h, float), w=np.asarray(w, float), lin=np.zeros(m), impact=np.zeros(m),
                               cap=np.asarray(cap, float), h_s=h_s, w_s=w_s, lin_s=0.0, impact_s=0.0, gas=gas,
                               gas_s=0.0, max_impact=np.inf, min_order=0.0, nav_pre=nav))


def test_rebalance_legs_freeze_loop_keeps_proportions():
    f = _legs(np.zeros(3), [0.5, 0.3, 0.2], [np.inf, 60.0, np.inf], h_s=1000.0)
    assert f.ok and f.x == pytest.approx(1000.0)
    assert f.post[1] == pytest.approx(60.0) and f.frozen.tolist() == [-1, 1, -1]
    assert f.post[0] == pytest.approx(500.0) and f.post[2] == pytest.approx(200.0) and f.post_s == pytest.approx(240.0)
    # a capped sell that cannot fund the buys scales the free legs down together, never a negative sleeve
    f = _legs([1000.0, 0.0, 0.0], [0.0, 0.5, 0.5], [100.0, np.inf, np.inf])
    assert f.ok and f.post[0] == pytest.approx(900.0) and f.post[1] == pytest.approx(50.0) == f.post[2]
    assert f.post_s == pytest.approx(0.0, abs=1e-9)


def test_unfunded_trade_places_no_order():
    # a $1000 position whose exit is capped at $5 cannot pay $10 gas on each of two orders: nothing trades
    f = _legs([1000.0, 0.0], [0.0, 1.0], [5.0, np.inf], gas=10.0)
    assert f.ok and f.x == 1000.0 and (f.trade == 0).all() and f.post.tolist() == [1000.0, 0.0]
    assert f.frozen.tolist() == [2, 2] and f.requested[0] > 0 and f.requested[1] > 0


def test_capped_legs_leaving_only_sales_do_not_divide_by_zero():
    """Regression (shared/repros/frozen_legs_zero_division.py): a capped buy leaves the stable sleeve negative
    while every free leg is a sale to 0; the free legs used to be scaled by w / Σ free w = 0 / 0."""
    f = _legs([500.0, 500.0, 0.0], [0.0, 0.0, 1.0], [np.inf, np.inf, 100.0])
    assert f.ok and f.post[2] == pytest.approx(100.0) and f.post[0] == pytest.approx(0.0, abs=1e-9)
    assert f.post_s == pytest.approx(900.0) and f.frozen.tolist() == [-1, -1, 1]
    rows = []
    for day, caps, vols in [("2024-01-01", {"a": 2e9, "c": 1.9e9, "b": 1e6, "d": 1e6}, {"a": 1e9, "c": 1e9, "b": 3000, "d": 3000}),
                            ("2024-01-02", {"a": 1e6, "c": 1e6, "b": 2e9, "d": 1.9e9}, {"a": 10, "c": 1e9, "b": 3000, "d": 3000})]:
        for a in "abcd":
            rows.append({"date": day, "asset_id": a, "price_usd": 1.0, "market_cap_usd": caps[a], "volume_24h_usd": vols[a]})
    from index_engine import MarketData

    market = MarketData.from_frame(pl.DataFrame(rows))
    c = IndexConfig.from_dict({"selection": {"top_n": 2}, "weighting": {"scheme": "equal"}, "regime": {"signal": "none"},
                               "rebalance": {"frequency": "every_observation", "decision_lag": 0},
                               "costs": {"fee_bps": 0, "max_participation": 0.1, "slippage": {"adv_window": 1}},
                               "backtest": {"initial_nav": 1000.0}})
    r = run_backtest(c, market, benchmarks=False)
    # the capped buys of b and d need more than the sales can free: nothing trades that day, reported
    assert r.nav["nav"].to_list() == pytest.approx([1000.0, 1000.0])
    assert set(r.unfilled["reason"].to_list()) == {"unfunded"} and r.unfilled.height == 4


def test_costs_just_above_the_portfolio_are_an_error_not_a_dust_nav():
    """Regression: with gas above the portfolio the solve closed its bracket on the gas jump at x = 0+ and
    reported a NAV of ~1e-12 instead of the documented error."""
    market = make_market(np.ones((1, 3)))
    with pytest.raises(BacktestError, match="exceed the portfolio value"):
        run_backtest(cfg(selection={"top_n": 3}, costs={"gas_usd": 341.9}), market, benchmarks=False)
    ok = run_backtest(cfg(selection={"top_n": 3}, costs={"gas_usd": 300.0}), market, benchmarks=False)
    assert ok.nav["nav"][0] == pytest.approx(100.0)
