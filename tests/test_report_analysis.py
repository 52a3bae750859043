"""The report's analysis parts: relative rows of the statistics table, the drawdown table, the return
distribution, contributions and the rolling 1-year series, against backtest.analysis and summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.analysis import drawdown_table, return_distribution, rolling_stats
from backtest.formatting import num, pct
from backtest.report import render_report
from tests._reports import make_run_dir, payload, table


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("analysis") / "run")


@pytest.fixture(scope="module")
def html(run_dir) -> str:
    return (run_dir / "report.html").read_text()


@pytest.fixture(scope="module")
def summary(run_dir) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def frames(run_dir: Path) -> tuple[pl.DataFrame, ...]:
    return tuple(pl.read_parquet(run_dir / f"{n}.parquet") for n in ("nav", "holdings", "transactions", "benchmarks"))


def test_relative_rows_per_benchmark_column(html, summary):
    rows = {r[0]: r[1:] for r in table(html, "stats-table")}
    names = list(summary["benchmarks"])
    assert rows["Beta"] == ["", ""] + [num(summary["relative"][n]["beta"]) for n in names]
    assert rows["Excess return (CAGR difference)"][2:] == [pct(summary["relative"][n]["excess_return"], 2)
                                                               for n in names]
    for label in ("Tracking error (ann.)", "Information ratio", "Alpha (ann.)", "Correlation", "Up capture",
                  "Down capture"):
        assert len(rows[label]) == 2 + len(names) and rows[label][:2] == ["", ""]


def test_drawdown_table_is_the_analysis_table(html, run_dir):
    nav = frames(run_dir)[0]
    expected = drawdown_table(nav["nav"].to_numpy(), nav["date"].to_numpy())
    rows = table(html, "drawdown-table")[1:]
    assert len(rows) == expected.height
    assert [r[1] for r in rows] == [pct(v, 1) for v in expected["depth"]]
    assert [r[2] for r in rows] == [str(d) for d in expected["peak"]]


def test_distribution_has_a_column_per_series(html, run_dir):
    nav = frames(run_dir)[0]
    rows = table(html, "distribution-table")
    assert rows[0][1:3] == ["Index (net)", "Gross"]
    got = {r[0]: r[1] for r in rows[1:]}
    dist = return_distribution(nav["nav"].to_numpy(), nav["date"].to_numpy())
    assert got["VaR 95 % (historical)"] == pct(dist["var_95"], 2)
    assert got["Excess kurtosis"] == num(dist["kurtosis"])
    assert got["Best day"].startswith(pct(dist["best_day"], 1, True))


def test_contributions_show_the_summary_digest(html, summary):
    whole = summary["contributions"]["all"][0]
    top = table(html, "contrib-top")[1:]
    assert [r[1] for r in top] == [e["symbol"] for e in whole["contributors"]]
    assert [r[2] for r in top] == [pct(e["contribution"], 2, True) for e in whole["contributors"]]
    years = table(html, "contrib-years")[1:]
    assert [r[0] for r in years] == [p["period"] for p in summary["contributions"]["year"]]
    regimes = table(html, "contrib-regimes")[1:]
    assert [r[0] for r in regimes] == [p["period"] for p in summary["contributions"]["regime"]]


def test_payload_rolling_is_rolling_stats_against_the_first_benchmark(html, run_dir):
    nav, _, _, bench = frames(run_dir)
    data = payload(html)["rolling"]
    first = bench["benchmark"][0]
    b = bench.filter(pl.col("benchmark") == first)["nav"].to_numpy()
    roll = rolling_stats(nav["nav"].to_numpy(), nav["date"].to_numpy(), "365 days", b)
    assert data["window"] == "365 days" and data["bench"] == "BTC buy & hold"
    for key, col in (("ret", "return"), ("vol", "volatility"), ("sharpe", "sharpe"), ("beta", "beta")):
        want = roll[col].to_numpy()
        got = np.array([np.nan if v is None else v for v in data[key]])
        np.testing.assert_allclose(got, want, rtol=1e-4, equal_nan=True)
    assert data["ret"][364] is None and data["ret"][365] is not None


def test_without_benchmarks_there_are_no_relative_rows_and_no_beta(run_dir):
    nav, holdings, tx, _ = frames(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["benchmarks"], summary["relative"] = {}, {}
    html = render_report(summary, nav, holdings, tx, None)
    assert "Information ratio" not in html
    assert payload(html)["rolling"]["beta"] is None


def test_an_older_summary_computes_relative_and_explains_missing_contributions(run_dir, summary):
    nav, holdings, tx, bench = frames(run_dir)
    old = {k: v for k, v in summary.items() if k not in ("relative", "contributions")}
    html = render_report(old, nav, holdings, tx, bench)
    rows = {r[0]: r[1:] for r in table(html, "stats-table")}
    assert rows["Beta"][2:] == [num(summary["relative"][n]["beta"]) for n in summary["benchmarks"]]
    assert "written before contributions were recorded" in html


def test_a_short_run_has_no_rolling_values(tmp_path):
    short = make_run_dir(tmp_path / "short", days=200)
    data = payload((short / "report.html").read_text())["rolling"]
    assert set(data["ret"]) == {None}
