"""``index-engine export``: every table of a run read back from CSV and from the workbook equals the
Parquet it came from; the export folder is never inside a run; a damaged run and a missing extra are
one-line errors."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from backtest import manifest as mf
from backtest.export import EXCEL_MAX_ROWS, export_tables, statistics_table
from backtest.io import EXPORT_FILES, EXPORT_TABLES, read_run, read_sweep, write_run, write_sweep_dir
from tests._runs import damage, run_cli, small_run, sweep_row

openpyxl = pytest.importorskip("openpyxl")  # the dev extra's reader of the workbook


def _error(code: int, out: str, err: str) -> str:
    assert code == 2 and out == "" and "Traceback" not in err, out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture()
def run_dir(tmp_path) -> Path:
    # a hostile symbol: text that a spreadsheet would take for a formula
    result = small_run()
    tx = result.transactions.with_columns(pl.when(pl.col("asset_id") == "bitcoin").then(pl.lit("=1+2"))
                                          .otherwise(pl.col("symbol")).alias("symbol"))
    return write_run(result.with_frames(transactions=tx), tmp_path / "runs" / "small", report=False)


def test_csv_files_read_back_equal_to_the_parquet_tables(monkeypatch, capsys, run_dir):
    code, out, err = run_cli(monkeypatch, capsys, "export", run_dir)
    folder = run_dir.parent / "small-csv"  # the default: beside the run
    assert code == 0 and out.strip() == f"wrote {folder}/ ({', '.join(sorted(f'{t}.csv' for t in EXPORT_TABLES))})", err
    run = read_run(run_dir)  # the run folder is untouched and still verifies
    tables = export_tables(run)
    assert list(tables) == list(EXPORT_TABLES)
    for name, frame in tables.items():
        back = pl.read_csv(folder / f"{name}.csv", schema=frame.schema)
        assert_frame_equal(back, frame)  # exact: every column, dates, NaN, numbers to the last bit
    tx = pl.read_csv(folder / "transactions.csv", schema=run.transactions.schema)
    assert {"fee", "platform_fee", "slippage", "gas"} <= set(tx.columns) and tx["fee"].sum() > 0
    assert "=1+2" in tx["symbol"].to_list()
    assert (folder / "nav.csv").read_text().splitlines()[1].startswith(str(run.nav["date"][0]))  # ISO dates
    mf.verify(folder, "export", (), EXPORT_FILES)  # a manifest like every folder index-engine writes
    # exporting again replaces the export folder as a whole
    assert run_cli(monkeypatch, capsys, "export", run_dir, "--out", folder)[0] == 0


def test_statistics_table_has_a_row_per_series_and_typed_columns(run_dir):
    summary = read_run(run_dir).summary
    stats = statistics_table(summary)
    assert stats["series"].to_list() == ["index", "gross", *summary["benchmarks"]]
    assert stats["kind"].to_list() == ["index", "gross", *["benchmark"] * len(summary["benchmarks"])]
    assert stats.schema["start"] == pl.Date and stats.schema["n_observations"] == pl.Int64
    assert stats.schema["cagr"] == pl.Float64 and stats.schema["max_drawdown_peak"] == pl.Date
    index = stats.row(0, named=True)
    for key, value in summary["statistics"].items():
        if isinstance(value, dict):
            assert all(index[f"{key}.{k}"] == v for k, v in value.items())
        elif isinstance(value, str):
            assert index[key] == dt.date.fromisoformat(value)
        else:
            assert index[key] == value  # unrounded
    assert stats.row(1, named=True)["sharpe"] == summary["gross"]["sharpe"]


def _cell(value):
    if isinstance(value, dt.datetime):
        return value.date()
    return math.nan if value == "=#NUM!" else value  # NaN is Excel's #NUM! error


def test_xlsx_sheets_read_back_equal_to_the_parquet_tables(monkeypatch, capsys, run_dir, tmp_path):
    out = tmp_path / "exports" / "x"
    code, stdout, err = run_cli(monkeypatch, capsys, "export", run_dir, "--format", "xlsx", "--out", out)
    assert code == 0 and stdout.strip() == f"wrote {out}/ (run.xlsx)", err
    wb = openpyxl.load_workbook(out / "run.xlsx")
    tables = export_tables(read_run(run_dir))
    assert wb.sheetnames == list(EXPORT_TABLES)
    for name, frame in tables.items():
        rows = list(wb[name].iter_rows(values_only=True))
        assert list(rows[0]) == frame.columns and len(rows) == frame.height + 1, name
        for got, want in zip(rows[1:], frame.iter_rows()):
            for g, w in zip(map(_cell, got), want):
                if isinstance(w, float):
                    assert (math.isnan(w) and math.isnan(g)) or g == pytest.approx(w, rel=1e-15, abs=0), name
                else:
                    assert g == w, name
    assert wb["nav"]["A2"].number_format == "yyyy-mm-dd" and wb["nav"]["B2"].number_format == "General"
    symbols = [c for c in wb["transactions"]["C"] if c.value == "=1+2"]
    assert symbols and all(c.data_type == "s" for c in symbols)  # text, never a formula


@pytest.mark.parametrize("where", ["inside", "itself", "another run", "inside a sweep", "own folder"])
def test_refuses_to_write_inside_a_run_or_over_a_foreign_folder(monkeypatch, capsys, run_dir, tmp_path, where):
    other = write_run(small_run(), tmp_path / "other", report=False)
    sweep = write_sweep_dir(sweep_row(pl.DataFrame({"sharpe": [1.0]})), "# ranking\n", tmp_path / "sweep")
    own = tmp_path / "mine"
    own.mkdir()
    (own / "notes.txt").write_text("mine")
    out, phrase = {"inside": (run_dir / "export", "is inside the run folder"),
                   "itself": (run_dir, "is inside the run folder"),
                   "another run": (other, "is a run folder"),
                   "inside a sweep": (sweep / "export", f"is inside {sweep}, which is a sweep folder"),
                   "own folder": (own, "exists and is not an index-engine folder")}[where]
    err = _error(*run_cli(monkeypatch, capsys, "export", run_dir, "--out", out))
    assert phrase in err, err
    read_run(run_dir), read_run(other)  # both still verify
    assert not (run_dir / "export").exists() and not (sweep / "export").exists()
    assert (own / "notes.txt").read_text() == "mine"


def test_a_best_run_of_a_sweep_needs_out_outside_the_sweep(monkeypatch, capsys, tmp_path):
    def best(tmp: Path) -> None:  # as sweep --write-best does
        write_run(small_run(), tmp / "best" / "01_x", report=False)

    sweep = write_sweep_dir(sweep_row(pl.DataFrame({"sharpe": [1.0]})), "# ranking\n", tmp_path / "sweep", extra=best)
    run = sweep / "best" / "01_x"
    err = _error(*run_cli(monkeypatch, capsys, "export", run))  # the default, beside it, is inside the sweep
    assert f"is inside {sweep}, which is a sweep folder" in err and err.endswith("give --out a folder outside it\n")
    assert run_cli(monkeypatch, capsys, "export", run, "--out", tmp_path / "best-01")[0] == 0
    read_sweep(sweep)  # untouched


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_damaged_run_is_one_line_and_nothing_is_written(monkeypatch, capsys, run_dir, fmt):
    damage(run_dir, "same size, other bytes")
    err = _error(*run_cli(monkeypatch, capsys, "export", run_dir, "--format", fmt))
    assert "nav.parquet" in err and "content differs from manifest.json" in err, err
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["small"]


def test_without_xlsxwriter_xlsx_fails_with_the_extra_and_csv_works(monkeypatch, capsys, run_dir):
    for name in [m for m in sys.modules if m == "xlsxwriter" or m.startswith("xlsxwriter.")] or ["xlsxwriter"]:
        monkeypatch.setitem(sys.modules, name, None)  # an import of it now fails
    err = _error(*run_cli(monkeypatch, capsys, "export", run_dir, "--format", "xlsx"))
    assert err == ("error: export --format xlsx needs the 'xlsxwriter' package, which is not installed: "
                   "pip install 'index-engine[export]'\n")
    assert not (run_dir.parent / "small-xlsx").exists()
    assert run_cli(monkeypatch, capsys, "export", run_dir)[0] == 0 and (run_dir.parent / "small-csv" / "nav.csv").is_file()


def test_a_table_longer_than_an_excel_sheet_asks_for_csv(monkeypatch, capsys, run_dir):
    import backtest.export

    n = read_run(run_dir).nav.height
    assert EXCEL_MAX_ROWS == 2**20
    monkeypatch.setattr(backtest.export, "EXCEL_MAX_ROWS", n)  # the header takes one row
    err = _error(*run_cli(monkeypatch, capsys, "export", run_dir, "--format", "xlsx"))
    assert f"nav.parquet: nav has {n:,} rows, more than an Excel sheet holds ({n - 1:,} below" in err, err
    assert err.endswith("; export as csv\n") and not (run_dir.parent / "small-xlsx").exists()


def test_the_reports_csv_download_writes_every_cost_column_from_its_own_data():
    """report.html's "download CSV" (assets/transactions.js): the columns of transactions.parquet in
    order, each cost column filled from its own payload array (fee f, platform_fee pf, slippage sl,
    gas g). The browser test downloads it and compares the sums."""
    import re

    from backtest.io import RUN_COLUMNS

    js = (Path(__file__).resolve().parents[1] / "backtest" / "report" / "assets" / "transactions.js").read_text()
    body = js[js.index("function csv()"):]
    head = re.search(r'var head = "([^"\\]*)\\n"', body).group(1).split(",")
    cells = re.search(r"return \[(.*?)\]\.map", body, re.S).group(1)
    cells = [c.strip() for c in re.split(r",\s*(?![^\[]*\])", " ".join(cells.split()))]
    assert head == list(RUN_COLUMNS["transactions.parquet"]) and len(cells) == len(head)
    by_column = dict(zip(head, cells))
    assert {c: by_column[c] for c in ("notional", "fee", "platform_fee", "slippage", "gas")} == {
        "notional": "T.n[i]", "fee": "T.f[i]", "platform_fee": "T.pf[i]", "slippage": "T.sl[i]", "gas": "T.g[i]"}
