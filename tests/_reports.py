"""Shared helpers of the report tests: a small finished run folder, the page's embedded data and
tables read back, and a copy of a run whose every user-visible string is hostile."""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path

import polars as pl

from backtest import manifest, run_backtest
from backtest.io import render_run_dir
from index_engine import IndexConfig, MarketData

BASE_CONFIG = {
    "name": "Test 20 regime index",
    "description": "Top 20 of a small synthetic market",
    "selection": {"top_n": 20},
    "regime": {"window": 60},
    "costs": {"fee_bps": 10, "platform_fee_bps": 20, "slippage_bps": 5, "gas_usd": 1},
    "benchmarks": {"assets": ["bitcoin"], "no_regime": True, "equal_weight": True},
}
#: Strings that would run, close an element, restyle the terminal or break a layout if shown unescaped.
HOSTILE = [
    "<script>window.__pwned=1</script>", "[/]", "[bold]red[/bold]", "\"double\" 'single'", "nul\x00byte",
    "\x1b[31mansi\x1b[0m", "W" * 300, "<!--<script>", "</script><script>window.__pwned=2</script>",
    "<img src=x onerror=\"window.__pwned=3\">", "&amp; <b>bold</b>", "a\u2028b",
]


def make_run_dir(out: Path, overrides: dict | None = None, days: int = 500) -> Path:
    """A finished run of a small synthetic market written to ``out`` (report included)."""
    market = MarketData.synthetic(seed=3, n_assets=60, days=days, start="2021-01-01", n_stablecoins=2)
    cfg = IndexConfig.from_dict(BASE_CONFIG)
    if overrides:
        cfg = cfg.with_overrides(overrides)
    run_backtest(cfg, market).write(out)
    return out


def payload(html: str) -> dict:
    """The report's embedded JSON (``ReportPayload``), parsed."""
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def table(html: str, table_id: str) -> list[list[str]]:
    """The text of every row (header rows too) of the table with ``table_id``, entities decoded."""
    m = re.search(rf'<table[^>]*\bid="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert m, f"no table {table_id}"
    return [[htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.S)]


def frames(run: Path) -> tuple[dict, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """summary.json and the nav, holdings, transactions and benchmarks tables of a run folder."""
    read = lambda f: pl.read_parquet(run / f)  # noqa: E731
    return (json.loads((run / "summary.json").read_text()), read("nav.parquet"), read("holdings.parquet"),
            read("transactions.parquet"), read("benchmarks.parquet"))


def make_hostile_run(run: Path, out: Path) -> Path:
    """A copy of ``run`` whose symbols, index name, description, warnings and data source are hostile."""
    summary, nav, holdings, tx, bench = frames(run)
    ids = sorted((set(holdings["asset_id"]) | set(tx["asset_id"])) - {"cash"})
    sym = {a: HOSTILE[i % len(HOSTILE)] + ("" if i < len(HOSTILE) else f" {i}") for i, a in enumerate(ids)} | {"cash": "cash"}
    relabel = lambda f: f.with_columns(pl.col("asset_id").replace_strict(sym).alias("symbol"))  # noqa: E731
    summary["index"] = summary["config"]["name"] = HOSTILE[0] + HOSTILE[4] + HOSTILE[5]
    summary["config"]["description"] = " ".join(HOSTILE)
    summary["data"]["source"] = HOSTILE[8] + "/" + "x" * 300
    summary["warnings"] = {HOSTILE[9]: {"count": 1, "message": HOSTILE[7] + " " + "y" * 300,
                                        "examples": HOSTILE + ["z" * 300]}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary))
    nav.write_parquet(out / "nav.parquet")
    bench.write_parquet(out / "benchmarks.parquet")
    relabel(holdings).write_parquet(out / "holdings.parquet")
    relabel(tx).write_parquet(out / "transactions.parquet")
    (out / "unfilled.parquet").write_bytes((run / "unfilled.parquet").read_bytes())
    (out / "manifest.json").write_text(json.dumps(manifest.build(out, "run")))  # a complete run folder
    render_run_dir(out)
    return out
