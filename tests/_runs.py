"""Shared helpers of the run-folder tests: a small real run, checksums, ways to damage a folder, and
the CLI called in-process."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys

import polars as pl

from backtest import BacktestResult, run_backtest
from index_engine import IndexConfig, MarketData

#: Every table of this run has rows (benchmarks: no_regime; unfilled: min_order_usd).
CONFIG = {"selection": {"top_n": 5}, "regime": {"window": 20}, "benchmarks": {"no_regime": True},
          "costs": {"min_order_usd": 5000}}


@functools.cache
def small_run(top_n: int = 5) -> BacktestResult:
    """A real backtest of a small synthetic market (computed once per process and top_n)."""
    market = MarketData.synthetic(seed=1, n_assets=30, days=200)
    return run_backtest(IndexConfig.from_dict({**CONFIG, "selection": {"top_n": top_n}}), market)


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


def damage(folder, how: str) -> None:
    """Damage a run folder in one of the ``DAMAGE`` ways ("…, manifest rewritten": as a tool
    that wrote a bad file and listed it would)."""
    nav = folder / "nav.parquet"
    if how.startswith("truncated parquet"):
        nav.write_bytes(nav.read_bytes()[:200])
    elif how == "bad JSON":
        (folder / "summary.json").write_text('{"index": ')
    elif how == "summary not a summary":
        (folder / "summary.json").write_text("[1, 2]")
    elif how == "file missing":
        (folder / "holdings.parquet").unlink()
    elif how == "column missing":
        pl.read_parquet(nav).drop("index_level").write_parquet(nav)
    elif how == "wrong dtype":
        pl.read_parquet(nav).with_columns(pl.col("nav").cast(pl.String)).write_parquet(nav)
    elif how == "no rows":
        pl.read_parquet(nav).clear().write_parquet(nav)
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
    else:
        raise ValueError(how)
    if how in REWRITTEN:
        refresh_manifest(folder)


#: Damage whose manifest is rewritten to match, so that the content checks (not the sha256) catch it.
REWRITTEN = ("truncated parquet, manifest rewritten", "bad JSON", "summary not a summary", "column missing",
             "wrong dtype", "no rows")
#: how → (the file the error names, a phrase of the message)
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


def sweep_row(frame: pl.DataFrame) -> pl.DataFrame:
    """A sweep table: ``frame`` (swept columns and sharpe) plus every other statistic column."""
    from backtest.stats import ROW_STATS

    return frame.with_columns(*(pl.lit(0.5).alias(k) for k in ROW_STATS if k != "sharpe"))


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """``index-engine *args`` in this process (wide terminal): its exit code, stdout and stderr."""
    from backtest.cli import entrypoint

    monkeypatch.setenv("COLUMNS", "500")
    monkeypatch.setattr(sys, "argv", ["index-engine", *map(str, args)])
    code = 0
    try:
        entrypoint()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
