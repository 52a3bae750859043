"""The values of the report's analysis parts: relative statistics (rows of the statistics table),
the drawdown table, the return distribution and contributions to return (the rolling 1-year series
are in the payload: ``payload.rolling_series``). Numbers come from ``backtest.analysis`` or
summary.json; each function returns formatted text and rows for ``templates/*.html.j2``."""

from __future__ import annotations

import numpy as np
import polars as pl

from backtest.analysis import drawdown_table, relative_between, return_distribution
from backtest.formatting import integer, num, pct

#: (label, key, format) of the relative rows of the statistics table
RELATIVE_ROWS = (
    ("Excess return (CAGR difference)", "excess_return", "pct"), ("Tracking error (ann.)", "tracking_error", "pct"),
    ("Information ratio", "information_ratio", "num"), ("Beta", "beta", "num"), ("Alpha (ann.)", "alpha", "pct"),
    ("Correlation", "correlation", "num"), ("Up capture", "up_capture", "num"), ("Down capture", "down_capture", "num"),
)
TOP_PER_YEAR = 5


def _fmt(v, kind: str) -> str:
    return pct(v, 2) if kind == "pct" else num(v)


def relative(summary: dict, nav: pl.DataFrame, benchmarks: pl.DataFrame | None) -> dict[str, dict]:
    """summary.json's ``relative``; for a run folder written before it, computed from the NAVs."""
    if isinstance(summary.get("relative"), dict):
        return summary["relative"]
    if benchmarks is None or not nav.height:
        return {}
    st, out = summary.get("statistics") or {}, {}
    for name in benchmarks["benchmark"].unique(maintain_order=True).to_list():
        b = benchmarks.filter(pl.col("benchmark") == name)
        bst = (summary.get("benchmarks") or {}).get(name) or {}
        ours, theirs = st.get("initial_nav"), bst.get("initial_nav")
        initial = (float(ours), float(theirs)) if ours is not None and theirs is not None else None
        out[name] = relative_between(nav["date"].to_numpy(), nav["nav"].to_numpy(), b["date"].to_numpy(),
                                     b["nav"].to_numpy(), initial)
    return out


def relative_rows(rel: dict[str, dict], columns: list[str | None]) -> list[dict]:
    """Rows under the statistics table: the index (net) against the benchmark of each column
    (``columns``: the benchmark name of each column, None for the index's own columns)."""
    return [{"label": label, "cells": ["" if n is None else _fmt((rel.get(n) or {}).get(key), kind) for n in columns]}
            for label, key, kind in RELATIVE_ROWS]


def drawdowns(nav: pl.DataFrame, n: int = 10) -> list[dict] | None:
    """The ``n`` worst drawdowns of the net NAV, formatted; None below two observations."""
    if nav.height < 2:
        return None
    t = drawdown_table(nav["nav"].to_numpy(), nav["date"].to_numpy(), n)
    return [{"rank": r["rank"], "depth": pct(r["depth"], 1), "peak": str(r["peak"]), "trough": str(r["trough"]),
             "recovery": "not yet" if r["recovery"] is None else str(r["recovery"]),
             "decline": integer(r["decline_days"]), "recover": integer(r["recovery_days"]),
             "total": integer(r["total_days"])} for r in t.iter_rows(named=True)]


def distribution(nav: pl.DataFrame, series: list[tuple[str, np.ndarray]], ppy: float | None) -> dict | None:
    """The return distribution of every series (net, gross, benchmarks) side by side."""
    if nav.height < 2:
        return None
    dates = nav["date"].to_numpy()
    unit = "day" if ppy is not None and ppy > 300 else "period"
    per = [return_distribution(v, dates) for _, v in series]

    def when(d: dict, key: str) -> str:
        return f"{pct(d[key], 1, True)} ({d[key + ('_date' if 'day' in key else '_period')] or '–'})"

    rows = [
        (f"Skew ({unit} returns)", [num(d["skew"]) for d in per]),
        ("Excess kurtosis", [num(d["kurtosis"]) for d in per]),
        ("VaR 95 % (historical)", [pct(d["var_95"], 2) for d in per]),
        ("CVaR 95 % (expected shortfall)", [pct(d["cvar_95"], 2) for d in per]),
        (f"Best {unit}", [when(d, "best_day") for d in per]), (f"Worst {unit}", [when(d, "worst_day") for d in per]),
        ("Best month", [when(d, "best_month") for d in per]), ("Worst month", [when(d, "worst_month") for d in per]),
        (f"Hit rate ({unit}s up)", [pct(d["hit_rate"], 1) for d in per]),
        ("Hit rate (months up)", [pct(d["hit_rate_months"], 1) for d in per]),
    ]
    return {"names": [name for name, _ in series], "rows": [{"label": a, "cells": b} for a, b in rows]}


def _entry(e: dict) -> dict:
    return {"symbol": str(e.get("symbol") or e.get("asset_id")), "id": str(e.get("asset_id")),
            "text": pct(e.get("contribution"), 2, True)}


def _period(p: dict, top: int) -> dict:
    return {"period": str(p.get("period")), "ret": pct(p.get("return"), 1, True),
            "contributors": [_entry(e) for e in (p.get("contributors") or [])[:top]],
            "detractors": [_entry(e) for e in (p.get("detractors") or [])[:top]],
            "others": pct(p.get("others"), 2, True), "sleeve": pct(p.get("stable_sleeve"), 2, True),
            "costs": pct(p.get("costs"), 2, True), "n": integer(p.get("n_assets"))}


def contributions(summary: dict) -> dict | None:
    """The contributions of summary.json: the whole window (top 10 each way), each year and each
    regime state (top 5); None for a run folder written before they were recorded."""
    c = summary.get("contributions")
    if not isinstance(c, dict) or not c.get("all"):
        return None
    return {"all": _period(c["all"][0], 10), "years": [_period(p, TOP_PER_YEAR) for p in c.get("year") or []],
            "regimes": [_period(p, TOP_PER_YEAR) for p in c.get("regime") or []]}
