"""``index-engine compare``: two small runs side by side (table, compare.html/md/csv, atomic folder),
clear one-line errors, and the flagship against its realistic-costs variant on the real daily file."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backtest.analysis import RELATIVE_KEYS
from backtest.io import read_run
from backtest.report.compare import compare_runs, labels_of
from tests._runs import damage, small_run

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "COLUMNS": "500"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backtest.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=ENV, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("compare")
    return small_run().write(base / "top5"), small_run(top_n=3).write(base / "top3", report=False)


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("out") / "cmp"
    return _cli("compare", str(runs[0]), str(runs[1]), "--out", str(out)), out


def test_prints_both_tables_and_writes_the_folder(compared):
    proc, out = compared
    assert proc.returncode == 0, proc.stderr
    assert "statistics" in proc.stdout and "relative statistics against top5" in proc.stdout
    assert "Information ratio" in proc.stdout and "top3" in proc.stdout
    assert sorted(os.listdir(out)) == ["compare.csv", "compare.html", "compare.md", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "compare"


def test_the_csv_holds_the_statistics_and_relative_numbers(compared, runs):
    _, out = compared
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert [r["run"] for r in rows] == ["top5", "top3"]
    first, second = small_run(), small_run(top_n=3)
    assert float(rows[1]["sharpe"]) == pytest.approx(second.stats["sharpe"], rel=1e-12)
    want = second.stats_vs(first)
    for key in RELATIVE_KEYS:
        got = rows[1][f"vs_first_{key}"]
        assert (None if got == "" else float(got)) == pytest.approx(want[key], rel=1e-12), key
    assert float(rows[0]["vs_first_beta"]) == pytest.approx(1.0)


def test_the_page_is_offline_and_holds_both_runs(compared):
    _, out = compared
    html = (out / "compare.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I) and not re.search(r"<link\b", html, re.I)
    data = json.loads(re.search(r'id="compare-data">(.*?)</script>', html, re.S).group(1))
    assert [d["label"] for d in data] == ["top5", "top3"]
    assert len(data[0]["dates"]) == len(data[0]["nav"]) == small_run().nav.height
    for table in ("runs-table", "compare-stats", "compare-relative"):
        assert f'id="{table}"' in html
    md = (out / "compare.md").read_text()
    assert "| Sharpe (rf 0) |" in md and "## Relative statistics against top5" in md


def test_without_out_nothing_is_written(runs, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "backtest.cli", "compare", str(runs[0]), str(runs[1])],
                          capture_output=True, text=True, cwd=tmp_path, env={**ENV, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(tmp_path) == []


def test_a_second_compare_replaces_the_folder(runs, compared):
    _, out = compared
    proc = _cli("compare", str(runs[1]), str(runs[0]), str(runs[1]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert [r["run"] for r in csv.DictReader((out / "compare.csv").open())] == ["top3", "top5", "top3 (2)"]


@pytest.mark.parametrize("how", ["missing", "damaged", "one run", "out is a run folder", "out inside a run folder",
                                 "out is foreign"])
def test_errors_are_one_line_on_stderr_with_exit_2(runs, tmp_path, how):
    a, b = str(runs[0]), str(runs[1])
    if how == "missing":
        args = [a, str(tmp_path / "nope")]
    elif how == "damaged":
        bad = tmp_path / "bad"
        small_run(top_n=3).write(bad, report=False)
        damage(bad, "bad JSON")
        args = [a, str(bad)]
    elif how == "one run":
        args = [a]
    elif how == "out is a run folder":
        args = [a, b, "--out", b]
    elif how == "out inside a run folder":
        args = [a, b, "--out", str(runs[0] / "cmp")]
    else:
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("keep me")
        args = [a, b, "--out", str(tmp_path / "mine")]
    proc = _cli("compare", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    if how != "one run":  # click prints its usage line before the error
        assert len(lines) == 1, proc.stderr
    assert {"missing": "does not exist", "damaged": "summary.json", "one run": "at least two",
            "out is a run folder": "not a compare folder",
            "out inside a run folder": "which is a run folder", "out is foreign": "not an index-engine folder"}[how] in proc.stderr


def test_labels_are_unique():
    assert labels_of(["a", "b", "a", "a"]) == ["a", "b", "a (2)", "a (3)"]


def test_flagship_against_its_realistic_costs_variant(real_data_dir, tmp_path):
    """The issue's example on the real daily file: the flagship vs configs/global100_realistic_costs.yaml."""
    data = str(real_data_dir / "cmc_daily_2013_2018.parquet")
    cats = str(real_data_dir / "asset_categories.csv")
    folders = []
    for name in ("global100", "global100_realistic_costs"):
        out = tmp_path / name
        proc = _cli("run", str(ROOT / "configs" / f"{name}.yaml"), "--data", data, "--categories", cats,
                    "--out", str(out), "--no-report")
        assert proc.returncode == 0, proc.stderr
        folders.append(out)
    proc = _cli("compare", *map(str, folders), "--out", str(tmp_path / "cmp"))
    assert proc.returncode == 0, proc.stderr
    c = compare_runs([read_run(f) for f in folders])
    flagship, realistic = (s["statistics"] for s in c.summaries)
    rel = c.relative[1]
    # same plan, dearer costs: the realistic variant trails the flagship and moves almost with it
    assert realistic["costs_total"] > flagship["costs_total"]
    assert rel["excess_return"] == pytest.approx(realistic["cagr"] - flagship["cagr"], rel=1e-9)
    assert rel["excess_return"] < 0 and rel["correlation"] > 0.95 and 0.8 < rel["beta"] < 1.2
    assert c.relative[0]["beta"] == pytest.approx(1.0)
