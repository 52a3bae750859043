"""The HTML of the report's sections, computed in Python from the run's frames (tables, header,
methodology). Charts and the transactions table are drawn in the browser by
``backtest/report_assets/*.js`` from the JSON payload built in ``backtest.report``."""

from __future__ import annotations

import calendar
import html
import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import yaml

MONTHS = [calendar.month_abbr[m] for m in range(1, 13)]
SCHEMES = {"market_cap": "cap-weighted", "sqrt_market_cap": "√cap-weighted", "equal": "equal-weighted"}


# ------------------------------------------------------------------------------------- formatting
def esc(v) -> str:
    return html.escape(str(v), quote=True)


def pct(v, digits: int = 1, sign: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    v = 0.0 if round(v * 100, digits) == 0 else v
    return f"{v * 100:{'+' if sign else ''},.{digits}f}%"


def num(v, digits: int = 2) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:,.{digits}f}"


def money(v, prefix: str = "$") -> str:
    """Compact: $40.11M, $1.23T, $950.2K, $12.34."""
    if v is None or not math.isfinite(v):
        return "–"
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= div:
            return f"{prefix}{v / div:,.2f}{unit}"
    return f"{prefix}{v:,.2f}"


def _heat(v) -> str:
    """Inline background for a return cell: green up, red down, saturating at ±30 %."""
    if v is None or not math.isfinite(v) or abs(v) < 0.0005:
        return ""
    a = min(abs(v) / 0.3, 1.0) * 0.55 + 0.06
    rgb = "22,128,74" if v >= 0 else "200,40,40"
    return f' style="background:rgba({rgb},{a:.2f})"'


# ------------------------------------------------------------------------------------ definitions
def signal_name(cfg: dict) -> str:
    reg = cfg.get("regime") or {}
    if reg.get("signal") == "asset_price_sma":
        return f"{reg.get('asset')} price"
    if reg.get("signal") == "none":
        return "none"
    return "Total market cap"


def benchmark_labels(summary: dict, benchmarks: pl.DataFrame | None, symbols: dict) -> dict[str, str]:
    names = list(summary.get("benchmarks") or {})
    if benchmarks is not None:
        names += [n for n in benchmarks["benchmark"].unique(maintain_order=True).to_list() if n not in names]
    top_n = ((summary.get("config") or {}).get("selection") or {}).get("top_n", "N")
    fixed = {"no_regime": "Same index, no regime filter", "equal_weight": f"Equal-weight top {top_n}"}
    return {n: fixed.get(n) or f"{symbols.get(n, n)} buy & hold" for n in names}


def rebalance_text(cfg: dict) -> str:
    reb = cfg.get("rebalance") or {}
    freq = reb.get("frequency", "weekly")
    if freq == "weekly":
        return f"weekly ({str(reb.get('weekday', 'monday')).capitalize()}s)"
    if freq == "monthly":
        return "monthly (1st of the month)"
    return "every observation"


def next_rebalance(cfg: dict, last: date, spacing_days: int = 1) -> date:
    """The first scheduled rebalance day after ``last`` (see ``index_engine.schedule``)."""
    reb = cfg.get("rebalance") or {}
    freq = reb.get("frequency", "weekly")
    if freq == "weekly":
        days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        ahead = (days.index(reb.get("weekday", "monday")) - last.weekday()) % 7
        return last + timedelta(days=ahead or 7)
    if freq == "monthly":
        return date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return last + timedelta(days=spacing_days)


