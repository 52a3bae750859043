"""Helpers shared by the tests (tests never import each other): tiny hand-made markets and long
frames, the shared data folder, kernel and statistics shortcuts and the golden runs' pins."""

from __future__ import annotations

import datetime as dt
import math
import os
import warnings
from pathlib import Path

import numpy as np
import polars as pl

from backtest import run_backtest
from index_engine import IndexConfig, MarketData
from index_engine.data import panel_from_dense

ROOT = Path(__file__).resolve().parents[1]
#: Environment variable naming the folder of the shared CoinMarketCap files; default <repo>/../shared/data.
DATA_ENV = "INDEX_ENGINE_SHARED_DATA"
REAL_DATA_DIR = Path(os.environ.get(DATA_ENV) or ROOT / ".." / "shared" / "data")


def make_market(
    price: np.ndarray,
    market_cap: np.ndarray | None = None,
    ids: list[str] | None = None,
    categories: dict[str, str] | None = None,
    start: str = "2024-01-01",
    step_days: int = 1,
    volume: np.ndarray | None = None,
) -> MarketData:
    """Panel from dense arrays; market cap defaults to price × 1000 × (column + 1)."""
    price = np.asarray(price, dtype=float)
    t, n = price.shape
    ids = ids or [f"a{i:02d}" for i in range(n)]
    if market_cap is None:
        market_cap = price * 1000.0 * (np.arange(n) + 1)
    dates = np.datetime64(start, "D") + np.arange(t) * step_days
    cats = [(categories or {}).get(a, "other") for a in ids]
    order = np.argsort(np.array(ids, dtype=object), kind="stable")
    return panel_from_dense(
        dates,
        np.array(ids, dtype=object)[order],
        price[:, order],
        np.asarray(market_cap, dtype=float)[:, order],
        None if volume is None else np.asarray(volume, dtype=float)[:, order],
        pl.DataFrame({"asset_id": [ids[i] for i in order], "category": [cats[i] for i in order]}),
    )


# ---- long-format input for the loaders (tests/test_loaders.py, tests/test_loaders_validation.py) --------
def long_frame(rows: list[tuple], volume: bool = True, names: bool = True) -> pl.DataFrame:
    """rows: (date, asset_id, price, mcap[, volume[, symbol[, name]]])."""
    cols = ["date", "asset_id", "price_usd", "market_cap_usd", "volume_24h_usd", "symbol", "name"]
    width = max(len(r) for r in rows)
    data = {c: [r[i] if i < len(r) else None for r in rows] for i, c in enumerate(cols[:width])}
    schema = {"date": pl.Date, "asset_id": pl.Utf8, "price_usd": pl.Float64, "market_cap_usd": pl.Float64,
              "volume_24h_usd": pl.Float64, "symbol": pl.Utf8, "name": pl.Utf8}
    frame = pl.DataFrame(data, schema={c: schema[c] for c in data})
    if not volume and "volume_24h_usd" in frame.columns:
        frame = frame.drop("volume_24h_usd")
    if not names:
        frame = frame.drop([c for c in ("symbol", "name") if c in frame.columns])
    return frame


BASIC = [
    (dt.date(2020, 1, 1), "bitcoin", 7200.0, 130e9, 1e9, "BTC", "Bitcoin"),
    (dt.date(2020, 1, 1), "ethereum", 130.0, 14e9, 5e8, "ETH", "Ethereum"),
    (dt.date(2020, 1, 2), "bitcoin", 7000.0, 127e9, None, "BTC", "Bitcoin"),
    (dt.date(2020, 1, 2), "ethereum", 127.0, None, 4e8, "ETH", "Ethereum"),
    (dt.date(2020, 1, 3), "bitcoin", 7300.0, 132e9, 9e8, "BTC", "Bitcoin"),
    (dt.date(2020, 1, 3), "tether", 1.0, 4e9, 2e10, "USDT", "Tether"),
]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---- statistics (tests/test_stats.py, tests/test_stats_breakdowns.py) -----------------------------------
SQ365 = math.sqrt(365.0)


def daily(start: str, n: int) -> np.ndarray:
    return np.datetime64(start, "D") + np.arange(n)


def select_rows(score, eligible, active=None, top_n=1, entry=None, exit_=None, reselect=None, review=None,
                qualify=1, replace_dropped=False) -> np.ndarray:
    """(R, N) bool members from the selection kernel for R trades: trade k decides and trades at row k,
    ranks by ``score[k]`` and may pick only ``eligible[k]`` (ineligible cells get no price)."""
    from index_engine.kernels.selection import PanelView, Screens, SelectionRules, TradeSchedule, select_members

    score = np.atleast_2d(np.asarray(score, float))
    eligible = np.atleast_2d(np.asarray(eligible, bool))
    r, n = score.shape
    price = np.where(eligible, 1.0, np.nan)
    cap = np.where(eligible, np.maximum(score, 1e-300), np.nan)
    ones = np.ones(r, bool)
    view = PanelView(price=price, market_cap=cap, rank_score=cap, volume=np.full((r, n), np.nan),
                     days=np.arange(r, dtype=np.int64))
    screens = Screens(static_ok=np.ones(n, bool), first_day=np.zeros(n, np.int64), min_history_days=0,
                      min_volume=0.0, volume_window=1, score_ok=np.zeros((0, 0), bool),
                      score_missing=np.zeros((0, 0), bool), list_of_trade=np.zeros(0, np.int64),
                      list_members=np.zeros((0, 0), bool))
    rules = SelectionRules(top_n=top_n, entry_rank=entry or top_n, exit_rank=exit_ or top_n, qualify_reviews=qualify,
                           replace_dropped=replace_dropped, composite_cap=0.0, composite_volume=0.0)
    rows = np.arange(r, dtype=np.int64)
    sched = TradeSchedule(trade_rows=rows, decision_rows=rows, active=ones if active is None else np.asarray(active, bool),
                          reselect=ones if reselect is None else np.asarray(reselect, bool),
                          review=ones if review is None else np.asarray(review, bool))
    ptr, cols, _ = select_members(view, screens, rules, sched)
    out = np.zeros((r, n), bool)
    out[np.repeat(np.arange(r), np.diff(ptr)), cols] = True
    return out


# ---- golden runs: whole backtests pinned by statistics and a hash of the transactions log -------------
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


def flagship_config() -> IndexConfig:
    return IndexConfig.from_yaml(ROOT / "configs" / "global100.yaml")


def real_daily_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_parquet(REAL_DATA_DIR / "cmc_daily_2013_2018.parquet",
                                         categories=REAL_DATA_DIR / "asset_categories.csv")
    return market, run_backtest(flagship_config(), market)


def synthetic_run():
    cfg = flagship_config()
    s = cfg.data.synthetic
    market = MarketData.synthetic(seed=s.seed, n_assets=s.n_assets, days=s.days, start=s.start,
                                  n_stablecoins=s.n_stablecoins)
    return market, run_backtest(cfg, market)
