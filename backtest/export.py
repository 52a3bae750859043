"""``index-engine export``: every table of a verified run folder as CSV files or one Excel workbook.

The tables are those of ``backtest.io.read_run`` (nav, holdings, transactions, unfilled,
benchmarks) exactly as stored (every column, numbers unrounded, dates as ISO dates), plus two from
summary.json: ``statistics`` (one row per series — the index net of costs, its gross level, each
benchmark — and one column per statistic) and ``regime_switches``. They are written into an
export folder beside the run (never inside it: a run folder holds only its own files), atomically
and with a manifest, like every folder index-engine writes (``backtest.io.write_export_dir``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl

from backtest import manifest as mf
from backtest.io import EXPORT_TABLES, MANIFEST, RunFiles, check_output_dir, read_run, write_export_dir
from index_engine.errors import RunFolderError
from index_engine.extras import require_extra

FORMATS = ("csv", "xlsx")
WORKBOOK = "run.xlsx"
#: rows of an Excel worksheet, the header included
EXCEL_MAX_ROWS = 1_048_576
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SWITCH_COLUMNS = {"date": pl.Date(), "to": pl.String(), "share": pl.Float64()}


def default_out(run_dir: str | Path, fmt: str) -> Path:
    """Where ``export RUN_DIR --format FMT`` writes without ``--out``: ``<RUN_DIR>-<fmt>`` beside the run."""
    run = _resolve(run_dir)
    return run.parent / f"{run.name}-{fmt}"


def check_export_target(run_dir: str | Path, out: str | Path | None, fmt: str) -> Path:
    """The resolved export folder for ``run_dir``: ``out`` (default ``default_out``), which must not be
    the run folder, be inside it or inside any other run, sweep or export folder, nor be a folder
    other than an empty one or an earlier export (``check_output_dir``). ``RunFolderError`` otherwise."""
    if fmt not in FORMATS:
        raise RunFolderError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    run = _resolve(run_dir)
    given = out if out is not None else default_out(run_dir, fmt)
    dest = _resolve(given)
    if dest == run or run in dest.parents:
        raise mf.folder_error(given, None, f"is inside the run folder {run}, which holds only the files of its run",
                              "export to a folder outside it (the default is <RUN_DIR>-<format> beside it)")
    for folder in (dest, *dest.parents):
        manifest = mf.parse(folder) if (folder / MANIFEST).is_file() else None
        if manifest is None or (folder == dest and manifest["kind"] == "export"):
            continue
        where = "is" if folder == dest else f"is inside {folder}, which is"
        raise mf.folder_error(given, None, f"{where} a {manifest['kind']} folder (it holds only its own files)",
                              "export to a folder outside it" if out is not None else "give --out a folder outside it")
    return check_output_dir(dest, "export")


def export_run(run_dir: str | Path, fmt: str = "csv", out: str | Path | None = None) -> Path:
    """Export the verified run folder ``run_dir`` (``read_run``) as ``fmt`` ("csv": one
    ``<table>.csv`` per table; "xlsx": ``run.xlsx`` with a sheet per table) into ``out`` (default
    ``<run_dir>-<fmt>`` beside it), atomically. Returns the resolved export folder. The xlsx format
    needs the ``export`` extra (``MissingExtraError`` before anything is read)."""
    if fmt == "xlsx":
        require_extra("export", "export --format xlsx")
    target = check_export_target(run_dir, out, fmt)  # before reading anything
    tables = export_tables(read_run(run_dir))
    if fmt == "xlsx":
        for name, frame in tables.items():
            if frame.height + 1 > EXCEL_MAX_ROWS:
                source = "summary.json" if name in ("statistics", "regime_switches") else f"{name}.parquet"
                raise mf.folder_error(run_dir, source, f"{name} has {frame.height:,} rows, more than an Excel sheet "
                                      f"holds ({EXCEL_MAX_ROWS - 1:,} below its header)", "export as csv")

    def fill(tmp: Path) -> None:
        if fmt == "csv":
            for name, frame in tables.items():
                frame.write_csv(tmp / f"{name}.csv")
        else:
            write_workbook(tables, tmp / WORKBOOK)

    return write_export_dir(fill, target)


def export_tables(run: RunFiles) -> dict[str, pl.DataFrame]:
    """The exported tables of a run, by name, in ``EXPORT_TABLES`` order."""
    tables = {"statistics": statistics_table(run.summary), "nav": run.nav, "holdings": run.holdings,
              "transactions": run.transactions, "unfilled": run.unfilled, "benchmarks": run.benchmarks,
              "regime_switches": _typed_frame(run.summary.get("regime_switches") or [], _SWITCH_COLUMNS)}
    return {name: tables[name] for name in EXPORT_TABLES}


def statistics_table(summary: dict) -> pl.DataFrame:
    """summary.json's statistics as one table: a row per series (``kind`` index, gross or benchmark;
    ``series`` its name) and a column per statistic, typed (dates as Date, counts as Int64, the rest
    Float64; a nested statistic such as ``n_trades_by_kind`` becomes ``n_trades_by_kind.<key>``)."""
    rows = [{"series": "index", "kind": "index", **_flat(summary.get("statistics") or {})}]
    if summary.get("gross"):
        rows.append({"series": "gross", "kind": "gross", **_flat(summary["gross"])})
    for name, stats in (summary.get("benchmarks") or {}).items():
        rows.append({"series": name, "kind": "benchmark", **_flat(stats or {})})
    return _typed_frame(rows, {"series": pl.String(), "kind": pl.String()})


def write_workbook(tables: dict[str, pl.DataFrame], path: Path) -> None:
    """One worksheet (an Excel table with filters, header frozen) per frame. Numbers are stored with
    16 significant digits (xlsxwriter's; Excel keeps 15) and shown in Excel's General format; dates
    are date cells shown as yyyy-mm-dd; text is never turned into a formula or a link; NaN is
    Excel's #NUM! error."""
    from xlsxwriter import Workbook

    options = {"nan_inf_to_errors": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd", "use_zip64": True}
    with Workbook(str(path), options) as wb:
        for name, frame in tables.items():
            frame.write_excel(wb, name, table_name=name, dtype_formats={pl.Float64: "General", pl.Date: "yyyy-mm-dd"},
                              freeze_panes=(1, 0), autofit=frame.height <= 1000)


# --------------------------------------------------------------------------------------------- helpers
def _resolve(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _flat(stats: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else value
    return out


def _typed_frame(rows: list[dict], fixed: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows of JSON scalars as a frame, one column per key (first appearance order), each typed by
    its values: ISO date strings → Date, booleans → Boolean, integers → Int64, numbers → Float64,
    else String. An empty list gives the ``fixed`` columns with no rows."""
    keys = list(dict.fromkeys([*fixed, *(k for row in rows for k in row)]))
    columns = []
    for key in keys:
        values = [row.get(key) for row in rows]
        columns.append(pl.Series(key, *_typed(values, fixed.get(key))))
    return pl.DataFrame(columns) if columns else pl.DataFrame(schema=fixed)


def _typed(values: list, dtype: pl.DataType | None) -> tuple[list, pl.DataType]:
    present = [v for v in values if v is not None]
    if dtype is None:
        if present and all(isinstance(v, str) and _ISO_DATE.match(v) for v in present):
            dtype = pl.Date()
        elif present and all(isinstance(v, bool) for v in present):
            dtype = pl.Boolean()
        elif present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            dtype = pl.Int64()
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            dtype = pl.Float64()
        else:
            dtype = pl.String()
    if dtype == pl.Date():
        values = [None if v is None else dt.date.fromisoformat(v) for v in values]
    elif dtype == pl.Float64():
        values = [None if v is None else float(v) for v in values]
    elif dtype == pl.String():
        values = [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]
    return values, dtype
