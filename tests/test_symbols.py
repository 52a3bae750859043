"""Point-in-time symbols: every output row carries the ticker observed at its date (docs/data.md,
docs/outputs.md), never a later one; the panel keeps the history as change points."""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from backtest import run_backtest
from backtest.outputs import _labels
from backtest.quote import quote
from backtest.report.payload import _weights_over_time, asset_symbols
from index_engine import IndexConfig, MarketData
from index_engine.data.panel import panel_from_dense
from index_engine.errors import DataError

DAYS = pd.date_range("2024-01-01", periods=10, freq="D")
TOP1 = {"selection": {"top_n": 1}, "regime": {"signal": "none"}, "rebalance": {"decision_lag": 0}}


def _vechain(symbols=("VEN",) * 5 + ("VET",) * 5) -> pd.DataFrame:
    return pd.DataFrame({"date": DAYS, "asset_id": "vechain", "symbol": list(symbols), "price_usd": 1.0,
                         "market_cap_usd": 1e9})


def _run(frame: pd.DataFrame, overrides: dict | None = None):
    cfg = IndexConfig.from_dict({**TOP1, "rebalance": {"decision_lag": 0, "frequency": "every_observation"},
                                 **(overrides or {})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_backtest(cfg, MarketData.from_frame(frame), benchmarks=False)


def test_a_later_ticker_change_does_not_rewrite_earlier_rows():
    """Regression (shared/repros/symbol_lookahead.py): the holdings of 2024-01-01 said VET, the ticker
    adopted on 2024-01-06, with the full data and VEN with the data known then."""
    long = _vechain()
    cfg = IndexConfig.from_dict(TOP1)
    full = run_backtest(cfg, MarketData.from_frame(long), benchmarks=False)
    trunc = run_backtest(cfg, MarketData.from_frame(long[long.date <= DAYS[3]]), benchmarks=False)
    assert full.holdings.select("date", "asset_id", "symbol").row(0) == (dt.date(2024, 1, 1), "vechain", "VEN")
    assert trunc.holdings.select("date", "asset_id", "symbol").row(0) == (dt.date(2024, 1, 1), "vechain", "VEN")


def test_every_output_row_carries_the_symbol_of_its_date():
    result = _run(_vechain())
    held = result.holdings.filter(pl.col("asset_id") == "vechain")
    want = ["VEN" if d < DAYS[5].date() else "VET" for d in held["date"].to_list()]
    assert held["symbol"].to_list() == want and set(want) == {"VEN", "VET"}
    tx = result.transactions.filter(pl.col("asset_id") == "vechain")
    assert tx["symbol"].to_list() == ["VEN" if d < DAYS[5].date() else "VET" for d in tx["date"].to_list()]


def test_before_the_first_symbol_the_label_is_the_asset_id_and_nulls_keep_the_last_symbol():
    result = _run(_vechain((None, None, "VEN", None, "VEN", "VET", None, None, "VET", None)))
    held = result.holdings.filter(pl.col("asset_id") == "vechain").sort("date")
    assert held["symbol"].to_list() == ["vechain"] * 2 + ["VEN"] * 3 + ["VET"] * 5


def test_the_panel_stores_change_points_and_truncate_drops_later_ones():
    market = MarketData.from_frame(_vechain(("VEN", None, "VEN", "VEN", "VEN", "VET", "VET", "VEN", "VEN", None)))
    assert market.symbol_changes.rows() == [(0, 0, "VEN"), (0, 5, "VET"), (0, 7, "VEN")]
    assert market.symbols.tolist() == ["VEN"]  # the latest ticker, for callers that want the current one
    assert market.symbols_at(np.arange(10), np.zeros(10, int)).to_list() == ["VEN"] * 5 + ["VET"] * 2 + ["VEN"] * 3
    cut = market.truncate(DAYS[6].date())
    assert cut.symbol_changes.rows() == [(0, 0, "VEN"), (0, 5, "VET")]
    assert cut.symbols.tolist() == ["VET"] and cut.assets["symbol"].to_list() == ["VET"]
    assert MarketData.from_frame(_vechain()[:5]).truncate(DAYS[2].date()).symbols.tolist() == ["VEN"]


def test_truncate_renumbers_the_columns_of_the_history():
    late = _vechain().assign(asset_id="b-late", symbol=["X"] * 5 + ["Y"] * 5)
    late.loc[:3, ["price_usd", "market_cap_usd"]] = np.nan  # first observed on the 5th day
    frame = pd.concat([late, _vechain()])
    market = MarketData.from_frame(frame)
    assert market.symbol_changes.rows() == [(0, 0, "X"), (0, 5, "Y"), (1, 0, "VEN"), (1, 5, "VET")]
    cut = market.truncate(DAYS[2].date())  # b-late unseen by then: dropped, vechain becomes column 0
    assert cut.asset_ids.tolist() == ["vechain"] and cut.symbol_changes.rows() == [(0, 0, "VEN")]


def test_content_hash_covers_the_numbers_not_the_labels():
    a, b = (MarketData.from_frame(f) for f in (_vechain(), _vechain(("VEN",) * 10)))
    assert a.content_hash() == b.content_hash()


def test_labels_gather_in_bulk_with_the_cash_sleeve():
    market = MarketData.from_frame(_vechain())
    ids, syms = _labels(market, np.array([0, 4, 5, 9, 3]), np.array([0, 0, 0, 0, -1]))
    assert ids.to_list() == ["vechain"] * 4 + ["cash"]
    assert syms.to_list() == ["VEN", "VEN", "VET", "VET", "CASH"]


def test_panels_without_a_history_use_their_asset_table_symbol_on_every_row():
    market = MarketData.synthetic(seed=1, n_assets=20, days=30)
    cols = np.arange(market.n_assets)
    assert market.symbols_at(np.zeros_like(cols), cols).to_list() == market.symbols.tolist()


def test_panel_from_dense_checks_the_history():
    dates = np.datetime64("2024-01-01") + np.arange(3)
    args = (dates, np.array(["a"], dtype=object), np.ones((3, 1)), np.ones((3, 1)), None, pl.DataFrame({"asset_id": ["a"]}))
    m = panel_from_dense(*args, symbol_changes=pl.DataFrame({"col": [0, 0, 0], "row": [2, 0, 1],
                                                             "symbol": ["B", "A", "A"]}))
    assert m.symbol_changes.rows() == [(0, 0, "A"), (0, 2, "B")] and m.symbols.tolist() == ["B"]
    with pytest.raises(DataError, match="outside the 3 x 1 panel"):
        panel_from_dense(*args, symbol_changes=pl.DataFrame({"col": [0], "row": [3], "symbol": ["A"]}))
    with pytest.raises(DataError, match="lacks column"):
        panel_from_dense(*args, symbol_changes=pl.DataFrame({"col": [0], "symbol": ["A"]}))


def test_the_report_names_each_asset_once_by_its_latest_symbol():
    result = _run(_vechain())
    table = asset_symbols(result.holdings, result.transactions)
    assert table.rows() == [("vechain", "VET")]
    weights = _weights_over_time(result.holdings, "cash", result.nav["date"][-1])
    assert [s.name for s in weights.series] == ["VET", "others", "stable sleeve"]


def test_a_run_folder_with_a_renamed_asset_writes_and_reports(tmp_path):
    out = _run(_vechain()).write(tmp_path / "run")
    held = pl.read_parquet(out / "holdings.parquet").filter(pl.col("asset_id") == "vechain")
    assert held["symbol"].unique(maintain_order=True).to_list() == ["VEN", "VET"]
    html = (out / "report.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)[1])
    assert data["assets"] == {"id": ["vechain"], "sym": ["VET"]}


def test_a_quote_uses_the_symbol_known_at_as_of():
    frame = pd.concat([_vechain(), _vechain(("USDT",) * 10).assign(asset_id="tether")])
    cfg = IndexConfig.from_dict({"selection": {"top_n": 1}, "regime": {"signal": "none"},
                                 "universe": {"assets": ["vechain"]}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_frame(frame)
    early, late = (quote(cfg, market, 1000.0, as_of=str(DAYS[i].date())) for i in (3, 8))
    assert [o["symbol"] for o in early.orders] == ["VEN"] and [o["symbol"] for o in late.orders] == ["VET"]


@pytest.mark.parametrize("seed", range(5))
def test_the_bulk_lookup_matches_a_plain_reading_of_the_rule(seed):
    """symbols_at against a per-row Python reading of docs/data.md (random histories, renames, nulls)."""
    rng = np.random.default_rng(seed)
    t, n = int(rng.integers(1, 40)), int(rng.integers(1, 12))
    observed = np.where(rng.random((t, n)) < 0.4, None, rng.choice(["A", "B", "C"], (t, n)).astype(object))
    rows, cols = np.nonzero(np.ones((t, n), bool))
    ids = np.array([f"id{j:02d}" for j in range(n)], dtype=object)
    frame = pl.DataFrame({"date": (np.datetime64("2024-01-01") + rows).astype("datetime64[D]"),
                          "asset_id": ids[cols], "symbol": pl.Series(observed[rows, cols].tolist(), dtype=pl.Utf8),
                          "price_usd": 1.0, "market_cap_usd": 1.0})
    market = MarketData.from_frame(frame)
    qr, qc = rng.integers(0, t, 500), rng.integers(-1, n, 500)

    def rule(r: int, c: int):
        if c < 0:
            return "CASH"
        seen = [s for s in observed[: r + 1, c] if s is not None]
        return seen[-1] if seen else ids[c]

    assert market.symbols_at(qr, qc, fill="CASH").to_list() == [rule(r, c) for r, c in zip(qr, qc)]
    assert market.symbols.tolist() == [rule(t - 1, c) for c in range(n)]
    cut = int(rng.integers(0, t))
    part = market.truncate(market.dates[cut])
    keep = [market.asset_index(a) for a in part.asset_ids]
    assert part.symbols.tolist() == [rule(cut, c) for c in keep]
