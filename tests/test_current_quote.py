"""`holdings` (what the index holds at a date) and `quote` (the pre-trade cost disclosure)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from backtest.current import index_state, next_rebalance_date
from backtest.quote import QuoteError, quote, read_holdings
from index_engine import IndexConfig, MarketData


@pytest.fixture(scope="module")
def market():
    return MarketData.synthetic(seed=3, n_assets=120, days=500)


def cfg(**costs) -> IndexConfig:
    return IndexConfig.from_dict({
        "selection": {"top_n": 20}, "regime": {"window": 60},
        "costs": {"fee_bps": 10, "platform_fee_bps": 25, "gas_usd": 1.5, **costs},
    })


def test_holdings_match_the_backtest_on_that_date(market):
    c = cfg()
    full = run_backtest(c, market, benchmarks=False)
    for as_of in ("2019-06-03", "2019-09-15", str(market.dates[-1])):
        state = index_state(c, market, as_of)
        book = full.holdings_at(as_of)
        got = state.holdings.sort("asset_id")
        want = book.sort("asset_id")
        assert got["asset_id"].to_list() == want["asset_id"].to_list()
        np.testing.assert_allclose(got["target_weight"].to_numpy(), want["weight"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(got["quantity"].to_numpy(), want["quantity"].to_numpy(), rtol=1e-12)
        assert abs(got["weight"].sum() - 1.0) < 1e-9  # drifted weights of the NAV at as_of
        nav = full.nav.filter(pl.col("date") == state.as_of)
        assert state.nav == pytest.approx(nav["nav"][0], rel=1e-12) and state.regime == nav["regime"][0]


def test_changes_and_gauge(market):
    state = index_state(cfg(), market)
    assert set(state.changes["change"].unique()) <= {"entry", "exit", "reweight"}
    entries = state.changes.filter(pl.col("change") == "entry")
    assert (entries["weight_before"] == 0).all() and (entries["weight_after"] > 0).all()
    if state.distance is not None:
        assert state.distance == pytest.approx(state.signal / state.threshold - 1)
        assert (state.distance >= 0) == (state.regime == "bull")
    import datetime as dt
    assert next_rebalance_date(cfg(), dt.date(2024, 1, 1)) == dt.date(2024, 1, 8)  # Monday → next Monday
    json.dumps(state.to_dict(), allow_nan=False)


def test_buy_quote_totals_are_consistent_and_match_the_exact_solve(market):
    c = cfg(slippage={"model": "sqrt_impact", "k": 0.7, "spread_bps": 10})
    q = quote(c, market, 10_000.0, max_slippage_bps=80)
    fees = sum(o["exchange_fee"] for o in q.orders)
    assert q.exchange_fee == pytest.approx(fees)
    assert q.gas == pytest.approx(1.5 * len(q.orders))
    invested = sum(o["notional"] for o in q.orders)
    # expected value = amount − costs = what is held afterwards (orders + cash left) — exact self-financing
    assert q.expected_value == pytest.approx(10_000 - q.exchange_fee - q.platform_fee - q.gas - q.estimated_slippage)
    state = index_state(c, market)
    cash_weight = state.holdings.filter(pl.col("asset_id") == "cash")["weight"].sum()
    assert invested + cash_weight * q.expected_value == pytest.approx(q.expected_value, rel=1e-9)
    assert q.min_expected_value == pytest.approx(q.expected_value + q.estimated_slippage - q.max_slippage)
    assert q.max_slippage == pytest.approx(0.008 * invested)


def test_costs_scale_with_size(market):
    c = cfg(slippage={"model": "sqrt_impact", "k": 0.7, "spread_bps": 10})
    small, big = quote(c, market, 1e4), quote(c, market, 1e7)

    def impact_rate(q):  # slippage beyond the half spread, per USD traded
        traded = sum(o["notional"] for o in q.orders)
        return (q.estimated_slippage - 0.0005 * traded) / traded

    assert impact_rate(big) / impact_rate(small) == pytest.approx(np.sqrt(1e7 / 1e4), rel=0.05)  # square-root law
    assert big.gas == small.gas  # fixed per order


def test_sell_from_holdings_file_and_errors(market, tmp_path):
    state = index_state(cfg(), market)
    top = state.holdings.filter(pl.col("asset_id") != "cash").head(3)
    path = tmp_path / "mine.csv"
    top.select("asset_id", "quantity").write_csv(path)
    held = read_holdings(path)
    q = quote(cfg(), market, None, side="sell", holdings=held)
    assert {o["asset_id"] for o in q.orders} == set(top["asset_id"]) and all(o["side"] == "sell" for o in q.orders)
    assert q.amount == pytest.approx(float((top["quantity"] * top["price"]).sum()), rel=1e-12)
    half = quote(cfg(), market, q.amount / 2, side="sell", holdings=held)
    assert half.amount == pytest.approx(q.amount / 2)
    with pytest.raises(QuoteError, match="not in the data.*nope"):
        quote(cfg(), market, None, side="sell", holdings={"nope": 1.0})
    with pytest.raises(QuoteError, match="positive"):
        quote(cfg(), market, -5.0)
    with pytest.raises(QuoteError, match="min_order_usd"):
        quote(cfg(min_order_usd=500), market, 100.0)


@pytest.mark.slow  # ~5 s: three CLI processes, each loading the engine
def test_cli_quote_json_has_the_contract_keys(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "backtest.cli", "quote", "configs/global100.yaml", "--amount", "10000", "--json"],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    q = json.loads(out.stdout)
    for key in ("orders", "platform_fee", "exchange_fee", "gas", "estimated_slippage", "max_slippage",
                "expected_value", "min_expected_value"):
        assert key in q
    bad = subprocess.run([sys.executable, "-m", "backtest.cli", "quote", "configs/global100.yaml", "--amount", "-1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "amount" in bad.stderr
    hold = subprocess.run([sys.executable, "-m", "backtest.cli", "holdings", "configs/global100.yaml", "--json",
                           "--as-of", "2020-03-02"], capture_output=True, text=True)
    assert hold.returncode == 0 and json.loads(hold.stdout)["as_of"] == "2020-03-02"


def test_sell_of_an_index_position_counts_its_cash_and_not_unfilled_orders(market):
    c = cfg()
    q = quote(c, market, 100_000.0, side="sell")
    assert q.amount == pytest.approx(100_000.0)
    sold = sum(o["notional"] for o in q.orders)
    cash = 100_000.0 - sold
    assert q.expected_value == pytest.approx(sold + cash - q.exchange_fee - q.platform_fee - q.gas - q.estimated_slippage)
    skipped = quote(cfg(min_order_usd=3_000), market, 100_000.0, side="sell")
    unsold = sum(s["requested_notional"] - s["filled_notional"] for s in skipped.skipped)
    book = index_state(cfg(min_order_usd=3_000), market).holdings  # that index holds its own cash share
    cash = 100_000.0 * book.filter(pl.col("asset_id") == "cash")["weight"].sum() / book["weight"].sum()
    proceeds = sum(o["notional"] for o in skipped.orders) + cash
    assert skipped.skipped and proceeds == pytest.approx(100_000.0 - unsold)
    assert skipped.expected_value == pytest.approx(
        proceeds - skipped.exchange_fee - skipped.platform_fee - skipped.gas - skipped.estimated_slippage)
