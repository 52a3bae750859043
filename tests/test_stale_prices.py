"""prices.max_stale_days: a held asset without a close on a trade date is kept (not sold as delisted) while
its last close is at most that many calendar days old; its leg is frozen and reported as stale_price."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from index_engine import ConfigError, IndexConfig, MarketData
from index_engine.testing import check_no_lookahead, check_result_invariants
from tests._helpers import flagship_config, make_market

# 2024-01-01 is a Monday: weekly trades on rows 0 (01-01), 7 (01-08), 14 (01-15), 21 (01-22)


def _market(hole: slice):
    """a, b, c at constant prices 1, 2, 4 with caps making c the largest; c has no close on ``hole``."""
    t = 24
    price = np.tile([1.0, 2.0, 4.0], (t, 1))
    price[hole, 2] = np.nan
    return make_market(price, market_cap=np.tile([1e9, 2e9, 3e9], (t, 1)), ids=["a", "b", "c"])


def _cfg(max_stale_days=None) -> IndexConfig:
    return IndexConfig.from_dict({
        "selection": {"top_n": 3}, "weighting": {"scheme": "equal"}, "regime": {"signal": "none"},
        "rebalance": {"decision_lag": 0}, "costs": {"fee_bps": 0}, "backtest": {"initial_nav": 900.0},
        "prices": {"max_stale_days": max_stale_days}})


def _c_orders(result):
    return result.transactions.filter(pl.col("asset_id") == "c").select("date", "side", "notional", "reason").rows()


def test_without_the_key_a_one_day_hole_sells_the_position_as_delisted():
    market = _market(slice(7, 8))  # no close for c on the trade date 01-08 only
    result = run_backtest(_cfg(), market)
    check_result_invariants(result, market)
    assert _c_orders(result)[1] == (dt.date(2024, 1, 8), "sell", pytest.approx(300.0), "delisted")
    assert _c_orders(result)[2][:2] == (dt.date(2024, 1, 15), "buy")  # and bought back a week later


def test_a_one_day_hole_within_max_stale_days_keeps_the_position():
    market = _market(slice(7, 8))
    result = run_backtest(_cfg(3), market)
    check_result_invariants(result, market)
    # c is neither sold nor bought on 01-08: one entry, nothing else (prices never move, so no reweight either)
    assert _c_orders(result) == [(dt.date(2024, 1, 1), "buy", pytest.approx(300.0), "entry")]
    stale = result.unfilled.row(0, named=True)
    assert result.unfilled.height == 1 and stale["date"] == dt.date(2024, 1, 8) and stale["asset_id"] == "c"
    assert stale["reason"] == "stale_price" and stale["side"] == "sell"
    assert stale["requested_notional"] == pytest.approx(300.0) and stale["filled_notional"] == 0.0
    assert stale["price"] == 4.0  # valued at its last close
    held = result.holdings.filter(pl.col("date") == dt.date(2024, 1, 8))
    assert held.filter(pl.col("asset_id") == "c")["quantity"].to_list() == pytest.approx([75.0])
    # the plan targets a and b at 1/2 each (c is not eligible without a close): they share what is left
    assert held.filter(pl.col("asset_id") != "c")["value"].to_list() == pytest.approx([300.0, 300.0])
    assert result.nav["nav"].to_list() == pytest.approx([900.0] * 24)


def test_a_gap_longer_than_max_stale_days_is_sold_as_delisted():
    market = _market(slice(6, 16))  # 10 days without a close: 01-07 .. 01-16
    result = run_backtest(_cfg(3), market)
    check_result_invariants(result, market)
    # 01-08: the last close (01-06) is 2 days old: kept; 01-15: 9 days old: sold as delisted at 4.0
    assert result.unfilled.select("date", "reason").rows() == [(dt.date(2024, 1, 8), "stale_price")]
    assert _c_orders(result)[1] == (dt.date(2024, 1, 15), "sell", pytest.approx(300.0), "delisted")
    assert _c_orders(result)[2][:3] == (dt.date(2024, 1, 22), "buy", pytest.approx(300.0))  # back in on 01-22
    # the boundary: a gap of exactly max_stale_days is kept, one more day is not
    kept = run_backtest(_cfg(2), market)
    assert kept.unfilled["reason"].to_list() == ["stale_price"]
    assert run_backtest(_cfg(1), market).unfilled.height == 0


def test_a_stale_position_stays_through_a_regime_exit_and_leaves_at_the_next_scheduled_date():
    t = 24
    price = np.tile([1.0, 2.0, 4.0], (t, 1))
    price[10:, :2] *= 0.5  # a and b halve on 01-11, c too from 01-12 on ...
    price[11:, 2] *= 0.5
    price[10, 2] = np.nan  # ... but c has no close on 01-11, the regime exit
    market = make_market(price, market_cap=price * [1e9, 1e9, 1e9], ids=["a", "b", "c"])
    cfg = _cfg(3).with_overrides({"regime": {"signal": "asset_price_sma", "asset": "a", "window": 3}})
    result = run_backtest(cfg, market)
    check_result_invariants(result, market)
    exit_day = result.summary["regime_switches"][0]["date"]
    assert exit_day == "2024-01-11" and result.unfilled["reason"].to_list() == ["stale_price"]
    sold = result.transactions.filter(pl.col("asset_id") == "c").rows(named=True)[-1]
    assert sold["date"] == dt.date(2024, 1, 15) and sold["reason"] == "exit"  # the next scheduled (bearish) date


def test_stale_runs_have_no_lookahead():
    market = _market(slice(6, 16))
    for day in ("2024-01-07", "2024-01-08", "2024-01-15"):
        assert check_no_lookahead(_cfg(3), market, day)


def test_max_stale_days_is_validated():
    for bad in (0, -1, 2.5, "3"):
        with pytest.raises(ConfigError, match="max_stale_days"):
            _cfg(bad)


def test_delisted_sales_on_the_real_daily_panel(real_data_dir):
    """Measured with the flagship over cmc_daily_2013_2018: 70 delisted sales by default. With
    max_stale_days 3 there are 57 stale_price rows (32 assets): 40 positions see their close again, 17 are
    sold as delisted at a later trade once the hole is longer; 33 delisted sales remain in all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_parquet(real_data_dir / "cmc_daily_2013_2018.parquet",
                                         categories=real_data_dir / "asset_categories.csv")
    quiet = {"benchmarks": {"assets": [], "no_regime": False, "equal_weight": False}}
    for days, delisted, stale in ((None, 70, 0), (3, 33, 57)):
        result = run_backtest(flagship_config().with_overrides({**quiet, "prices.max_stale_days": days}), market)
        assert (result.transactions["reason"] == "delisted").sum() == delisted
        assert (result.unfilled["reason"] == "stale_price").sum() == stale
