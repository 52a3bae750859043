"""report.html from a run folder: self-contained, every section present, data consistent with the
Parquet outputs, re-rendered by ``index-engine report``. The regressions of reported defects are in
tests/test_report_regressions.py, the browser checks in tests/test_report_browser.py."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from backtest.cli import main as cli_main
from backtest.formatting import pct
from backtest.report import DUST_WEIGHT, render_report
from backtest.stats import monthly_returns, yearly_returns
from index_engine.errors import RunFolderError
from tests._reports import make_run_dir, payload, table

SECTIONS = ("overview", "performance", "holdings", "weights", "transactions", "statistics", "methodology")
CHARTS = ("chart-perf", "chart-dd", "chart-treemap", "chart-weights", "chart-signal")
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("run") / "small")


@pytest.fixture(scope="module")
def html(run_dir) -> str:
    return (run_dir / "report.html").read_text()


def test_report_is_self_contained(html):
    assert html.startswith("<!doctype html>")
    # nothing is loaded from anywhere: no external script, stylesheet, import, font or image
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"<(img|iframe)\b[^>]*\bsrc\s*=\s*[\"']?https?:", html, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?https?:", html, re.I)
    assert "Plotly" in html and "plotly.js" in html  # embedded, not fetched
    assert len(html.encode()) < 8_000_000


def test_every_section_and_chart_is_present(html, run_dir):
    for sec in SECTIONS:
        assert f'<section id="{sec}">' in html or f'<header id="{sec}">' in html, sec
    for chart in CHARTS:
        assert f'id="{chart}"' in html, chart
    for table_id in ("returns-table", "stats-table", "regime-stats", "regime-periods", "tx-table", "tx-years", "provenance"):
        assert f'id="{table_id}"' in html, table_id
    summary = json.loads((run_dir / "summary.json").read_text())
    for needle in (summary["config_sha256"], summary["data"]["sha256"], f"index-engine {summary['version']}",
                   summary["index"], "rebalances weekly (Mondays)"):
        assert needle in html, needle
    # the statistics table has net, gross and one column per benchmark
    head = re.search(r'id="stats-table"><thead><tr><th></th>(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<th>(.*?)</th>", head) == [
        "Index (net)", "Index level (gross)", "BTC buy &amp; hold",
        "Same index, no regime filter", "Equal-weight top 20"]
    # every regime switch is a period boundary
    for s in summary["regime_switches"]:
        assert f"<td>{s['date']}</td>" in html


def test_payload_matches_the_outputs(html, run_dir):
    data = payload(html)
    nav = pl.read_parquet(run_dir / "nav.parquet")
    holdings = pl.read_parquet(run_dir / "holdings.parquet")
    tx = pl.read_parquet(run_dir / "transactions.parquet")
    assert data["dates"] == [str(d) for d in nav["date"]]
    np.testing.assert_allclose(data["nav"], nav["nav"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(data["level"], nav["index_level"].to_numpy(), rtol=1e-8)
    assert [b["name"] for b in data["bench"]] == ["bitcoin", "no_regime", "equal_weight"]
    # holdings: one block per trade date, dust excluded, ordered by weight
    h = data["hold"]
    kept = holdings.filter(pl.col("weight") >= DUST_WEIGHT)
    assert h["dates"] == [str(d) for d in kept["date"].unique().sort()]
    assert h["start"][-1] == kept.height == len(h["a"])
    last = kept.filter(pl.col("date") == kept["date"].max())
    assert h["start"][-1] - h["start"][-2] == last.height
    assert sorted(data["assets"]["id"][a] for a in h["a"][h["start"][-2]:]) == sorted(last["asset_id"])
    # transactions: every order, costs exact to 7 significant digits
    t = data["tx"]
    assert len(t["d"]) == tx.height
    np.testing.assert_allclose(np.sum(t["f"]), tx["fee"].sum(), rtol=1e-6)
    np.testing.assert_allclose(np.sum(t["pf"]), tx["platform_fee"].sum(), rtol=1e-6)
    np.testing.assert_allclose(np.sum(t["sl"]), tx["slippage"].sum(), rtol=1e-6)
    np.testing.assert_allclose(np.sum(t["g"]), tx["gas"].sum(), rtol=1e-6)
    np.testing.assert_allclose(t["n"], tx["notional"].to_numpy(), atol=0.006)
    assert [t["reasons"][r] for r in t["r"]] == tx["reason"].to_list()
    assert [data["assets"]["sym"][a] for a in t["a"]] == tx["symbol"].to_list()
    # bear shading covers exactly the bear observations
    bear = set(nav.filter(pl.col("regime") == "bear")["date"].cast(pl.Utf8))
    dates = data["dates"]
    shaded = {d for a, b in data["bear"] for d in dates[dates.index(a):dates.index(b)]}
    assert bear - {dates[-1]} <= shaded and shaded <= bear


def test_return_since_previous_trade(html, run_dir):
    """Tile colour: price at this trade date / price at the previous one − 1; new positions null."""
    data = payload(html)
    holdings = pl.read_parquet(run_dir / "holdings.parquet").filter(pl.col("weight") >= DUST_WEIGHT)
    h, ids = data["hold"], data["assets"]["id"]
    k = len(h["dates"]) - 1
    prev = dict(holdings.filter(pl.col("date") == date.fromisoformat(h["dates"][k - 1]))
                .select("asset_id", "price").iter_rows())
    now = dict(holdings.filter(pl.col("date") == date.fromisoformat(h["dates"][k])).select("asset_id", "price").iter_rows())
    for i in range(h["start"][k], h["start"][k + 1]):
        a = ids[h["a"][i]]
        if a in prev:
            assert h["r"][i] == pytest.approx(now[a] / prev[a] - 1, rel=1e-4, abs=1e-9)
        else:
            assert h["r"][i] is None


def test_weights_over_time_sum_to_one(html):
    w = payload(html)["weights"]
    assert len(w["series"]) == 12 and w["series"][-2]["name"] == "others" and w["series"][-1]["name"] == "stable sleeve"
    totals = np.sum([s["values"] for s in w["series"]], axis=0)
    np.testing.assert_allclose(totals, 1.0, atol=1e-4)


def test_report_cmd_rerenders_and_reports_missing_files(run_dir, tmp_path):
    out = tmp_path / "again.html"
    res = CliRunner().invoke(cli_main, ["report", str(run_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and out.read_text() == (run_dir / "report.html").read_text()  # deterministic
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(cli_main, ["report", str(empty)])
    assert isinstance(res.exception, RunFolderError) and "manifest.json" in str(res.exception)


def test_run_folder_without_benchmarks_or_gross_level(run_dir, tmp_path):
    """Frames of older runs (no benchmarks, no index_level, no gross/benchmarks keys) render; the folder
    itself is refused by backtest.io.read_run (no manifest), so this renders the frames directly."""
    nav = pl.read_parquet(run_dir / "nav.parquet").drop("index_level")
    # before platform fees existed, transactions had no platform_fee column: nothing was charged
    tx = pl.read_parquet(run_dir / "transactions.parquet").drop("platform_fee")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.pop("gross"), summary.pop("benchmarks")
    html = render_report(summary, nav, pl.read_parquet(run_dir / "holdings.parquet"), tx, None)
    data = payload(html)
    assert data["level"] is None and data["bench"] == []
    assert set(data["tx"]["pf"]) == {0.0} and len(data["tx"]["pf"]) == len(data["tx"]["d"])
    assert "<th>Index level (gross)</th>" not in html and 'id="chart-perf"' in html


def test_never_invested_run_renders(run_dir):
    """A run with no holdings and no transactions (e.g. bearish throughout) still renders."""
    summary = json.loads((run_dir / "summary.json").read_text())
    nav = pl.read_parquet(run_dir / "nav.parquet").with_columns(pl.lit("bear").alias("regime"))
    holdings = pl.read_parquet(run_dir / "holdings.parquet").clear()
    tx = pl.read_parquet(run_dir / "transactions.parquet").clear()
    data = payload(render_report(summary, nav, holdings, tx, None))
    assert data["hold"]["dates"] == [] and data["tx"]["d"] == [] and len(data["bear"]) == 1


def test_stablecoin_sleeve_monthly_and_cap(tmp_path):
    run = make_run_dir(tmp_path / "usdc", {"stable.asset": "tether", "rebalance.frequency": "monthly",
                                           "weighting.max_weight": 0.3, "benchmarks": {}}, days=300)
    html = (run / "report.html").read_text()
    data = payload(html)
    assert data["stable_id"] == "tether" and data["bench"] == []
    assert data["weights"]["series"][-1]["id"] == "tether"
    assert "rebalances monthly (1st of the month)" in html


def test_yearly_and_monthly_returns_are_those_of_the_statistics(html, run_dir):
    """The monthly-returns table shows backtest.stats.monthly_returns / yearly_returns of the NAV."""
    nav = pl.read_parquet(run_dir / "nav.parquet")
    dates, v = nav["date"].to_numpy(), nav["nav"].to_numpy()
    years, months = yearly_returns(dates, v), monthly_returns(dates, v)
    level = yearly_returns(dates, nav["index_level"].to_numpy())
    rows = table(html, "returns-table")
    assert rows[0][1:14] == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"]
    assert [r[0] for r in rows[1:]] == list(years)
    for row in rows[1:]:
        y = row[0]
        assert row[1:13] == [pct(months.get(f"{y}-{m:02d}")) for m in range(1, 13)]
        assert row[13] == pct(years[y]) and row[14] == pct(level[y])
    year = next(iter(years))
    assert np.prod([1 + r for k, r in months.items() if k.startswith(year)]) - 1 == pytest.approx(years[year], rel=1e-9)