# -------------------------------------------------------------------------------------- header
def _regime_gauge(cfg: dict, nav: pl.DataFrame) -> str:
    reg = cfg.get("regime") or {}
    state = nav["regime"][-1] if nav.height else "bull"
    if reg.get("signal") == "none" or "signal" not in nav.columns:
        return (f'<div class="card regime bull"><div class=label>Regime</div><div class=big>ALWAYS IN</div>'
                f'<div class=sub>no regime filter: the index is always invested</div></div>')
    sig, sma = nav["signal"][-1], nav["signal_sma"][-1]
    band = float(reg.get("band") or 0.0)
    window = reg.get("window")
    name = signal_name(cfg)
    if sig is None or sma is None or not (math.isfinite(sig) and math.isfinite(sma)):
        detail, meter = f"{name}: its {window}-observation average is not defined yet", ""
    else:
        thr = sma * (1 - band) if state == "bull" else sma * (1 + band)
        dist = sig / thr - 1.0
        turns = "bear below" if state == "bull" else "bull above"
        band_txt = f" × (1 {'−' if state == 'bull' else '+'} {band:g})" if band else ""
        side = "above" if dist >= 0 else "below"
        detail = (f"{esc(name)} {money(sig)} is <b>{pct(abs(dist))} {side}</b> its threshold; turns {turns} "
                  f"{money(thr)} ({window}-obs. SMA{band_txt})")
        pos = 50 + max(-50.0, min(50.0, dist * 100))  # meter spans −50 % … +50 %
        meter = (f'<div class=meter title="distance of the signal to its threshold (−50 % … +50 %)">'
                 f'<span class=zero></span><span class=dot style="left:{pos:.1f}%"></span></div>'
                 f'<div class="meter-scale"><span>−50%</span><span>threshold</span><span>+50%</span></div>')
    return (f'<div class="card regime {esc(state)}" id=regime-gauge><div class=label>Regime now</div>'
            f'<div class=big>{esc(state).upper()}</div>{meter}<div class=sub>{detail}</div></div>')


def header(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, trade_kind: str | None) -> str:
    cfg, st = summary.get("config") or {}, summary.get("statistics") or {}
    last_trade = holdings["date"].max() if holdings.height else None
    end = nav["date"][-1] if nav.height else None
    spacing = int(np.median(np.diff(nav["date"].to_numpy()).astype("timedelta64[D]").astype(int))) if nav.height > 1 else 1
    nxt = next_rebalance(cfg, end, spacing) if end else None
    bear = nav.height and nav["regime"][-1] == "bear"
    cards = [
        ("NAV", money(st.get("final_nav")), f"net of costs · started at {money(st.get('initial_nav'))}"),
        ("Period return", pct(st.get("total_return"), 1, True),
         f"CAGR {pct(st.get('cagr'))} · max DD {pct(st.get('max_drawdown'))}"),
        ("Constituents", f"{int(nav['n_holdings'][-1]) if nav.height else 0}",
         f"of top {(cfg.get('selection') or {}).get('top_n', '–')} by market cap · "
         f"{SCHEMES.get((cfg.get('weighting') or {}).get('scheme'), 'weighted')}"),
        ("Rebalances", esc(rebalance_text(cfg).split(" ")[0]),
         f"last trade {last_trade or '–'}{f' · {esc(trade_kind)}' if trade_kind else ''}<br>"
         f"next {f'{nxt:%a} {nxt}' if nxt else '–'}{' (no trade unless the regime turns bull)' if bear else ''}"),
    ]
    card_html = "".join(f'<div class=card><div class=label>{k}</div><div class=big>{v}</div><div class=sub>{s}</div></div>'
                        for k, v, s in cards)
    desc = cfg.get("description") or ""
    return (f'<header id=overview><div class=title><h1>{esc(summary.get("index", "index"))}</h1>'
            f'<p class=muted>{esc(desc)}</p><p class="muted small">{st.get("start", "")} → {st.get("end", "")} · '
            f'{st.get("n_observations", 0):,} observations · rebalances {esc(rebalance_text(cfg))} · '
            f'fee {num((cfg.get("costs") or {}).get("fee_bps"), 1)} bp, slippage '
            f'{num((cfg.get("costs") or {}).get("slippage_bps"), 1)} bp, gas ${num((cfg.get("costs") or {}).get("gas_usd"))}'
            f' per order</p></div><div class=cards>{_regime_gauge(cfg, nav)}{card_html}</div></header>')


