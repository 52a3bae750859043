"""Run folders (backtest.io): atomic replacement, manifest, verified reading, the contract columns,
output-folder checks and report targets. The CLI and multi-process checks: test_run_folders_cli.py."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import threading

import polars as pl
import pytest

from backtest import atomic, run_backtest
from backtest.io import (
    EMPTY_ALLOWED, RUN_COLUMNS, check_output_dir, check_report_target, output_lock, read_run, read_sweep,
    write_report, write_run,
)
from backtest.report import render_report
from backtest.result import OUTPUT_FILES
from backtest.sweep import write_sweep
from index_engine import IndexConfig, MarketData
from index_engine.errors import RunFolderError

CONFIG = {"selection": {"top_n": 5}, "regime": {"window": 20}, "benchmarks": {"no_regime": True},
          "costs": {"min_order_usd": 5000}}


@pytest.fixture(scope="module")
def market():
    return MarketData.synthetic(seed=1, n_assets=30, days=200)


@pytest.fixture(scope="module")
def result(market):
    return run_backtest(IndexConfig.from_dict(CONFIG), market)


@pytest.fixture(scope="module")
def other(market):
    """A second, different run (for 'which run is in the folder' checks)."""
    return run_backtest(IndexConfig.from_dict({**CONFIG, "selection": {"top_n": 8}}), market)


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def refresh_manifest(folder) -> None:
    """Re-list every file in the manifest, as a tool that wrote a damaged file would have."""
    m = json.loads((folder / "manifest.json").read_text())
    m["files"] = [{"name": n, "size": (folder / n).stat().st_size, "sha256": sha(folder / n)}
                  for n in sorted(os.listdir(folder)) if n != "manifest.json"]
    (folder / "manifest.json").write_text(json.dumps(m))


def one_line_error(excinfo, folder, file=None) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and str(folder) in msg and (file is None or file in msg), msg
    assert "Traceback" not in msg and "polars" not in msg.lower() and msg.isprintable(), msg
    return msg


# -------------------------------------------------------------------------------- contract
def test_run_columns_are_what_a_real_run_writes(result, tmp_path):
    assert result.benchmarks.height and result.unfilled.height  # every table has rows in this run
    out = write_run(result, tmp_path / "run")
    for name, columns in RUN_COLUMNS.items():
        assert dict(pl.read_parquet(out / name).schema) == columns, name  # names, order and dtypes
        assert list(pl.read_parquet(out / name).columns) == list(columns), name
    assert set(OUTPUT_FILES) == set(os.listdir(out))
    assert EMPTY_ALLOWED == set(RUN_COLUMNS) - {"nav.parquet"}


def test_manifest_lists_every_file_with_size_and_sha256(result, tmp_path):
    out = write_run(result, tmp_path / "run")
    m = json.loads((out / "manifest.json").read_text())
    assert m["format_version"] == 1 and m["kind"] == "run" and m["index_engine_version"] == result.summary["version"]
    assert [e["name"] for e in m["files"]] == sorted(set(os.listdir(out)) - {"manifest.json"})
    for e in m["files"]:
        assert e["size"] == (out / e["name"]).stat().st_size and e["sha256"] == sha(out / e["name"])


def test_read_run_returns_what_was_written(result, tmp_path):
    run = read_run(write_run(result, tmp_path / "run"))
    assert run.summary == json.loads(json.dumps(result.summary))
    for name in ("nav", "holdings", "transactions", "unfilled", "benchmarks"):
        assert getattr(run, name).equals(getattr(result, name)), name


def test_empty_tables_only_where_a_run_can_have_them(result, tmp_path):
    from dataclasses import replace

    bare = replace(result, holdings=result.holdings.clear(), transactions=result.transactions.clear(),
                   benchmarks=None, unfilled=None)
    run = read_run(write_run(bare, tmp_path / "bare", report=False))
    assert run.benchmarks.is_empty() and run.unfilled.is_empty() and run.transactions.is_empty()
    with pytest.raises(RunFolderError, match="nav table has no rows"):
        write_run(replace(result, nav=result.nav.clear()), tmp_path / "empty", report=False)
    with pytest.raises(RunFolderError, match="unexpected column extra"):
        write_run(replace(result, nav=result.nav.with_columns(extra=1)), tmp_path / "x", report=False)
    assert not (tmp_path / "empty").exists() and not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------ atomicity
def test_crash_mid_write_keeps_the_previous_run(result, other, tmp_path, monkeypatch):
    out = result.write(tmp_path / "run")
    before = {n: sha(out / n) for n in os.listdir(out)}
    calls = []

    def dies_on_third(self, path, *a, **k):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the folder
        return real(self, path, *a, **k)

    real = pl.DataFrame.write_parquet
    monkeypatch.setattr(pl.DataFrame, "write_parquet", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        other.write(out)
    monkeypatch.undo()
    assert {n: sha(out / n) for n in os.listdir(out)} == before
    assert read_run(out).nav.equals(result.nav)
    assert os.listdir(tmp_path) == ["run"]  # the half-built folder was removed


def test_full_disk_is_one_clear_line_and_keeps_the_run(result, other, tmp_path, monkeypatch):
    out = result.write(tmp_path / "run")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("backtest.report.render_report", full)
    with pytest.raises(RunFolderError) as exc:
        other.write(out)
    assert "No space left on device" in one_line_error(exc, out) and "unchanged" in str(exc.value)
    assert read_run(out).nav.equals(result.nav) and os.listdir(tmp_path) == ["run"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-aside"])
def test_replacing_swaps_the_whole_folder(result, other, tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    elif atomic._renameat2() is None:
        pytest.skip("no renameat2 here")
    out = result.write(tmp_path / "run")
    other.write(out, report=False)  # the report of the first run must not survive
    run = read_run(out)
    assert run.nav.equals(other.nav) and not (out / "report.html").exists()
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_a_failed_rename_aside_puts_the_old_run_back(result, other, tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = result.write(tmp_path / "run")
    real = os.rename

    def fail_into_place(src, dst):
        if str(dst) == str(out) and ".tmp-" in str(src):
            raise OSError(errno.EIO, "I/O error")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", fail_into_place)
    with pytest.raises(RunFolderError, match=r"could not move the new run into place \(I/O error\)"):
        other.write(out)
    monkeypatch.undo()
    assert read_run(out).nav.equals(result.nav) and sorted(os.listdir(tmp_path)) == ["run"]


def test_leftovers_of_a_killed_writer_are_removed_by_the_next(result, tmp_path):
    out = result.write(tmp_path / "run")
    for name in (".run.tmp-123-deadbeef", ".run.old-123-0badf00d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "nav.parquet").write_bytes(b"half")
    mine = tmp_path / ".run.tmp-x.tmp-1-abcdef01"  # belongs to a folder named 'run.tmp-x'
    mine.mkdir()
    assert read_run(out)  # leftovers beside the folder do not disturb it
    result.write(out, report=False)
    assert sorted(os.listdir(tmp_path)) == [mine.name, "run"]


# ------------------------------------------------------------------------------- damage
def _damage(folder, how):
    nav = folder / "nav.parquet"
    if how == "truncated parquet":
        nav.write_bytes(nav.read_bytes()[:200])
    elif how == "truncated parquet, manifest rewritten":
        nav.write_bytes(nav.read_bytes()[:200]), refresh_manifest(folder)
    elif how == "bad JSON":
        (folder / "summary.json").write_text('{"index": ')
        refresh_manifest(folder)
    elif how == "file missing":
        (folder / "holdings.parquet").unlink()
    elif how == "column missing":
        pl.read_parquet(nav).drop("index_level").write_parquet(nav), refresh_manifest(folder)
    elif how == "wrong dtype":
        pl.read_parquet(nav).with_columns(pl.col("nav").cast(pl.String)).write_parquet(nav), refresh_manifest(folder)
    elif how == "no rows":
        pl.read_parquet(nav).clear().write_parquet(nav), refresh_manifest(folder)
    elif how == "size mismatch":
        with open(folder / "transactions.parquet", "ab") as fh:
            fh.write(b"\0")
    elif how == "same size, other bytes":
        data = bytearray(nav.read_bytes())
        data[100] ^= 0xFF
        nav.write_bytes(bytes(data))
    elif how == "no manifest":
        (folder / "manifest.json").unlink()
    elif how == "manifest damaged":
        (folder / "manifest.json").write_text("{")
    elif how == "newer format":
        m = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**m, "format_version": 99}))
    elif how == "extra data file":
        shutil.copy(nav, folder / "nav (1).parquet")
    elif how == "summary not a summary":
        (folder / "summary.json").write_text("[1, 2]"), refresh_manifest(folder)


DAMAGE = {
    "truncated parquet": ("nav.parquet", "200 bytes, manifest.json says"),
    "truncated parquet, manifest rewritten": ("nav.parquet", "not a readable Parquet file"),
    "bad JSON": ("summary.json", "not valid JSON (Expecting value at line 1 column 11)"),
    "file missing": ("holdings.parquet", "missing (listed in manifest.json)"),
    "column missing": ("nav.parquet", "is missing column index_level"),
    "wrong dtype": ("nav.parquet", "column nav is String, expected Float64"),
    "no rows": ("nav.parquet", "has no rows"),
    "size mismatch": ("transactions.parquet", "manifest.json says"),
    "same size, other bytes": ("nav.parquet", "content differs from manifest.json"),
    "no manifest": (None, "no manifest.json: not a finished run folder"),
    "manifest damaged": ("manifest.json", "damaged or not written by index-engine"),
    "newer format": ("manifest.json", "upgrade index-engine"),
    "extra data file": ("nav (1).parquet", "not listed in manifest.json"),
    "summary not a summary": ("summary.json", "is not a JSON object"),
}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_read_run_refuses_a_damaged_folder_in_one_line(result, tmp_path, how):
    out = write_run(result, tmp_path / "run", report=False)
    _damage(out, how)
    file, needle = DAMAGE[how]
    with pytest.raises(RunFolderError) as exc:
        read_run(out)
    msg = one_line_error(exc, out, file)
    assert needle in msg
    assert ("upgrade index-engine" if how == "newer format" else "index-engine run") in msg


def test_missing_folder_names_the_run_left_aside(tmp_path):
    (tmp_path / ".run.old-7-0123abcd").mkdir()
    with pytest.raises(RunFolderError, match=r"does not exist; an interrupted write left the previous run in "
                                             r"\.run\.old-7-0123abcd"):
        read_run(tmp_path / "run")


# --------------------------------------------------------------------- output folder checks
def test_check_output_dir_accepts_new_empty_run_and_old_run_folders(result, tmp_path):
    assert check_output_dir(tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()
    assert not (tmp_path / "a").exists()  # a check creates nothing
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    check_output_dir(write_run(result, tmp_path / "run"))
    old = tmp_path / "old"  # written before manifests existed (or half-written by that writer)
    old.mkdir()
    shutil.copy(tmp_path / "run" / "nav.parquet", old / "nav.parquet")
    shutil.copy(tmp_path / "run" / "summary.json", old / "summary.json")
    result.write(old)
    assert read_run(old).nav.equals(result.nav)


@pytest.mark.parametrize("case, needle", [
    ("parent is a file", "cannot create the folder: {p}/afile is a file, not a folder"),
    ("target is a file", "is a file, not a folder (index-engine never replaces a file)"),
    ("foreign folder", "exists and is not an index-engine folder"),
    ("run folder with a user file", "holds notes.txt, which index-engine did not write"),
    ("run folder with a subfolder", "holds plots, which index-engine did not write"),
    ("sweep folder", "is a sweep folder, not a run folder"),
    ("foreign manifest", "its manifest.json was not written by index-engine"),
])
def test_check_output_dir_refuses_what_it_must_not_replace(result, tmp_path, case, needle):
    (tmp_path / "afile").write_text("mine")
    target = {"parent is a file": tmp_path / "afile" / "run", "target is a file": tmp_path / "afile"}.get(
        case, tmp_path / "t")
    if case == "foreign folder":
        target.mkdir()
        (target / "thesis.tex").write_text("mine")
    elif case in ("run folder with a user file", "run folder with a subfolder"):
        write_run(result, target, report=False)
        if case.endswith("user file"):
            (target / "notes.txt").write_text("mine")
        else:
            (target / "plots").mkdir()
    elif case == "sweep folder":
        write_sweep(pl.DataFrame({"regime.window": [1], "sharpe": [1.0]}).pipe(_sweep_row), target, {"regime.window": [1]})
    elif case == "foreign manifest":
        target.mkdir()
        (target / "manifest.json").write_text('{"name": "my-app"}')
    before = sorted(os.listdir(target)) if target.is_dir() else None
    with pytest.raises(RunFolderError) as exc:
        check_output_dir(target)
    assert needle.format(p=tmp_path) in one_line_error(exc, target)
    with pytest.raises(RunFolderError):
        result.write(target)  # the writer refuses it too, and leaves it as it was
    assert (sorted(os.listdir(target)) if target.is_dir() else None) == before
    assert (tmp_path / "afile").read_text() == "mine"


def _sweep_row(frame: pl.DataFrame) -> pl.DataFrame:
    from backtest.sweep import ROW_STATS

    return frame.with_columns(*(pl.lit(0.5).alias(k) for k in ROW_STATS if k != "sharpe"))


def _chmod_bites(tmp_path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o500)
    try:
        (probe / "x").write_text("x")
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
    return False


def test_check_output_dir_refuses_a_folder_it_cannot_write(tmp_path):
    if not _chmod_bites(tmp_path):
        pytest.skip("chmod does not restrict this user (root); test_run_folders_cli drops CAP_DAC_OVERRIDE for it")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(RunFolderError, match=r"cannot write in .*/ro \(Permission denied\)"):
            check_output_dir(ro / "run")
    finally:
        ro.chmod(0o700)


# ------------------------------------------------------------------------------------ lock
def test_second_writer_fails_fast_naming_the_holder(result, tmp_path):
    out = tmp_path / "run"
    errors = []
    with output_lock(out):
        with output_lock(out):  # re-entrant in the holding thread
            result.write(out, report=False)
        t = threading.Thread(target=lambda: errors.append(_catch(lambda: result.write(out))))
        t.start()
        t.join()
        assert (tmp_path / "run.lock").exists()
    assert len(errors) == 1 and f"pid {os.getpid()} on " in errors[0] and "another process is writing" in errors[0]
    assert str(out) in errors[0] and "\n" not in errors[0]
    assert not (tmp_path / "run.lock").exists()  # released and removed
    read_run(out)


def _catch(fn) -> str | None:
    try:
        fn()
    except RunFolderError as exc:
        return str(exc)
    return None


def test_a_stale_lock_file_does_not_block_and_a_foreign_one_is_kept(result, tmp_path):
    out = tmp_path / "run"
    (tmp_path / "run.lock").write_text('{"index-engine-lock": 1, "pid": 999999, "host": "gone", "since": "-"}')
    result.write(out, report=False)  # nobody holds the flock: a dead writer's file is just reused
    assert not (tmp_path / "run.lock").exists()
    (tmp_path / "run.lock").write_text("my shopping list")
    with pytest.raises(RunFolderError, match="is not an index-engine lock file"):
        result.write(out, report=False)
    assert (tmp_path / "run.lock").read_text() == "my shopping list"


# --------------------------------------------------------------------------------- reports
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
    frame = pl.DataFrame({"regime.window": [20, 60], "sharpe": [1.0, 2.0]}).pipe(_sweep_row)
    out = write_sweep(frame, tmp_path / "sw", {"regime.window": [20, 60]})
    sweep = read_sweep(out)
    assert sweep.frame.equals(frame) and sweep.ranking.startswith("# Sweep: 2 configs")
    with pytest.raises(RunFolderError, match="is a sweep folder, not a run folder"):
        read_run(out)
    (out / "ranking.md").write_text("edited")
    with pytest.raises(RunFolderError, match="ranking.md: 6 bytes"):
        read_sweep(out)
    with pytest.raises(RunFolderError, match="is a run folder, not a sweep folder"):
        check_output_dir(write_run(*_a_run(tmp_path)), kind="sweep")


def _a_run(tmp_path):
    market = MarketData.synthetic(seed=1, n_assets=30, days=60)
    return run_backtest(IndexConfig.from_dict({"selection": {"top_n": 3}, "regime": {"window": 10}}), market), \
        tmp_path / "a-run"
