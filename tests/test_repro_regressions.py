"""Regressions from shared/repros/ (rebuilt here; the scripts are not imported): data after a date D never
changes anything dated up to D."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from backtest.testing import check_no_lookahead
from index_engine import IndexConfig, MarketData


def _daily_then_weekly() -> pl.DataFrame:
    """40 daily rows from 2024-01-01, then 60 weekly rows from 2024-02-11: the calendar's spacing changes,
    as where the 2018 daily file is followed by the weekly 2018-2020 file."""
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    days += [dt.date(2024, 2, 11) + dt.timedelta(days=7 * i) for i in range(60)]
    px = np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, len(days))))
    return pl.DataFrame({"date": days, "asset_id": "a", "price_usd": px, "market_cap_usd": px * 1e9,
                         "volume_24h_usd": 1e6})


CFG = IndexConfig.from_dict({
    "selection": {"top_n": 1}, "regime": {"signal": "none"}, "rebalance": {"decision_lag": 0},
    "costs": {"fee_bps": 0, "slippage": {"model": "sqrt_impact", "k": 1.0, "vol_window": 30, "adv_window": 30}},
    "backtest": {"start": "2024-01-31", "initial_nav": 1e6}})


def test_sqrt_impact_sigma_does_not_look_at_later_spacing():
    """shared/repros/impact_sigma_lookahead.py: σ was annualised with the median spacing of the whole
    calendar, so the weekly rows after 2024-02-05 changed the slippage (and NAV) of 2024-01-31."""
    long = _daily_then_weekly()
    cut = dt.date(2024, 2, 5)
    full = run_backtest(CFG, MarketData.from_frame(long), benchmarks=False)
    trunc = run_backtest(CFG, MarketData.from_frame(long.filter(pl.col("date") <= cut)), benchmarks=False)
    first_full, first_trunc = full.transactions.row(0, named=True), trunc.transactions.row(0, named=True)
    assert first_full["slippage"] > 0 and first_full["slippage"] == first_trunc["slippage"]
    assert full.nav.filter(pl.col("date") <= cut)["nav"].to_list() == trunc.nav["nav"].to_list()


@pytest.mark.parametrize("cut", ["2024-01-31", "2024-02-05", "2024-02-09", "2024-02-11", "2024-03-10", "2024-06-30"])
def test_sqrt_impact_run_truncated_anywhere_matches_the_full_run(cut):
    market = MarketData.from_frame(_daily_then_weekly())
    assert check_no_lookahead(CFG, market, np.datetime64(cut, "D"))
