"""A self-contained HTML report of a run (no scripts, no network): NAV chart, statistics,
regime switches, the latest holdings and the cost totals."""

from __future__ import annotations

import html
import math

import numpy as np
import polars as pl

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin-bottom:2px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dde}
table{border-collapse:collapse;font-variant-numeric:tabular-nums} td,th{padding:3px 10px;text-align:right}
th{background:#f3f5f9} td:first-child,th:first-child{text-align:left}
.muted{color:#667} .bull{color:#16794c} .bear{color:#b3261e} svg{background:#fbfcfe;border:1px solid #e4e7ee}
"""


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if pct:
            return f"{v * 100:,.2f}%"
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return html.escape(str(v))


def _nav_svg(nav: pl.DataFrame, width: int = 1060, height: int = 300) -> str:
    y = np.log(nav["nav"].to_numpy())
    n = y.size
    if n < 2:
        return "<p class=muted>Not enough observations to draw.</p>"
    lo, hi = float(y.min()), float(y.max())
    span = (hi - lo) or 1.0
    xs = np.linspace(8, width - 8, n)
    ys = height - 10 - (y - lo) / span * (height - 20)
    bear = (nav["regime"] == "bear").to_numpy()
    shades = []
    start = None
    for i, b in enumerate(np.append(bear, False)):
        if b and start is None:
            start = i
        elif not b and start is not None:
            x0, x1 = xs[start], xs[min(i, n - 1)]
            shades.append(f'<rect x="{x0:.1f}" y="0" width="{max(x1 - x0, 1):.1f}" height="{height}" fill="#f6dcdc"/>')
            start = None
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
    first, last = nav["date"][0], nav["date"][-1]
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="NAV, log scale">'
        + "".join(shades)
        + f'<polyline fill="none" stroke="#2456c8" stroke-width="1.6" points="{pts}"/>'
        + f'<text x="10" y="16" font-size="12">{math.exp(hi):,.0f}</text>'
        + f'<text x="10" y="{height - 14}" font-size="12">{math.exp(lo):,.0f}</text></svg>'
        + f'<p class=muted>NAV net of costs, log scale, {first} → {last}; bear-regime periods shaded.</p>'
    )


def _table(rows: list[tuple], head: tuple) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


_PCT = {"total_return", "cagr", "volatility", "max_drawdown", "best_period", "worst_period", "time_invested",
        "turnover_total", "turnover_annualised"}


def render_report(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, transactions: pl.DataFrame,
                  benchmarks: pl.DataFrame | None = None) -> str:
    stats = summary["statistics"]
    regime = nav["regime"][-1] if nav.height else "–"
    stat_rows = [(k, _fmt(v, k in _PCT)) for k, v in stats.items() if not isinstance(v, dict)]
    last_date = holdings["date"].max() if holdings.height else None
    latest = holdings.filter(pl.col("date") == last_date).sort("weight", descending=True) if last_date else holdings
    hold_rows = [
        (html.escape(str(r["symbol"])), html.escape(str(r["asset_id"])), f"{r['weight'] * 100:.2f}%", f"{r['value']:,.2f}")
        for r in latest.head(30).iter_rows(named=True)
    ]
    costs = transactions.group_by("reason").agg(
        pl.len().alias("orders"), pl.col("notional").sum(), pl.col("fee").sum(), pl.col("slippage").sum(), pl.col("gas").sum()
    ).sort("reason") if transactions.height else pl.DataFrame()
    cost_rows = [
        (r["reason"], f"{r['orders']:,}", f"{r['notional']:,.0f}", f"{r['fee']:,.2f}", f"{r['slippage']:,.2f}", f"{r['gas']:,.2f}")
        for r in costs.iter_rows(named=True)
    ]
    switch_rows = [(s["date"], f"<span class={s['to']}>→ {s['to']}</span>") for s in summary["regime_switches"]]
    warn_rows = [(html.escape(k), f"{w['count']:,}", html.escape(w["message"])) for k, w in summary["warnings"].items()]
    cfg = summary["config"]
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1"><title>{html.escape(summary['index'])} — index-engine</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(summary['index'])}</h1>
<p class=muted>Regime now: <b class={regime}>{regime}</b> · rebalances {cfg['rebalance']['frequency']} ·
{int(nav['n_holdings'][-1]) if nav.height else 0} constituents · NAV {_fmt(stats['final_nav'])} ·
total return {_fmt(stats['total_return'], True)}</p>
<h2>Performance</h2>{_nav_svg(nav)}
<h2>Statistics</h2>{_table(stat_rows, ("statistic", "value"))}
<h2>Regime switches</h2>{_table(switch_rows, ("date", "switch")) if switch_rows else "<p class=muted>None.</p>"}
<h2>Holdings after the last trade ({last_date})</h2>{_table(hold_rows, ("symbol", "asset_id", "weight", "value USD"))}
<h2>Trades and costs by reason</h2>{_table(cost_rows, ("reason", "orders", "notional USD", "fee", "slippage", "gas"))}
<h2>Data and methodology warnings</h2>{_table(warn_rows, ("kind", "count", "message")) if warn_rows else "<p class=muted>None.</p>"}
<h2>Methodology</h2><p class=muted>config sha256 {summary['config_sha256']}<br>data sha256 {summary['data']['sha256']}
({html.escape(summary['data']['source'])})<br>index-engine {summary['version']}</p>
</body></html>
"""
