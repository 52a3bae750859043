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
    "transactions_sha256": "8c8694e7fd695180b5c4c61cc77eab306ed7ba9a15e1d3a8acedff2dab419f3b",
}


SYNTHETIC_FLAGSHIP = {
    "data_sha256": "eeb3e329973d0fee771582494986433db0d7913067ba2ba4dd9ecb0e3cb7681e",
    "final_nav": 51592535.91483352,
    "cagr": 0.930018799276525,
    "volatility": 0.4684509770292194,
    "sharpe": 1.6306241272760624,
    "max_drawdown": -0.4342291040146995,
    "n_regime_switches": 12,
    "time_invested": 0.5506849315068493,
    "costs_fee": 81046.441344035,
    "turnover_total": 13.980864057203455,
    "n_transactions": 18531,
    "transactions_sha256": "ea10ea8c0ce4240651f6d11c6cc19cc4e2126d426d089ddef0f982eb2b1da463",
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


def synthetic_run():
    cfg = _flagship()
    s = cfg.data.synthetic
    market = MarketData.synthetic(seed=s.seed, n_assets=s.n_assets, days=s.days, start=s.start,
                                  n_stablecoins=s.n_stablecoins)
    return market, run_backtest(cfg, market)


def _check(market, result, pins):
    assert market.content_hash() == pins["data_sha256"], "the input data changed: re-pin deliberately"
    for key, want in pins.items():
        if key in ("data_sha256", "transactions_sha256"):
            continue
        got = result.stats[key]
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9), key
        else:
            assert got == want, key
    assert result.transactions_hash() == pins["transactions_sha256"]


def test_flagship_on_real_daily_data(real_data_dir):
    _check(*real_daily_run(), REAL_DAILY)


def test_flagship_on_the_embedded_synthetic_market():
    market, result = synthetic_run()
    _check(market, result, SYNTHETIC_FLAGSHIP)
    # the demo must show the regime at work: at least one bear phase and a switch each way
    assert (result.nav["regime"] == "bear").any()
    assert {s["to"] for s in result.summary["regime_switches"]} == {"bear", "bull"}


if __name__ == "__main__":  # print fresh pins
    for run, pins in ((synthetic_run, SYNTHETIC_FLAGSHIP), (real_daily_run, REAL_DAILY)):
        m, r = run()
        print({"data_sha256": m.content_hash(), **{k: r.stats[k] for k in pins if k in r.stats},
               "transactions_sha256": r.transactions_hash()})