# ---------------------------------------------------------------------------------- return tables
def _period_returns(dates: pl.Series, values: np.ndarray, every: str) -> dict[str, float]:
    """Calendar-period returns (month "2021-03" or year "2021") from the last value of the
    previous period; the first period is measured from the first value (as backtest.stats)."""
    key = dates.dt.strftime("%Y-%m" if every == "mo" else "%Y").to_list()
    out, base, prev = {}, values[0], key[0]
    for i, k in enumerate(key):
        if k != prev:
            out[prev] = values[i - 1] / base - 1.0
            base, prev = values[i - 1], k
    out[prev] = values[-1] / base - 1.0
    return out


def returns_table(nav: pl.DataFrame, extra: list[tuple[str, np.ndarray]]) -> str:
    """Monthly returns of the net NAV by year, the year's return, and the year of each extra series."""
    if nav.height < 2:
        return "<p class=muted>Not enough observations.</p>"
    dates, v = nav["date"], nav["nav"].to_numpy()
    monthly, yearly = _period_returns(dates, v, "mo"), _period_returns(dates, v, "y")
    extra_years = [(name, _period_returns(dates, vals, "y")) for name, vals in extra]
    head = "".join(f"<th>{m}</th>" for m in MONTHS) + "<th class=yr>Year</th>" + "".join(
        f"<th class=ex>{esc(n)}</th>" for n, _ in extra_years)
    rows = []
    for y in yearly:
        cells = "".join(f"<td{_heat(monthly.get(f'{y}-{m:02d}'))}>{pct(monthly.get(f'{y}-{m:02d}'))}</td>"
                        for m in range(1, 13))
        ex = "".join(f"<td class=ex>{pct(yrs.get(y))}</td>" for _, yrs in extra_years)
        rows.append(f"<tr><th>{y}</th>{cells}<td class=yr{_heat(yearly[y])}><b>{pct(yearly[y])}</b></td>{ex}</tr>")
    return (f'<div class=scroll><table class="returns num" id=returns-table><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


# --------------------------------------------------------------------------------------- statistics
STAT_ROWS = (
    ("Total return", "total_return", "pct"), ("CAGR", "cagr", "pct"), ("Volatility (ann.)", "volatility", "pct"),
    ("Sharpe (rf 0)", "sharpe", "num"), ("Sortino", "sortino", "num"), ("Max drawdown", "max_drawdown", "pct"),
    ("Max DD peak → trough", "max_drawdown_peak", "dd"), ("Calmar", "calmar", "num"),
    ("Best day", "best_period", "pct"), ("Worst day", "worst_period", "pct"),
    ("Turnover / year (one-way)", "turnover_annualised", "pct0"), ("Costs (fee + slippage + gas)", "costs_total", "usd"),
    ("Cost drag (bp / year)", "cost_drag_bps_per_year", "num1"), ("Time invested", "time_invested", "pct"),
    ("Trade dates", "n_trade_dates", "int"), ("Final value", "final_nav", "final"),
)


def _stat(st: dict, key: str, kind: str, gross: bool) -> str:
    v = st.get(key)
    if kind == "dd":
        return f"{st.get('max_drawdown_peak') or '–'} → {st.get('max_drawdown_trough') or '–'}"
    if kind == "final":
        return f"{num(v, 0)} pts" if gross else money(v)
    if kind == "usd":
        return money(v)
    if kind == "int":
        return "–" if v is None else f"{v:,}"
    fmt = {"pct": lambda x: pct(x, 2), "pct0": lambda x: pct(x, 0), "num": num, "num1": lambda x: num(x, 1)}[kind]
    return fmt(v)


def stats_table(summary: dict, labels: dict[str, str]) -> str:
    cols = [("Index (net)", summary.get("statistics") or {}, False)]
    if summary.get("gross"):
        cols.append(("Index level (gross)", summary["gross"], True))
    cols += [(labels.get(n, n), s, False) for n, s in (summary.get("benchmarks") or {}).items()]
    head = "".join(f"<th>{esc(c)}</th>" for c, _, _ in cols)
    body = "".join(f"<tr><th>{lab}</th>" + "".join(f"<td>{_stat(st, key, kind, g)}</td>" for _, st, g in cols) + "</tr>"
                   for lab, key, kind in STAT_ROWS)
    return f'<div class=scroll><table class="stats num" id=stats-table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _series(nav: pl.DataFrame, benchmarks: pl.DataFrame | None, labels: dict) -> list[tuple[str, np.ndarray]]:
    out = [("Index (net)", nav["nav"].to_numpy())]
    if "index_level" in nav.columns:
        out.append(("Gross", nav["index_level"].to_numpy()))
    if benchmarks is not None:
        for name in benchmarks["benchmark"].unique(maintain_order=True).to_list():
            b = nav.select("date").join(benchmarks.filter(pl.col("benchmark") == name), on="date", how="left")
            out.append((labels.get(name, name), b["nav"].fill_null(strategy="forward").to_numpy()))
    return out


def regime_tables(nav: pl.DataFrame, benchmarks: pl.DataFrame | None, labels: dict, ppy: float | None) -> str:
    """Per-regime statistics and the list of regime periods. A return from t−1 to t is earned by
    the portfolio set at t−1, so it counts in the regime in effect at t−1."""
    if nav.height < 2:
        return "<p class=muted>Not enough observations.</p>"
    series = _series(nav, benchmarks, labels)
    regime = nav["regime"].to_numpy()[:-1]
    ppy = ppy or 365.0
    metrics = ("return", "annualised", "volatility", "Sharpe")
    rows = []
    for name, v in series:
        cells = []
        for state in ("bull", "bear"):
            r = (v[1:] / v[:-1] - 1.0)[regime == state]
            r = r[np.isfinite(r)]
            g = float(np.prod(1 + r)) if r.size else float("nan")
            sd = float(r.std(ddof=1)) if r.size > 1 else float("nan")
            cells += [pct(g - 1, 1, True), pct(g ** (ppy / r.size) - 1, 1, True) if r.size and g > 0 else "–",
                      pct(sd * math.sqrt(ppy)) if sd == sd else "–",
                      num(r.mean() / sd * math.sqrt(ppy)) if sd == sd and sd > 1e-12 else "–"]
        rows.append(f"<tr><th>{esc(name)}</th>" + "".join(
            f"<td{' class=sep' if i % 4 == 0 else ''}>{c}</td>" for i, c in enumerate(cells)) + "</tr>")
    n_bull, n = int((regime == "bull").sum()), regime.size
    group = "".join(f'<th colspan=4 class=sep><span class="pill {st}">{st}</span> {k:,} periods ({pct(k / n, 0)} of the '
                    f'time)</th>' for st, k in (("bull", n_bull), ("bear", n - n_bull)))
    sub = "".join(f"<th{' class=sep' if i == 0 else ''}>{m}</th>" for _ in range(2) for i, m in enumerate(metrics))
    table = (f'<div class=scroll><table class="num regime-stats" id=regime-stats><thead><tr><th></th>{group}</tr>'
             f'<tr><th></th>{sub}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
             f'<p class=caption>Each period\'s return counts in the regime in effect when the portfolio earning it was '
             f'set (the previous observation\'s regime). Annualised: compounded over the regime\'s periods only.</p>')
    return table + _regime_periods(nav, series)


def _regime_periods(nav: pl.DataFrame, series: list[tuple[str, np.ndarray]]) -> str:
    reg, dates = nav["regime"].to_list(), nav["date"].to_list()
    starts = [0] + [i for i in range(1, len(reg)) if reg[i] != reg[i - 1]]
    bounds = starts + [len(reg) - 1]
    head = "".join(f"<th>{esc(n)}</th>" for n, _ in series)
    rows = []
    for a, b in zip(bounds, bounds[1:]):
        last = b - 1 if b < len(reg) - 1 else b
        cells = "".join(f"<td>{pct(v[b] / v[a] - 1, 1, True)}</td>" for _, v in series)
        rows.append(f"<tr><td><span class='pill {reg[a]}'>{reg[a]}</span></td><td>{dates[a]}</td><td>{dates[last]}</td>"
                    f"<td>{(dates[last] - dates[a]).days + 1:,}</td>{cells}</tr>")
    return (f'<h3>Regime periods</h3><p class="muted small">Each period runs from the trade date of a switch to the day '
            f'before the next switch; its return is measured from the close of its first date to the close of the next '
            f'period\'s first date, so the periods chain into the whole return.</p><div class="scroll tall">'
            f'<table class="num periods" id=regime-periods><thead><tr><th>regime</th><th>from</th><th>to</th><th>days</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


# ------------------------------------------------------------------------------------- methodology
def methodology(summary: dict) -> str:
    data = summary.get("data") or {}
    cfg_yaml = yaml.safe_dump(summary.get("config") or {}, sort_keys=False, default_flow_style=False, width=90)
    warns = summary.get("warnings") or {}
    warn_rows = "".join(f"<tr><td>{esc(k)}</td><td class=r>{w.get('count', 0):,}</td><td>{esc(w.get('message', ''))}</td></tr>"
                        for k, w in warns.items())
    facts = [
        ("index-engine version", summary.get("version")), ("config sha256", summary.get("config_sha256")),
        ("data sha256", data.get("sha256")), ("data source", data.get("source")),
        ("data", f"{data.get('n_dates', 0):,} dates × {data.get('n_assets', 0):,} assets, "
                 f"{data.get('first_date')} → {data.get('last_date')}"),
    ]
    fact_rows = "".join(f"<tr><th>{k}</th><td><code{' class=hash' if 'sha' in k else ''}>{esc(v)}</code></td></tr>"
                        for k, v in facts)
    warn_html = (f'<table class=warnings><thead><tr><th>warning</th><th>count</th><th>message</th></tr></thead>'
                 f'<tbody>{warn_rows}</tbody></table>') if warn_rows else "<p class=muted>No data or methodology warnings.</p>"
    return (f'<div class=grid2><div><h3>Provenance</h3><table class=facts id=provenance>{fact_rows}</table>'
            f'<h3>Warnings</h3>{warn_html}<p class="muted small">The rules are in docs/methodology.md; every config key '
            f'in docs/config.md. The config hash covers the methodology only (not data or benchmarks).</p></div>'
            f'<div><h3>Resolved config</h3><pre class=config id=config-yaml>{esc(cfg_yaml)}</pre></div></div>')


# --------------------------------------------------------------------------------------------- page
NAV_LINKS = (("overview", "Overview"), ("performance", "Performance"), ("holdings", "Holdings"),
             ("weights", "Weights"), ("transactions", "Transactions"), ("statistics", "Statistics"),
             ("methodology", "Methodology"))


def page_body(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, benchmarks: pl.DataFrame | None,
              labels: dict[str, str], last_kind: str | None) -> str:
    st = summary.get("statistics") or {}
    links = "".join(f'<a href="#{k}">{v}</a>' for k, v in NAV_LINKS)
    extra = _series(nav, benchmarks, labels)[1:]
    switches = summary.get("regime_switches") or []
    return f"""<nav class=topbar><div class=wrap><span class=brand>{esc(summary.get('index', 'index'))}</span>{links}</div></nav>
<main class=wrap>
{header(summary, nav, holdings, last_kind)}
<section id=performance><h2>Performance</h2>
<div class=chart id=chart-perf></div>
<p class=caption>Growth of 1,000 (log scale): the NAV net of fees, slippage and gas, the gross index level (same
weights, no costs) and the benchmarks (net of the same costs), all rebased to 1,000 at the start. Shaded: bear regime
(the index holds the stable sleeve). Hover for values; drag to zoom, double-click to reset.</p>
<div class="chart short" id=chart-dd></div>
<p class=caption>Drawdown: the fall from the running peak of each series.</p>
<h3>Monthly returns (net)</h3>{returns_table(nav, extra)}
<p class=caption>Months and years run from the last close of the previous period; the first is measured from the first
observation. The right-hand columns are the year's return of the gross level and of each benchmark.</p>
</section>
<section id=holdings><h2>Holdings</h2>
<div class=holdings>
<div><div class="chart tall" id=chart-treemap></div></div>
<aside class=panel>
<div class=toolbar><button type=button id=hold-prev title="previous trade date">◀</button>
<select id=hold-date aria-label="trade date"></select>
<button type=button id=hold-next title="next trade date">▶</button></div>
<input type=range id=hold-slider min=0 value=0 aria-label="trade date slider">
<p id=hold-info class=small></p>
<div class=legend><div class=bar></div><div class=ticks><span id=leg-lo></span><span>0</span><span id=leg-hi></span></div>
<p class="small muted">Tile size: weight after the trades of the date. Colour: the asset's price change since the
previous trade date (close at the previous trade → close at this one); <span class="sw new"></span> new position,
<span class="sw stable"></span> stable sleeve. Prices after the last trade date are not in the run folder.</p></div>
<div class="scroll list"><table class="num small" id=hold-table><thead><tr><th>#</th><th>asset</th><th>weight</th>
<th>value</th><th>since prev.</th></tr></thead><tbody></tbody></table></div>
</aside></div>
</section>
<section id=weights><h2>Weights over time</h2>
<div class=chart id=chart-weights></div>
<p class=caption>Weights after each trade date, held until the next one (they drift with prices in between): the ten
assets with the largest time-weighted mean weight, all other risk assets together, and the stable sleeve.</p>
</section>
<section id=transactions><h2>Transactions</h2>
<form class=filters id=tx-filters onsubmit="return false">
<label>from <input type=date id=tx-from></label><label>to <input type=date id=tx-to></label>
<label>asset <input type=search id=tx-asset list=tx-assets placeholder="symbol or id" size=14></label>
<datalist id=tx-assets></datalist>
<label>reason <select id=tx-reason><option value="">all</option></select></label>
<label>side <select id=tx-side><option value="">all</option><option value=buy>buy</option><option value=sell>sell</option></select></label>
<button type=button id=tx-reset>reset</button><button type=button id=tx-csv>download CSV</button>
</form>
<div class=totals id=tx-totals></div>
<div class="scroll tx"><table class="num tx-table" id=tx-table><thead><tr>
<th data-k=d class=l>date</th><th data-k=a class=l>asset</th><th data-k=s class=l>side</th><th data-k=q>quantity</th>
<th data-k=p>price</th><th data-k=n>notional</th><th data-k=f>fee</th><th data-k=sl>slippage</th><th data-k=g>gas</th>
<th data-k=r class=l>reason</th></tr></thead><tbody></tbody></table></div>
<div class=pager><button type=button id=tx-prev>◀</button><span id=tx-page></span><button type=button id=tx-next>▶</button>
<label>rows <select id=tx-size><option>25</option><option selected>50</option><option>200</option><option>1000</option></select></label></div>
<h3>Costs per year <span class="muted small">(of the filtered transactions)</span></h3>
<div class=scroll><table class=num id=tx-years><thead><tr><th>year</th><th>orders</th><th>notional</th><th>fee</th>
<th>slippage</th><th>gas</th><th>total</th><th>bp of notional</th></tr></thead><tbody></tbody></table></div>
<p class=caption>Click a column header to sort. Fee and slippage are charged on each order's notional at the close;
gas per order. The stable sleeve <code>cash</code> trades at no cost and places no orders.</p>
</section>
<section id=statistics><h2>Statistics</h2>
{stats_table(summary, labels)}
<p class=caption>Returns are simple returns between consecutive observations; annualised with
{num(st.get('periods_per_year'), 2)} periods a year; risk-free rate 0. The gross column is the index level (same
weights, no costs); benchmarks are run by the same engine with the same costs.</p>
<h3>By regime</h3>
{regime_tables(nav, benchmarks, labels, st.get('periods_per_year'))}
<h3>Regime signal</h3><div class="chart short" id=chart-signal></div>
<p class=caption>The signal and its moving average as used for each date's decision; {len(switches)} regime switches.</p>
</section>
<section id=methodology><h2>Methodology</h2>{methodology(summary)}</section>
<footer class="muted small">index-engine {esc(summary.get('version', ''))} · config {esc(str(summary.get('config_sha256', ''))[:12])}
· data {esc(str((summary.get('data') or {}).get('sha256', ''))[:12])} · this file is self-contained and works offline.</footer>
</main>"""
