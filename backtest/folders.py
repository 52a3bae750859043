"""The contract of every folder index-engine writes: which files a run, sweep, export or compare
folder holds, and the columns and dtypes of a run's Parquet files (docs/outputs.md). ``backtest.io``
writes and verifies folders against it."""

from __future__ import annotations

import re

import polars as pl

_F, _S, _D = pl.Float64(), pl.String(), pl.Date()
#: The contract of every Parquet file of a run folder: columns in file order and their dtypes.
RUN_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "nav.parquet": {"date": _D, "nav": _F, "regime": _S, "stable_weight": _F, "turnover": _F, "costs": _F,
                    "n_holdings": pl.Int64(), "fee": _F, "platform_fee": _F, "slippage": _F, "gas": _F,
                    "signal": _F, "signal_sma": _F, "index_level": _F, "rebalance_skipped": pl.Boolean(),
                    "risk_share": _F, "stable_yield": _F},
    "holdings.parquet": {"date": _D, "asset_id": _S, "symbol": _S, "quantity": _F, "price": _F, "value": _F,
                         "weight": _F},
    "transactions.parquet": {"date": _D, "asset_id": _S, "symbol": _S, "side": _S, "quantity": _F, "price": _F,
                             "notional": _F, "fee": _F, "slippage": _F, "gas": _F, "reason": _S, "platform_fee": _F},
    "unfilled.parquet": {"date": _D, "asset_id": _S, "symbol": _S, "side": _S, "requested_notional": _F,
                         "filled_notional": _F, "price": _F, "reason": _S},
    "benchmarks.parquet": {"date": _D, "benchmark": _S, "nav": _F, "index_level": _F},
}
#: Further columns a file may carry, by name pattern: the regime's per-signal values, thresholds and votes.
EXTRA_COLUMNS = {"nav.parquet": re.compile(r"^(signal|vote)_[a-z0-9_]+$")}
NONE = re.compile(r"(?!)")
#: Tables a run can legitimately leave empty: no trade date in the window (holdings, transactions),
#: nothing left unfilled, no benchmarks configured. nav.parquet always has a row per observation.
EMPTY_ALLOWED = frozenset({"holdings.parquet", "transactions.parquet", "unfilled.parquet", "benchmarks.parquet"})
SUMMARY_KEYS = ("index", "statistics", "gross", "benchmarks", "regime_switches", "warnings", "data", "config",
                "config_sha256", "version")
REPORT = "report.html"
RUN_FILES = (*RUN_COLUMNS, "summary.json")  # every run folder has these; report.html is optional
SWEEP_FILES = ("sweep.parquet", "ranking.md")
BEST_FILES = ("best.json", "best")  # sweep --write-best: the configs, and the run folders (backtest.sweep_best)
#: what ``index-engine export`` writes (``backtest.export``): one CSV per table, or one workbook
EXPORT_TABLES = ("statistics", *(n.removesuffix(".parquet") for n in RUN_COLUMNS), "regime_switches")
EXPORT_FILES = (*(f"{t}.csv" for t in EXPORT_TABLES), "run.xlsx")
COMPARE_FILES = ("compare.html", "compare.md", "compare.csv")  # index-engine compare --out DIR
REQUIRED = {"run": RUN_FILES, "sweep": SWEEP_FILES, "export": (), "compare": COMPARE_FILES}
KNOWN = {"run": (*RUN_FILES, REPORT), "sweep": (*SWEEP_FILES, *BEST_FILES), "export": EXPORT_FILES,
         "compare": COMPARE_FILES}


def schema_problem(frame: pl.DataFrame, name: str) -> str | None:
    """What is wrong with run file ``name``'s columns or rows against the contract (None: nothing)."""
    expected = RUN_COLUMNS[name]
    if missing := [c for c in expected if c not in frame.schema]:
        return f"is missing column{'s' * (len(missing) > 1)} {', '.join(missing)}"
    if extra := [c for c in frame.columns if c not in expected and not EXTRA_COLUMNS.get(name, NONE).match(c)]:
        return f"has unexpected column{'s' * (len(extra) > 1)} {', '.join(extra)}"
    for col, dtype in expected.items():
        if frame.schema[col] != dtype:
            return f"column {col} is {frame.schema[col]}, expected {dtype}"
    if frame.is_empty() and name not in EMPTY_ALLOWED:
        return "has no rows (a run has one row per observation)"
    return None


def summary_problem(summary) -> str | None:
    """What is wrong with a parsed summary.json (None: nothing); new keys are never required."""
    if not isinstance(summary, dict):
        return "is not a JSON object"
    if missing := [k for k in SUMMARY_KEYS if k not in summary]:
        return f"lacks the key{'s' * (len(missing) > 1)} {', '.join(missing)}"
    return None
