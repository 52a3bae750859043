"""The values of the report's tables: monthly returns, statistics, per-regime statistics, regime
periods and the methodology facts. Numbers come from ``backtest.stats``; each function returns
formatted text and rows for ``templates/*.html.j2`` to lay out."""

from __future__ import annotations

import calendar

import numpy as np
import polars as pl
import yaml

from backtest.formatting import finite, integer, money, num, pct, plural
from backtest.stats import monthly_returns, periods_per_year, regime_periods, regime_statistics, yearly_returns

MONTHS = [calendar.month_abbr[m] for m in range(1, 13)]
STATES = ("bull", "bear")


def heat(v) -> str | None:
    """Background of a return cell: green for gains, red for losses, saturating at ±30 %; None
    within ±0.05 %."""
    x = finite(v)
    if x is None or abs(x) < 0.0005:
        return None
    alpha = min(abs(x) / 0.3, 1.0) * 0.55 + 0.06
    return f"rgba({'22,128,74' if x >= 0 else '200,40,40'},{alpha:.2f})"


def series(nav: pl.DataFrame, benchmarks: pl.DataFrame | None, labels: dict[str, str]) -> list[tuple[str, np.ndarray]]:
    """(label, values on nav's dates) of the net NAV, the gross level and each benchmark's NAV
    (forward-filled over dates it lacks)."""
    out = [("Index (net)", nav["nav"].to_numpy())]
    if "index_level" in nav.columns:
        out.append(("Gross", nav["index_level"].to_numpy()))
    if benchmarks is not None:
        for name in benchmarks["benchmark"].unique(maintain_order=True).to_list():
            b = nav.select("date").join(benchmarks.filter(pl.col("benchmark") == name), on="date", how="left")
            out.append((labels.get(name, name), b["nav"].fill_null(strategy="forward").to_numpy()))
    return out


def returns_table(nav: pl.DataFrame, extra: list[tuple[str, np.ndarray]]) -> dict | None:
    """Monthly returns of the net NAV by year, the year's return, and the year of each ``extra``
    series (``backtest.stats.monthly_returns`` / ``yearly_returns``). None below two observations."""
    if nav.height < 2:
        return None
    dates, v = nav["date"].to_numpy(), nav["nav"].to_numpy()
    monthly, yearly = monthly_returns(dates, v), yearly_returns(dates, v)
    extra_years = [(name, yearly_returns(dates, vals)) for name, vals in extra]
    rows = []
    for year, ret in yearly.items():
        months = [monthly.get(f"{year}-{m:02d}") for m in range(1, 13)]
        rows.append({"year": year, "months": [{"text": pct(r), "bg": heat(r)} for r in months],
                     "total": {"text": pct(ret), "bg": heat(ret)},
                     "extra": [pct(years.get(year)) for _, years in extra_years]})
    return {"months": MONTHS, "extra": [name for name, _ in extra_years], "rows": rows}


STAT_ROWS = (
    ("Total return", "total_return", "pct"), ("CAGR", "cagr", "pct"), ("Volatility (ann.)", "volatility", "pct"),
    ("Sharpe (rf 0)", "sharpe", "num"), ("Sortino", "sortino", "num"), ("Max drawdown", "max_drawdown", "pct"),
    ("Max DD peak → trough", "max_drawdown_peak", "dd"), ("Calmar", "calmar", "num"),
    ("Best period", "best_period", "pct"), ("Worst period", "worst_period", "pct"),
    ("Turnover / year (one-way)", "turnover_annualised", "pct0"),
    ("Costs (all)", "costs_total", "usd"), ("· exchange fee", "costs_fee", "usd"),
    ("· platform fee", "costs_platform_fee", "usd"), ("· slippage", "costs_slippage", "usd"),
    ("· gas", "costs_gas", "usd"),
    ("Cost drag (bp / year)", "cost_drag_bps_per_year", "num1"), ("Time invested", "time_invested", "pct"),
    ("Trade dates", "n_trade_dates", "int"), ("Final value", "final_nav", "final"),
)


