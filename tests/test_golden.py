"""Golden runs: whole backtests pinned by their statistics and a hash of the transactions log.

A change in any of these numbers is a change in behaviour: explain it in the commit and update the
pins deliberately (print them with ``python -m tests.test_golden``).
"""

from __future__ import annotations

import warnings

import pytest

from backtest import run_backtest
from index_engine import IndexConfig, MarketData
from tests.conftest import REAL_DATA_DIR


REAL_DAILY = {
    "data_sha256": "8199ea301b7bb5be576c8f7bf13a992ddcb37245477a2b01c026931e3a96fd43",
    "final_nav": 234880790.9307921,
    "cagr": 2.1893456828366022,
    "volatility": 0.7480832270482765,
    "sharpe": 1.922806463834316,
    "max_drawdown": -0.7391783071859923,
    "max_drawdown_peak": "2013-12-04",
    "max_drawdown_trough": "2015-08-18",
    "n_regime_switches": 22,
    "time_invested": 0.7254217568353694,
    "costs_fee": 237600.5247572221,
    "turnover_total": 25.21550151010824,
    "n_transactions": 17857,
    "transactions_sha256": "f424f6fbab6a307e06ea71a3ca1eeea52047fffefd092b7069f0f7636711b1b7",
}


def _flagship():
    from pathlib import Path

    return IndexConfig.from_yaml(Path(__file__).resolve().parents[1] / "configs" / "global100.yaml")


def real_daily_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_parquet(REAL_DATA_DIR / "cmc_daily_2013_2018.parquet",
                                         categories=REAL_DATA_DIR / "asset_categories.csv")
    return market, run_backtest(_flagship(), market)


def test_flagship_on_real_daily_data(real_data_dir):
    market, result = real_daily_run()
    assert market.content_hash() == REAL_DAILY["data_sha256"], "the shared data changed: re-pin deliberately"
    for key, want in REAL_DAILY.items():
        if key in ("data_sha256", "transactions_sha256"):
            continue
        got = result.stats[key]
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9), key
        else:
            assert got == want, key
    assert result.transactions_hash() == REAL_DAILY["transactions_sha256"]


if __name__ == "__main__":  # print fresh pins
    m, r = real_daily_run()
    print({"data_sha256": m.content_hash(), **{k: r.stats[k] for k in REAL_DAILY if k in r.stats},
           "transactions_sha256": r.transactions_hash()})
