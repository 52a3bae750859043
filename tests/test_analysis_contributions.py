"""Contributions to return: a hand-computed book, and the reconciliation on real replays — per year,
regime state and the whole window, the assets' contributions + the stable sleeve's − the costs are
the index's return, and the digest in summary.json is the same arithmetic from the replay's records."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from backtest.analysis import contributions
from backtest.analysis.attribution import Book, attribute, bound_values, period_bounds, reconcile
from backtest.analysis.contributions import frame_book
from backtest.stats import regime_periods, yearly_returns
from index_engine import IndexConfig, MarketData

CONFIGS = {
    "cash, regime, costs": {"selection": {"top_n": 8}, "regime": {"window": 30},
                            "costs": {"fee_bps": 10, "platform_fee_bps": 20, "slippage_bps": 5, "gas_usd": 1}},
    "cash with a yield": {"selection": {"top_n": 8}, "regime": {"window": 30}, "stable": {"yield_apr": 0.05},
                          "costs": {"fee_bps": 25}},
    "priced stable asset, weekly": {"selection": {"top_n": 8}, "regime": {"window": 30},
                                    "stable": {"asset": "usd-coin"}, "rebalance": {"frequency": "weekly"},
                                    "costs": {"fee_bps": 10, "slippage_bps": 10}},
    "always invested, monthly": {"selection": {"top_n": 12}, "regime": {"signal": "none"},
                                 "rebalance": {"frequency": "monthly"}, "costs": {"fee_bps": 10, "gas_usd": 5}},
}


@functools.cache
def market() -> MarketData:
    return MarketData.synthetic(seed=5, n_assets=40, days=700, start="2020-03-15", n_stablecoins=2)


@functools.cache
def run(name: str):
    cfg = IndexConfig.from_dict({**CONFIGS[name], "benchmarks": {"no_regime": False}})
    return cfg, run_backtest(cfg, market())


def test_a_hand_computed_book():
    """10 units bought at 10 on row 0 (nav 100, all invested); closes 12 on row 1, 9 on row 2; on row
    2 half is sold at 9 for a 1 USD fee (nav 89: 45 in the asset, 44 in cash)."""
    book = Book(ids=np.array(["x"], dtype=object), symbols=np.array(["X"], dtype=object),
                book_rows=np.array([0, 2]), rec_row=np.array([0, 2]), rec_code=np.array([0, 0]),
                rec_qty=np.array([10.0, 5.0]), rec_value=np.array([100.0, 45.0]),
                tx_row=np.array([2]), tx_code=np.array([0]), tx_flow=np.array([-45.0]),
                mark=lambda row, codes: np.array([{1: 12.0, 3: 11.0}[row]]))
    nav = np.array([100.0, 120.0, 89.0, 99.0])
    stable = np.array([0.0, 0.0, 44.0, 44.0])
    costs = np.array([0.0, 0.0, 1.0, 0.0])
    assert bound_values(book, np.array([0, 1, 2, 3]))[:, 0].tolist() == [100.0, 120.0, 45.0, 55.0]
    res = attribute(book, np.array([0, 1, 3]), nav, stable, costs)
    # row 0 → 1: +20 on the asset; row 1 → 3: 55 − 120 + 45 (sold) = −20, sleeve 44 − 0 − 45 + 1 = 0, costs 1
    assert res["pnl"][:, 0].tolist() == [20.0, -20.0]
    assert res["sleeve"].tolist() == [0.0, 0.0] and res["costs"].tolist() == [0.0, 1.0]
    assert res["ret"].tolist() == pytest.approx([0.2, 99 / 120 - 1])
    assert (-20.0 - 1.0) / 120.0 == pytest.approx(res["ret"][1])


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("by", ["year", "regime", "all"])
def test_contributions_reconcile_to_the_index_return(name, by):
    cfg, res = run(name)
    frame = contributions(res.holdings, res.transactions, res.nav, market(), cfg.stable.asset, by)
    check = reconcile(frame)
    assert check["difference"].abs().max() < 1e-12
    nav, dates = res.nav["nav"].to_numpy(), res.nav["date"].to_numpy()
    expected = {
        "year": yearly_returns(dates, nav),
        "all": {"all": nav[-1] / nav[0] - 1},
        "regime": {},
    }[by]
    if by == "regime":
        for p in regime_periods(dates, res.nav["regime"].to_numpy(), {"nav": nav}):
            expected[p["regime"]] = expected.get(p["regime"], 0.0) + p["returns"]["nav"]
    got = dict(zip(check["period"].to_list(), check["period_return"].to_list()))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", CONFIGS)
def test_the_marks_value_the_book_at_the_nav(name):
    """Σ of the assets' values at every bound (and every 37th row) = nav × (1 − stable_weight):
    the marks are the closes the replay values the book at."""
    cfg, res = run(name)
    book = frame_book(res.holdings, res.transactions, res.nav, market(), cfg.stable.asset)
    _, bounds = period_bounds(res.nav["date"].to_numpy(), None, "year")
    rows = np.unique(np.r_[bounds, np.arange(0, res.nav.height, 37)])
    values = bound_values(book, rows).sum(axis=1)
    risk = (res.nav["nav"] * (1 - res.nav["stable_weight"])).to_numpy()[rows]
    np.testing.assert_allclose(values, risk, rtol=1e-9, atol=1e-6)
    assert values.max() > 0


@pytest.mark.parametrize("name", [n for n, c in CONFIGS.items() if "asset" not in c.get("stable", {})])
def test_the_sleeve_earns_its_yield_and_nothing_else_in_cash(name):
    """With the cash sleeve its P&L is its yield (a priced stable asset's also moves with its price)."""
    cfg, res = run(name)
    frame = contributions(res.holdings, res.transactions, res.nav, market(), cfg.stable.asset, "all")
    sleeve = frame.filter(pl.col("kind") == "stable")["pnl"].item()
    assert sleeve == pytest.approx(res.nav["stable_yield"][1:].sum(), rel=1e-9, abs=1e-6)
    costs = frame.filter(pl.col("kind") == "costs")["pnl"].item()
    assert costs == pytest.approx(-res.nav["costs"][1:].sum(), rel=1e-12)


@pytest.mark.parametrize("name", CONFIGS)
def test_the_summary_digest_is_the_same_arithmetic(name):
    cfg, res = run(name)
    digest = res.summary["contributions"]
    assert list(digest) == ["year", "regime", "all"]
    for by, periods in digest.items():
        frame = contributions(res.holdings, res.transactions, res.nav, market(), cfg.stable.asset, by)
        for p in periods:
            part = frame.filter(pl.col("period") == p["period"])
            assets = part.filter(pl.col("kind") == "asset")
            shown = p["contributors"] + p["detractors"]
            total = sum(e["contribution"] for e in shown) + p["others"] + p["stable_sleeve"] + p["costs"]
            assert total == pytest.approx(p["return"], rel=1e-9, abs=1e-12)
            assert p["return"] == pytest.approx(part["period_return"][0], rel=1e-12)
            assert p["n_assets"] == assets.height
            best = assets.filter(pl.col("contribution") > 0).head(10)
            assert [e["asset_id"] for e in p["contributors"]] == best["asset_id"].to_list()
            assert [e["symbol"] for e in p["contributors"]] == best["symbol"].to_list()
            assert [e["contribution"] for e in p["contributors"]] == pytest.approx(best["contribution"].to_list(),
                                                                                rel=1e-9)
            assert all(e["contribution"] < 0 for e in p["detractors"])
            assert [e["contribution"] for e in p["detractors"]] == sorted(e["contribution"] for e in p["detractors"])


def test_bad_inputs_are_named():
    cfg, res = run("cash, regime, costs")
    with pytest.raises(ValueError, match="by must be one of"):
        contributions(res.holdings, res.transactions, res.nav, market(), cfg.stable.asset, "month")
    other = MarketData.synthetic(seed=5, n_assets=40, days=100, start="2020-03-15", n_stablecoins=2)
    with pytest.raises(ValueError, match="market"):
        contributions(res.holdings, res.transactions, res.nav, other, cfg.stable.asset, "all")


def test_the_summary_is_built_when_first_read(monkeypatch):
    """run_backtest computes the statistics; the summary (contributions digest, relative statistics,
    hashes) waits until someone reads it, as the frames do."""
    import backtest.outputs

    calls = []
    real = backtest.outputs.contributions_section
    monkeypatch.setattr(backtest.outputs, "contributions_section", lambda *a: calls.append(1) or real(*a))
    cfg = IndexConfig.from_dict({"selection": {"top_n": 8}, "regime": {"window": 30}})
    res = run_backtest(cfg, market())
    assert calls == [] and res.stats["n_transactions"] > 0
    assert res.summary["contributions"]["all"] and res.summary is res.summary and calls == [1]