def _stat(st: dict, key: str, kind: str, gross: bool) -> str:
    v = st.get(key)
    if kind == "dd":
        return f"{st.get('max_drawdown_peak') or '–'} → {st.get('max_drawdown_trough') or '–'}"
    if kind == "final":
        return f"{num(v, 0)} pts" if gross else money(v)
    fmt = {"pct": lambda x: pct(x, 2), "pct0": lambda x: pct(x, 0), "num": num, "num1": lambda x: num(x, 1),
           "usd": money, "int": integer}[kind]
    return fmt(v)


def stats_table(summary: dict, labels: dict[str, str]) -> dict:
    """The statistics of ``summary.json`` side by side: net, gross, and each benchmark."""
    cols = [("Index (net)", summary.get("statistics") or {}, False)]
    if summary.get("gross"):
        cols.append(("Index level (gross)", summary["gross"], True))
    cols += [(labels.get(n, n), s, False) for n, s in (summary.get("benchmarks") or {}).items()]
    rows = [{"label": lab, "cells": [_stat(st, key, kind, g) for _, st, g in cols]} for lab, key, kind in STAT_ROWS]
    return {"columns": [c for c, _, _ in cols], "rows": rows}


def regime_tables(nav: pl.DataFrame, series_: list[tuple[str, np.ndarray]], ppy: float | None) -> dict | None:
    """Per-regime statistics of every series and the list of regime periods
    (``backtest.stats.regime_statistics`` / ``regime_periods``). None below two observations."""
    if nav.height < 2:
        return None
    dates, regime = nav["date"].to_numpy(), nav["regime"].to_numpy()
    ppy = ppy or periods_per_year(dates)
    states = STATES + ("partial",) * bool((regime == "partial").any())  # graduated exposure
    per = [(name, regime_statistics(v, regime, ppy, states)) for name, v in series_]
    n = nav.height - 1
    groups = [{"state": s, "text": f"{plural(per[0][1][s]['periods'], 'period')} "
                                   f"({pct(per[0][1][s]['periods'] / n, 0)} of the time)"} for s in states]
    rows = [{"name": name, "cells": [c for s in states for c in (
        pct(st[s]["total_return"], 1, True), pct(st[s]["annualised"], 1, True), pct(st[s]["volatility"]),
        num(st[s]["sharpe"]))]} for name, st in per]
    periods = regime_periods(dates, regime, {str(i): v for i, (_, v) in enumerate(series_)})
    period_rows = [{"regime": p["regime"], "first": p["first"], "last": p["last"], "days": integer(p["days"]),
                    "returns": [pct(p["returns"][str(i)], 1, True) for i in range(len(series_))]} for p in periods]
    return {"groups": groups, "metrics": ("return", "annualised", "volatility", "Sharpe"), "rows": rows,
            "names": [name for name, _ in series_], "periods": period_rows}


def methodology(summary: dict) -> dict:
    """Provenance facts, the data and methodology warnings, and the resolved config as YAML."""
    data = summary.get("data") or {}
    facts = [
        ("index-engine version", summary.get("version"), False), ("config sha256", summary.get("config_sha256"), True),
        ("data sha256", data.get("sha256"), True), ("data source", data.get("source"), False),
        ("data", f"{plural(data.get('n_dates', 0), 'date')} × {plural(data.get('n_assets', 0), 'asset')}, "
                 f"{data.get('first_date')} → {data.get('last_date')}", False),
    ]
    warnings = [{"kind": kind, "count": integer(w.get("count", 0)), "message": str(w.get("message", "")),
                 "examples": ", ".join(str(e) for e in w.get("examples") or [])}
                for kind, w in (summary.get("warnings") or {}).items()]
    config = yaml.safe_dump(summary.get("config") or {}, sort_keys=False, default_flow_style=False, width=90,
                            allow_unicode=True)
    return {"facts": [{"label": k, "value": "–" if v is None else str(v), "hash": h} for k, v, h in facts],
            "warnings": warnings,
            "config_yaml": config}
