"""Run folders (backtest.io): the contract columns, the manifest, atomic replacement, verified
reading, output-folder checks and the lock. Report targets and sweep folders:
test_io_reports.py; commands and processes: test_run_folders_cli.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading

import polars as pl
import pytest

from backtest import atomic
from backtest.io import EMPTY_ALLOWED, EXTRA_COLUMNS, RUN_COLUMNS, check_output_dir, output_lock, read_run, write_run
from backtest.result import OUTPUT_FILES
from backtest.sweep import write_sweep
from index_engine.errors import RunFolderError
from tests._runs import DAMAGE, damage, one_line_error, sha, small_run, sweep_row


@pytest.fixture(scope="module")
def result():
    return small_run(5)


@pytest.fixture(scope="module")
def other():
    """A second, different run (for 'which run is in the folder' checks)."""
    return small_run(8)


# -------------------------------------------------------------------------------- contract
def test_run_columns_are_what_a_real_run_writes(result, tmp_path):
    assert result.benchmarks.height and result.unfilled.height  # every table has rows in this run
    out = write_run(result, tmp_path / "run")
    for name, columns in RUN_COLUMNS.items():
        schema = dict(pl.read_parquet(out / name).schema)
        extra = {c: schema.pop(c) for c in list(schema) if c not in columns}
        assert schema == columns, name  # names, order and dtypes
        assert list(schema) == list(columns), name
        # beyond the contract: only the regime's per-signal columns (EXTRA_COLUMNS), after the fixed ones
        assert all(EXTRA_COLUMNS[name].match(c) for c in extra), (name, extra)
        assert list(pl.read_parquet(out / name).columns)[: len(columns)] == list(columns), name
    assert set(pl.read_parquet(out / "nav.parquet").columns) >= {
        "signal_total_market_cap_sma", "signal_total_market_cap_sma_lower", "signal_total_market_cap_sma_upper",
        "vote_total_market_cap_sma"}
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
    bare = result.with_frames(holdings=result.holdings.clear(), transactions=result.transactions.clear(),
                   benchmarks=None, unfilled=None)
    run = read_run(write_run(bare, tmp_path / "bare", report=False))
    assert run.benchmarks.is_empty() and run.unfilled.is_empty() and run.transactions.is_empty()
    with pytest.raises(RunFolderError, match="nav table has no rows"):
        write_run(result.with_frames(nav=result.nav.clear()), tmp_path / "empty", report=False)
    with pytest.raises(RunFolderError, match="unexpected column extra"):
        write_run(result.with_frames(nav=result.nav.with_columns(extra=1)), tmp_path / "x", report=False)
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
@pytest.mark.parametrize("how", list(DAMAGE))
def test_read_run_refuses_a_damaged_folder_in_one_line(result, tmp_path, how):
    out = write_run(result, tmp_path / "run", report=False)
    damage(out, how)
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
        write_sweep(pl.DataFrame({"regime.window": [1], "sharpe": [1.0]}).pipe(sweep_row), target, {"regime.window": [1]})
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
