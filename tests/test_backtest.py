"""The replay's accounting: exact self-financing costs, valuation, reasons, stable sleeve, errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest import BacktestError, run_backtest
from index_engine import IndexConfig
from tests._helpers import make_market


def cfg(**sections) -> IndexConfig:
    base = {
        "regime": {"signal": "none"},
        "rebalance": {"frequency": "every_observation", "decision_lag": 0},
        "selection": {"top_n": 1},
        "costs": {"fee_bps": 0, "slippage_bps": 0, "gas_usd": 0},
        "backtest": {"initial_nav": 1000.0},
    }
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    return IndexConfig.from_dict(base)


def test_zero_cost_single_asset_tracks_its_price():
    price = np.array([[10.0], [12.0], [9.0], [15.0]])
    r = run_backtest(cfg(rebalance={"frequency": "weekly"}), make_market(price, start="2024-01-01"))
    np.testing.assert_allclose(r.nav["nav"].to_numpy(), 1000.0 * price[:, 0] / 10.0, rtol=1e-14)
    assert r.transactions.height == 1 and r.transactions["reason"][0] == "entry"
    assert r.nav["stable_weight"].to_list() == [0.0] * 4


def test_fee_and_slippage_solve_exactly():
    # buying 100% from cash: x = 1000 − (0.01 + 0.005)·x  ⇒  x = 1000 / 1.015
    r = run_backtest(cfg(costs={"fee_bps": 100, "slippage_bps": 50}), make_market(np.ones((1, 1))))
    x = 1000.0 / 1.015
    tx = r.transactions.row(0, named=True)
    assert tx["notional"] == pytest.approx(x, rel=1e-15)
    assert tx["fee"] == pytest.approx(0.01 * x, rel=1e-15)
    assert tx["slippage"] == pytest.approx(0.005 * x, rel=1e-15)
    assert r.nav["nav"][0] == pytest.approx(x, rel=1e-15)
    assert r.nav["costs"][0] == pytest.approx(1000.0 - x, rel=1e-12)


def test_gas_per_order_and_weights_hit_targets_exactly():
    price = np.array([[1.0, 2.0], [1.1, 1.8], [0.9, 2.2]])
    mcap = np.array([[3.0, 1.0], [3.0, 1.0], [3.0, 1.0]])
    c = cfg(selection={"top_n": 2}, costs={"fee_bps": 10, "gas_usd": 5.0})
    r = run_backtest(c, make_market(price, mcap))
    # first trade: two buys, x = 1000 − 0.001·x − 10
    first = r.transactions.filter(pl.col("date") == r.nav["date"][0])
    assert first.height == 2 and first["gas"].sum() == 10.0
    assert r.nav["nav"][0] == pytest.approx(990.0 / 1.001, rel=1e-14)
    for date, grp in r.holdings.group_by("date"):
        np.testing.assert_allclose(np.sort(grp["weight"].to_numpy()), [0.25, 0.75], rtol=0, atol=1e-15)
        assert grp["value"].sum() == pytest.approx(r.nav.filter(pl.col("date") == date[0])["nav"][0], rel=1e-12)


def test_cost_identity_on_every_trade_date():
    rng = np.random.default_rng(3)
    price = np.exp(np.cumsum(rng.normal(0, 0.05, (80, 12)), axis=0))
    mcap = price * rng.lognormal(5, 2, 12)
    c = cfg(selection={"top_n": 5}, weighting={"max_weight": 0.3}, costs={"fee_bps": 25, "slippage_bps": 15, "gas_usd": 0.7},
            rebalance={"frequency": "weekly", "decision_lag": 1})
    r = run_backtest(c, make_market(price, mcap))
    q = r.holdings.pivot(on="asset_id", index="date", values="quantity").fill_null(0.0)
    dates = r.nav["date"].to_list()
    trade_dates = q["date"].to_list()
    for prev, cur in zip(trade_dates[:-1], trade_dates[1:]):
        t = dates.index(cur)
        row = q.filter(pl.col("date") == prev).drop("date")
        ids = [c for c in row.columns if c != "cash"]
        cols = [int(a[1:]) for a in ids]
        nav_pre = float((row.select(ids).to_numpy()[0] * price[t, cols]).sum()) + float(row["cash"][0] if "cash" in row.columns else 0.0)
        day = r.nav.row(t, named=True)
        assert nav_pre - day["costs"] == pytest.approx(day["nav"], rel=1e-12)
        tx = r.transactions.filter(pl.col("date") == cur)
        assert tx["fee"].sum() + tx["slippage"].sum() + tx["gas"].sum() == pytest.approx(day["costs"], rel=1e-12)
    tx = r.transactions
    np.testing.assert_allclose(tx["fee"].to_numpy(), 0.0025 * tx["notional"].to_numpy(), rtol=1e-15)
    np.testing.assert_allclose(tx["quantity"].to_numpy() * tx["price"].to_numpy(), tx["notional"].to_numpy(), rtol=1e-12)


def test_delisted_holding_is_marked_stale_then_sold_at_its_last_close():
    price = np.array([[1.0, 1.0], [2.0, 1.0], [np.nan, 1.0], [np.nan, 1.0], [np.nan, 1.0]])
    mcap = np.array([[5.0, 1.0]] * 2 + [[np.nan, 1.0]] * 3)
    c = cfg(rebalance={"frequency": "weekly", "decision_lag": 0})  # 2024-01-01 Monday; next Monday is row 7
    market = make_market(np.vstack([price, [[np.nan, 1.0]] * 3]), np.vstack([mcap, [[np.nan, 1.0]] * 3]))
    r = run_backtest(c, market)
    assert r.nav["nav"].to_list()[:7] == [1000.0, 2000.0, 2000.0, 2000.0, 2000.0, 2000.0, 2000.0]  # stale at 2.0
    sold = r.transactions.filter(pl.col("side") == "sell").row(0, named=True)
    assert (sold["asset_id"], sold["reason"], sold["price"]) == ("a00", "delisted", 2.0)
    bought = r.transactions.filter((pl.col("side") == "buy") & (pl.col("asset_id") == "a01")).row(0, named=True)
    assert bought["reason"] == "entry"


def test_regime_switch_reasons_and_priced_stable_asset():
    t = 40
    level = np.ones(t)
    level[15:] = 0.5
    level[30:] = 2.0
    stable = np.ones(t)
    stable[20:23] = 0.9  # a de-peg while we hold it
    price = np.column_stack([level, level, stable])
    mcap = price * [[10.0, 5.0, 1.0]]
    market = make_market(price, mcap, ids=["a00", "a01", "usd"], categories={"usd": "stablecoin"})
    c = cfg(selection={"top_n": 2}, regime={"signal": "total_market_cap_sma", "window": 3},
            rebalance={"frequency": "weekly", "decision_lag": 1}, stable={"asset": "usd"}, costs={"fee_bps": 10})
    r = run_backtest(c, market)
    reasons = r.transactions.group_by("reason").agg(pl.col("asset_id").unique().sort()).sort("reason")
    got = {row["reason"]: row["asset_id"] for row in reasons.iter_rows(named=True)}
    assert got["regime_exit"] == ["a00", "a01", "usd"] and got["regime_entry"] == ["a00", "a01", "usd"]
    nav = r.nav["nav"].to_numpy()
    assert nav[21] == pytest.approx(0.9 * nav[19], rel=1e-12)  # the de-peg shows in the NAV
    assert r.stats["n_regime_switches"] == 2
    # the stable sleeve held at the start is bought with no cost (initial placement), then sold with fees
    usd = r.transactions.filter(pl.col("asset_id") == "usd")
    assert (usd["fee"] > 0).all()


def test_fixed_costs_exceeding_nav_raise_a_clear_error():
    with pytest.raises(BacktestError, match="gas_usd"):
        run_backtest(cfg(costs={"gas_usd": 2000.0}), make_market(np.ones((3, 1))))


def test_turnover_counts_the_stable_sleeve_one_way():
    r = run_backtest(cfg(), make_market(np.ones((2, 1))))
    assert r.nav["turnover"].to_list() == [1.0, 0.0]  # cash → 100% asset is one-way turnover 1


def test_index_level_is_gross_continuous_and_base_1000():
    rng = np.random.default_rng(9)
    price = np.exp(np.cumsum(rng.normal(0, 0.05, (60, 6)), axis=0))
    market = make_market(price, price * rng.lognormal(5, 1, 6))
    c = cfg(selection={"top_n": 3}, rebalance={"frequency": "weekly"}, costs={"fee_bps": 30, "gas_usd": 1})
    r = run_backtest(c, market)
    free = run_backtest(c.with_overrides({"costs": {"fee_bps": 0, "gas_usd": 0}}), market)
    # the units-method kernel and the replay at zero cost are independent implementations of one level
    np.testing.assert_allclose(r.nav["index_level"].to_numpy(), free.nav["nav"].to_numpy(), rtol=1e-12)
    assert r.nav["index_level"][0] == pytest.approx(1000.0)
    assert (r.nav["index_level"].to_numpy() / 1000.0 >= r.nav["nav"].to_numpy() / 1000.0 - 1e-9).all()
    # constant prices: rebalancing never moves the level (divisor / units continuity)
    flat = make_market(np.ones((30, 4)), np.tile([4.0, 3.0, 2.0, 1.0], (30, 1)) * np.linspace(1, 2, 30)[:, None] ** [0, 1, 2, 3])
    lvl = run_backtest(c, flat).nav["index_level"].to_numpy()
    np.testing.assert_allclose(lvl, 1000.0, rtol=1e-13)


def test_benchmarks_run_by_the_same_engine():
    price = np.array([[1.0, 10.0], [2.0, 10.0], [2.0, 20.0], [4.0, 20.0]])
    market = make_market(price, price * [[100.0, 1.0]])
    c = cfg(selection={"top_n": 2}, benchmarks={"assets": ["a01"], "no_regime": True, "equal_weight": True})
    r = run_backtest(c, market)
    names = r.benchmarks["benchmark"].unique(maintain_order=True).to_list()
    assert names == ["a01", "no_regime", "equal_weight"]
    a01 = r.benchmarks.filter(pl.col("benchmark") == "a01")["nav"].to_numpy()
    np.testing.assert_allclose(a01, 1000.0 * price[:, 1] / 10.0, rtol=1e-14)
    assert set(r.summary["benchmarks"]) == set(names)
    with pytest.raises(ValueError, match="benchmarks.assets.*nope"):
        run_backtest(cfg(benchmarks={"assets": ["nope"]}), market)
