"""Report targets (``report --out`` never inside a run's data; atomic report writes) and sweep
folders (atomic, with a manifest, verified). Run folders: test_io.py."""

from __future__ import annotations

import os

import polars as pl
import pytest

from backtest.io import check_output_dir, check_report_target, read_run, read_sweep, write_report, write_run
from backtest.report import render_report
from backtest.sweep import write_sweep
from index_engine.errors import RunFolderError
from tests._runs import one_line_error, sha, small_run, sweep_row


@pytest.fixture(scope="module")
def result():
    return small_run(5)


@pytest.fixture(scope="module")
def other():
    return small_run(8)


def test_report_target_never_inside_the_run_data(result, tmp_path):
    out = write_run(result, tmp_path / "run")
    (tmp_path / "link").symlink_to(out)
    (tmp_path / "nav-link.parquet").symlink_to(out / "nav.parquet")
    other_run = write_run(result, tmp_path / "other", report=False)
    for bad in (out / "nav.parquet", tmp_path / "run" / ".." / "run" / "manifest.json", tmp_path / "link" / "summary.json",
                tmp_path / "nav-link.parquet", out / "notes.html", out, other_run / "report.html"):
        with pytest.raises(RunFolderError) as exc:
            check_report_target(out, bad)
        one_line_error(exc, bad)
    assert check_report_target(tmp_path / "link", out / "report.html") == out / "report.html"
    assert check_report_target(out, tmp_path / "elsewhere.html") == tmp_path / "elsewhere.html"


def test_write_report_outside_and_inside_the_run(result, tmp_path):
    out = write_run(result, tmp_path / "run", report=False)
    run = read_run(out)
    html = render_report(run.summary, run.nav, run.holdings, run.transactions, run.benchmarks)
    nav_sha = sha(out / "nav.parquet")
    with pytest.raises(RunFolderError):
        write_report(run, html, out / "nav.parquet")
    assert sha(out / "nav.parquet") == nav_sha
    assert write_report(run, html, tmp_path / "copy.html").read_text() == html
    assert write_report(run, html) == out / "report.html"
    again = read_run(out)  # the manifest now lists the new report; the data files are the same
    assert (out / "report.html").read_text() == html and sha(out / "nav.parquet") == nav_sha
    assert "report.html" in [e["name"] for e in again.manifest["files"]]
    assert sorted(os.listdir(tmp_path)) == ["copy.html", "run"]


def test_write_report_refuses_a_run_replaced_since_it_was_read(result, other, tmp_path):
    out = write_run(result, tmp_path / "run")
    run = read_run(out)
    other.write(out)  # another `index-engine run` finished while the report was rendered
    with pytest.raises(RunFolderError, match="changed while the report was being rendered"):
        write_report(run, "<html>rendered-from-the-old-run</html>")
    assert read_run(out).nav.equals(other.nav) and "rendered-from-the-old-run" not in (out / "report.html").read_text()


# ----------------------------------------------------------------------------------- sweeps
def test_sweep_folder_is_atomic_and_verified(tmp_path):
    frame = pl.DataFrame({"regime.window": [20, 60], "sharpe": [1.0, 2.0]}).pipe(sweep_row)
    out = write_sweep(frame, tmp_path / "sw", {"regime.window": [20, 60]})
    sweep = read_sweep(out)
    assert sweep.frame.equals(frame) and sweep.ranking.startswith("# Sweep: 2 configs")
    with pytest.raises(RunFolderError, match="is a sweep folder, not a run folder"):
        read_run(out)
    (out / "ranking.md").write_text("edited")
    with pytest.raises(RunFolderError, match="ranking.md: 6 bytes"):
        read_sweep(out)
    with pytest.raises(RunFolderError, match="is a run folder, not a sweep folder"):
        check_output_dir(write_run(small_run(3), tmp_path / "a-run"), kind="sweep")
