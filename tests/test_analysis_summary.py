"""summary.json's ``relative`` and ``contributions``, ``BacktestResult.stats_vs``, and run folders
written before them (still readable, their report still renders)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from backtest.analysis import RELATIVE_KEYS, relative_stats
from backtest.io import read_run, render_run_dir
from tests._reports import make_run_dir
from tests._runs import refresh_manifest, small_run


def test_relative_has_the_eight_keys_per_benchmark():
    res = small_run()
    assert list(res.summary["relative"]) == list(res.summary["benchmarks"]) == ["no_regime"]
    rel = res.summary["relative"]["no_regime"]
    assert tuple(rel) == RELATIVE_KEYS
    bench = res.summary["benchmarks"]["no_regime"]
    assert rel["excess_return"] == pytest.approx(res.stats["cagr"] - bench["cagr"], rel=1e-12)
    b = res.benchmarks.filter(pl.col("benchmark") == "no_regime")
    again = relative_stats(res.nav["nav"].to_numpy(), b["nav"].to_numpy(), res.nav["date"].to_numpy(),
                           (res.stats["initial_nav"], bench["initial_nav"]))
    assert rel == again


def test_stats_vs_a_benchmark_name_or_another_run():
    res = small_run()
    assert res.stats_vs("no_regime") == res.summary["relative"]["no_regime"]
    with pytest.raises(KeyError, match="no_regime"):
        res.stats_vs("bitcoin")
    other = small_run(top_n=3)
    vs = other.stats_vs(res)
    assert tuple(vs) == RELATIVE_KEYS
    assert vs["excess_return"] == pytest.approx(other.stats["cagr"] - res.stats["cagr"], rel=1e-12)
    assert res.stats_vs(res)["beta"] == pytest.approx(1.0)


def test_summary_json_holds_them_and_stays_json(tmp_path):
    res = small_run()
    folder = res.write(tmp_path / "run", report=False)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["relative"] == res.summary["relative"]
    assert [p["period"] for p in summary["contributions"]["all"]] == ["all"]


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """A run folder as written before summary.json had relative and contributions."""
    folder = make_run_dir(tmp_path_factory.mktemp("old") / "run")
    path = folder / "summary.json"
    summary = json.loads(path.read_text())
    del summary["relative"], summary["contributions"]
    path.write_text(json.dumps(summary, indent=2))
    refresh_manifest(folder)
    return folder


def test_an_older_run_folder_is_still_read_and_reported(old_run):
    run = read_run(old_run)
    assert "relative" not in run.summary
    html = render_run_dir(old_run).read_text()
    assert 'id="stats-table"' in html
