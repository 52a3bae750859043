"""Run and sweep folders: the one place that writes and reads them.

``write_run`` builds the whole folder beside its target, writes ``manifest.json`` (format version,
index-engine version, size and sha256 of every file) last, fsyncs and swaps the folder in
atomically (``backtest.atomic``). ``read_run`` verifies the manifest and the contract columns before
it returns the frames. ``check_output_dir`` validates an output folder before any computing and
``output_lock`` keeps a second writer out. Every failure is a one-line ``RunFolderError``.
Guarantees and how they are tested: docs/reliability.md. (Layering: this module imports neither
``backtest.result`` nor ``backtest.engine`` at module level.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from backtest import atomic
from backtest import manifest as mf
from backtest.folders import (
    BEST_FILES,
    COMPARE_FILES,
    EMPTY_ALLOWED,
    EXPORT_FILES,
    EXPORT_TABLES,
    EXTRA_COLUMNS,
    KNOWN,
    REPORT,
    REQUIRED,
    RUN_COLUMNS,
    RUN_FILES,
    SUMMARY_KEYS,
    SWEEP_FILES,
    schema_problem,
    summary_problem,
)
from backtest.manifest import MANIFEST
from backtest.stats import ROW_STATS
from index_engine.errors import RunFolderError
from index_engine.extras import require_extra

if TYPE_CHECKING:
    from backtest.result import BacktestResult

_RERUN = mf.RERUN
_err = mf.folder_error


@dataclass(frozen=True, eq=False)
class RunFiles:
    """A verified run folder: its resolved path, manifest, summary dict and tables."""

    path: Path
    manifest: dict
    summary: dict
    nav: pl.DataFrame
    holdings: pl.DataFrame
    transactions: pl.DataFrame
    unfilled: pl.DataFrame
    benchmarks: pl.DataFrame


@dataclass(frozen=True, eq=False)
class SweepFiles:
    """A verified sweep folder: its resolved path, manifest, the sweep table and ranking.md."""

    path: Path
    manifest: dict
    frame: pl.DataFrame
    ranking: str


@contextlib.contextmanager
def _os_errors(folder, kind: str):
    """Turn an OS error while reading a folder (e.g. permissions) into one clear line."""
    try:
        yield
    except OSError as exc:
        name = Path(exc.filename).name if exc.filename else None
        raise _err(folder, name, f"cannot be read ({exc.strerror or exc})", "fix its permissions") from None


def _resolve(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.path.expanduser(str(path)))))


# ------------------------------------------------------------------------------------ before a run
def check_output_dir(out_dir: str | Path, kind: str = "run") -> Path:
    """Fail now, before any computing, if ``out_dir`` cannot receive a ``kind`` ("run" or "sweep")
    folder: its parent must be (or be creatable in) a writable folder, and the target must not be a
    file nor a folder other than an empty one or a folder of this kind. Returns the resolved path."""
    target = _resolve(out_dir)
    if target.parent == target:
        raise _err(out_dir, None, f"cannot write a {kind} folder at the filesystem root", "choose another --out")
    base = target.parent
    while not os.path.lexists(base):
        base = base.parent
    if not base.is_dir():
        raise _err(out_dir, None, f"cannot create the folder: {base} is a file, not a folder", "choose another --out")
    try:
        fd, probe = tempfile.mkstemp(dir=base, prefix=".index-engine-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _err(out_dir, None, f"cannot write in {base} ({exc.strerror})",
                   "fix its permissions or choose another --out") from None
    if os.path.lexists(target):
        if not target.is_dir():
            raise _err(out_dir, None, "is a file, not a folder (index-engine never replaces a file)",
                       "choose another --out")
        with _os_errors(out_dir, kind):
            problem = _not_replaceable(target, kind)
        if problem:
            raise _err(out_dir, None, f"exists and {problem}; index-engine replaces only its own {kind} folders",
                       "choose another --out, or move the folder away")
    return target


def output_lock(out_dir: str | Path):
    """Context manager holding ``<out_dir>.lock``: a second writer of the folder fails at once with
    ``RunFolderError`` naming the holder. Re-entrant within a thread; released on exit, and by the
    kernel if the process dies."""
    return atomic.folder_lock(_resolve(out_dir))


def _not_replaceable(folder: Path, kind: str) -> str | None:
    """Why ``folder`` is not an empty folder or a ``kind`` folder (None when it is): everything in
    it must be a file index-engine writes there, listed by its manifest or, for folders written
    before manifests existed, named like one (with at least one of its Parquet files)."""
    names = sorted(os.listdir(folder))
    if not names:
        return None
    allowed, folders = set(KNOWN[kind]), set()
    if MANIFEST in names:
        manifest = mf.parse(folder)
        if manifest is None:
            return f"its {MANIFEST} was not written by index-engine"
        if manifest["kind"] != kind:
            return f"is a {manifest['kind']} folder, not a {kind} folder"
        allowed |= {e["name"] for e in manifest["files"]} | {MANIFEST}
        folders = {e["name"] for e in manifest["files"] if e.get("folder") is True}
    elif not any(n.endswith(".parquet") and n in allowed for n in names):
        return "is not an index-engine folder"
    for name in names:
        path = folder / name
        if name not in allowed or path.is_symlink() or not (path.is_file() or name in folders and path.is_dir()):
            return f"holds {name}, which index-engine did not write"
    return None


# ------------------------------------------------------------------------------------------ writing
def write_run(result: BacktestResult, out_dir: str | Path, report: bool = True) -> Path:
    """Write ``result`` as a run folder, atomically: the five Parquet tables (an empty table with
    the contract columns for a ``None`` benchmarks/unfilled), summary.json, report.html (unless
    ``report=False``) and manifest.json. Returns the resolved folder. Without the report extra
    (jinja2, plotly) ``report=True`` is a ``MissingExtraError`` before anything is written."""
    if report:
        require_extra("report", "report.html")
    frames = {}
    for name, columns in RUN_COLUMNS.items():
        frame = getattr(result, name.removesuffix(".parquet"))
        frame = pl.DataFrame(schema=columns) if frame is None else frame
        if problem := schema_problem(frame, name):
            raise RunFolderError(f"cannot write {out_dir}: the {name.removesuffix('.parquet')} table {problem}")
        frames[name] = frame
    if problem := summary_problem(result.summary):
        raise RunFolderError(f"cannot write {out_dir}: the summary {problem}")
    summary = json.dumps(result.summary, indent=2, allow_nan=False) + "\n"

    def fill(tmp: Path) -> None:
        for name, frame in frames.items():
            frame.write_parquet(tmp / name)
        (tmp / "summary.json").write_text(summary, encoding="utf-8")
        if report:
            from backtest.report import render_report

            html = render_report(result.summary, result.nav, result.holdings, result.transactions, result.benchmarks)
            (tmp / REPORT).write_text(html, encoding="utf-8")

    return _write_folder(out_dir, "run", fill)


def write_sweep_dir(frame: pl.DataFrame, ranking: str, out_dir: str | Path,
                    extra: Callable[[Path], None] | None = None) -> Path:
    """Write a sweep folder atomically: sweep.parquet, ranking.md, what ``extra(tmp)`` adds to the
    folder being built (the ``BEST_FILES``), and manifest.json."""
    def fill(tmp: Path) -> None:
        frame.write_parquet(tmp / "sweep.parquet")
        (tmp / "ranking.md").write_text(ranking, encoding="utf-8")
        if extra is not None:
            extra(tmp)

    return _write_folder(out_dir, "sweep", fill)


def write_export_dir(fill: Callable[[Path], None], out_dir: str | Path) -> Path:
    """Write an export folder (``EXPORT_FILES``, filled by ``fill(tmp)``) atomically with its manifest."""
    return _write_folder(out_dir, "export", fill)


def write_compare_dir(files: dict[str, str], out_dir: str | Path) -> Path:
    """Write a compare folder atomically: ``files`` (each of ``COMPARE_FILES`` → its text) and
    manifest.json. Returns the resolved folder."""
    if sorted(files) != sorted(COMPARE_FILES):
        raise ValueError(f"a compare folder holds exactly {COMPARE_FILES}")

    def fill(tmp: Path) -> None:
        for name, content in files.items():
            (tmp / name).write_text(content, encoding="utf-8")

    return _write_folder(out_dir, "compare", fill)


def _write_folder(out_dir, kind: str, fill: Callable[[Path], None], expect: dict | None = None) -> Path:
    """Build a ``kind`` folder with ``fill`` beside ``out_dir``, add its manifest and swap it in,
    all under the folder's lock. ``expect``: manifest entries the new folder must reproduce."""
    target = check_output_dir(out_dir, kind)
    with atomic.folder_lock(target):
        check_output_dir(target, kind)  # again: the folder may have changed before we got the lock
        atomic.remove_leftovers(target, keep_old=not target.exists())
        tmp = atomic.sibling(target, "tmp")
        try:
            os.mkdir(tmp)
            fill(tmp)
            manifest = mf.build(tmp, kind)
            if expect and {e["name"]: e for e in manifest["files"] if e["name"] in expect} != expect:
                raise _err(target, None, "changed while the report was being rendered", "run index-engine report again")
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            atomic.fsync_tree(tmp)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):  # e.g. a full disk: say so in one line, the target is untouched
                raise _err(target, None, f"could not write the {kind} ({exc.strerror or exc}); the folder is "
                           "unchanged", f"free space or fix permissions, then {_RERUN[kind]}") from exc
            raise
        try:
            atomic.swap_in(tmp, target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # the new folder, or the old one once swapped out
            if isinstance(exc, OSError):
                raise _err(target, None, f"could not move the new {kind} into place ({exc.strerror or exc})",
                           _RERUN[kind]) from exc
            raise
        atomic.remove_leftovers(target)
    return target


# ----------------------------------------------------------------------------------------- reports
def check_report_target(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Where ``index-engine report RUN_DIR [--out OUT]`` may write: the run's own report.html, or a
    file outside every run and sweep folder. Paths are compared after resolving symlinks and
    ``..``; anything else inside the run folder (its data, its manifest) is refused."""
    run = _resolve(run_dir)
    own = run / REPORT
    if out is None:
        return own
    dest = _resolve(out)
    if dest == own:
        return own
    if dest == run or run in dest.parents:
        raise _err(out, None, f"is inside the run folder {run}: only its report.html may be written there, "
                   "never its data or manifest", f"write the report to {own} (the default) or outside the folder")
    if dest.is_dir():
        raise _err(out, None, "is a folder", "give a file name, e.g. report.html")
    if not dest.parent.is_dir():
        raise _err(out, None, f"its folder {dest.parent} does not exist", "create it or choose another --out")
    if (dest.parent / MANIFEST).exists():
        raise _err(out, None, f"is inside another run or sweep folder ({dest.parent}), which would then mix two runs",
                   "write the report outside it")
    return dest


def write_report(run: RunFiles, html: str, out: str | Path | None = None) -> Path:
    """Write a report rendered from ``run`` (a ``read_run`` result) atomically to
    ``check_report_target(run.path, out)``. Into the run folder, the folder is rebuilt beside
    itself (data files hard-linked) with the new report.html and manifest, and swapped in; it is
    refused if the data changed since ``read_run``. Returns the path written."""
    dest = check_report_target(run.path, out)
    data = html.encode("utf-8")
    if dest != run.path / REPORT:
        atomic.write_file(dest, data)
        return dest
    keep = {e["name"]: e for e in run.manifest["files"] if e["name"] != REPORT}

    def fill(tmp: Path) -> None:
        for name in keep:
            try:
                os.link(run.path / name, tmp / name)
            except FileNotFoundError:
                raise _err(run.path, name, "disappeared while the report was being rendered",
                           "run index-engine report again") from None
            except OSError:  # a filesystem without hard links
                shutil.copy2(run.path / name, tmp / name)
        (tmp / REPORT).write_bytes(data)

    return _write_folder(run.path, "run", fill, expect=keep) / REPORT


# ------------------------------------------------------------------------------------------ reading
def render_run_dir(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Read a finished run folder (verified by ``read_run``) and (re)write its report, atomically:
    ``RUN_DIR/report.html`` by default, or ``out`` — never one of the run's data files. Returns the
    path written; ``RunFolderError`` names what is wrong (``MissingExtraError`` without the
    report extra)."""
    require_extra("report", "report.html")
    from backtest.report import render_report
    from index_engine.errors import ConfigError

    check_report_target(run_dir, out)  # a bad --out fails before anything is read or rendered
    run = read_run(run_dir)
    try:
        html = render_report(run.summary, run.nav, run.holdings, run.transactions, run.benchmarks)
    except (RunFolderError, ConfigError) as exc:  # their messages start with the file's name
        raise type(exc)(f"{Path(run_dir)}/{exc}") from None
    return write_report(run, html, out)


def read_run(run_dir: str | Path) -> RunFiles:
    """The verified contents of a finished run folder (see ``verify_folder``), after checking that
    summary.json is a JSON object with the summary keys and that every table reads and has its
    contract columns (``RUN_COLUMNS``); only the ``EMPTY_ALLOWED`` tables may have no rows."""
    folder, frames = Path(run_dir), {}
    with _os_errors(folder, "run"):
        manifest = verify_folder(folder, "run")
        summary = _read_json(folder, "summary.json")
        if problem := summary_problem(summary):
            raise _err(folder, "summary.json", problem, _RERUN["run"])
        for name in RUN_COLUMNS:
            frames[name.removesuffix(".parquet")] = frame = _read_parquet(folder, name, "run")
            if problem := schema_problem(frame, name):
                raise _err(folder, name, problem, _RERUN["run"])
    return RunFiles(path=_resolve(folder), manifest=manifest, summary=summary, **frames)


def read_sweep(sweep_dir: str | Path) -> SweepFiles:
    """The verified contents of a sweep folder: manifest, the sweep table (at least one row and
    every statistic column) and ranking.md."""
    folder = Path(sweep_dir)
    with _os_errors(folder, "sweep"):
        manifest = verify_folder(folder, "sweep")
        frame = _read_parquet(folder, "sweep.parquet", "sweep")
        missing = [c for c in ROW_STATS if c not in frame.columns]
        if missing or frame.is_empty():
            problem = f"is missing columns {', '.join(missing)}" if missing else "has no rows"
            raise _err(folder, "sweep.parquet", problem, _RERUN["sweep"])
        try:
            ranking = (folder / "ranking.md").read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise _err(folder, "ranking.md", "is not UTF-8 text", _RERUN["sweep"]) from None
    return SweepFiles(path=_resolve(folder), manifest=manifest, frame=frame, ranking=ranking)


def verify_folder(folder: str | Path, kind: str = "run") -> dict:
    """Check a ``kind`` ("run" or "sweep") folder against its manifest.json: it lists every file the
    folder must have and only files index-engine writes there, each listed file exists with its
    size and sha256, and the folder holds nothing else. Returns the manifest."""
    return mf.verify(Path(folder), kind, REQUIRED[kind], KNOWN[kind])


def _read_json(folder: Path, name: str):
    try:
        return json.loads((folder / name).read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise _err(folder, name, "not UTF-8 text", _RERUN["run"]) from None
    except json.JSONDecodeError as exc:
        raise _err(folder, name, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                   _RERUN["run"]) from None


def _read_parquet(folder: Path, name: str, kind: str) -> pl.DataFrame:
    try:
        return pl.read_parquet(folder / name)
    except OSError:
        raise
    except Exception:  # polars/arrow raise many types; their text may hold internals or raw bytes
        raise _err(folder, name, "not a readable Parquet file (damaged or truncated)", _RERUN[kind]) from None


__all__ = ["BEST_FILES", "COMPARE_FILES", "EMPTY_ALLOWED", "EXPORT_FILES", "EXPORT_TABLES", "EXTRA_COLUMNS", "REPORT",
           "RUN_COLUMNS", "RUN_FILES", "SUMMARY_KEYS", "SWEEP_FILES"]  # the folder contract, re-exported
