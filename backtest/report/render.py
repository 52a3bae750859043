"""Render ``report.html`` from a run's frames with the package's Jinja2 templates, or from a run folder.

The environment autoescapes every value (``select_autoescape``, on for strings too) and fails on
an undefined name (``StrictUndefined``). Only the package's own CSS/JS, plotly.js and the payload
JSON enter the page unescaped, each through a filter that makes it safe inside its element.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import polars as pl

from backtest.formatting import num, plural
from backtest.report import analysis, header, tables
from backtest.report.describe import benchmark_labels, cost_model, run_config
from backtest.report.payload import asset_symbols, build_payload
from index_engine.errors import RunFolderError
from index_engine.extras import missing_extra

try:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
    from markupsafe import Markup
except ImportError as exc:  # jinja2 comes with the optional report extra
    raise missing_extra("report", "report.html", exc.name) from exc

REQUIRED_COLUMNS = {
    "nav.parquet": ("date", "nav", "regime", "n_holdings"),
    "holdings.parquet": ("date", "asset_id", "symbol", "weight", "value", "price"),
    "transactions.parquet": ("date", "asset_id", "symbol", "side", "quantity", "price", "notional", "fee",
                             "slippage", "gas", "reason"),
    "benchmarks.parquet": ("date", "benchmark", "nav", "index_level"),
}
NAV_LINKS = (("overview", "Overview"), ("performance", "Performance"), ("holdings", "Holdings"),
             ("weights", "Weights"), ("transactions", "Transactions"), ("statistics", "Statistics"),
             ("contributions", "Contributions"), ("methodology", "Methodology"))
#: C0 controls (but tab, newline, carriage return) and DEL, shown as their Unicode control pictures
#: (NUL → ␀, ESC → ␛): an HTML parser would drop or hide them.
_CONTROLS = {c: 0x2400 + c for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))} | {0x7F: 0x2421}
_SCRIPT_END = re.compile(r"</(script)", re.I)


def visible(value):
    """Every ``{{ value }}`` passes here before escaping: control characters become visible."""
    return value.translate(_CONTROLS) if isinstance(value, str) and not isinstance(value, Markup) else value


def script_text(js: str) -> Markup:
    """Our own JS, safe inside ``<script>``: a ``</script`` in a string literal cannot end it."""
    return Markup(_SCRIPT_END.sub(r"<\\/\1", js))


def style_text(css: str) -> Markup:
    """Our own CSS, safe inside ``<style>``."""
    if "</" in css:
        raise ValueError("report.css must not contain '</'")
    return Markup(css)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The report's Jinja2 environment (templates from the package; built once)."""
    autoescape = select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=True)
    env = Environment(loader=PackageLoader("backtest.report", "templates"), autoescape=autoescape,
                      undefined=StrictUndefined, finalize=visible, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["script_text"] = script_text
    env.filters["style_text"] = style_text
    return env


def _asset(name: str) -> str:
    return (resources.files("backtest.report") / "assets" / name).read_text(encoding="utf-8")


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # plotly comes with the optional report extra
        raise missing_extra("report", "report.html", "plotly") from exc
    return get_plotlyjs()


def check_columns(name: str, frame: pl.DataFrame) -> None:
    """RunFolderError naming ``name`` (e.g. "nav.parquet") and the columns it lacks."""
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in frame.columns]
    if missing:
        raise RunFolderError(f"{name}: missing column(s) {', '.join(missing)}; expected the outputs of "
                             "'index-engine run' (docs/outputs.md)")


def render_report(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, transactions: pl.DataFrame,
                  benchmarks: pl.DataFrame | None = None) -> str:
    """The whole self-contained ``report.html`` of a run, as a string (same inputs, same bytes)."""
    for name, frame in (("nav.parquet", nav), ("holdings.parquet", holdings),
                        ("transactions.parquet", transactions), ("benchmarks.parquet", benchmarks)):
        if frame is not None:
            check_columns(name, frame)
    if benchmarks is not None and not benchmarks.height:
        benchmarks = None
    cfg = run_config(summary)
    symbols = dict(asset_symbols(holdings, transactions).iter_rows())
    labels = benchmark_labels(summary, benchmarks, symbols, cfg.selection.top_n)
    payload = build_payload(summary, nav, holdings, transactions, benchmarks, labels)
    kinds = payload.hold.kind
    lines = tables.series(nav, benchmarks, labels)
    st = summary.get("statistics") or {}
    stats = tables.stats_table(summary, labels)
    columns = [None] * (1 + bool(summary.get("gross"))) + list(summary.get("benchmarks") or {})
    relative = analysis.relative(summary, nav, benchmarks) if any(columns) else {}
    stats["relative"] = analysis.relative_rows(relative, columns) if any(columns) else []
    context = {
        "nav_links": NAV_LINKS,
        "head": header.header(summary, cfg, nav, holdings, kinds[-1] if kinds else None),
        "returns": tables.returns_table(nav, lines[1:]),
        "stats": stats,
        "drawdowns": analysis.drawdowns(nav),
        "distribution": analysis.distribution(nav, lines, st.get("periods_per_year")),
        "contributions": analysis.contributions(summary),
        "rolling_bench": payload.rolling.bench if payload.rolling else None,
        "regime": tables.regime_tables(nav, lines, st.get("periods_per_year")),
        "ppy": num(st.get("periods_per_year"), 2),
        "switches": plural(len(summary.get("regime_switches") or []), "regime switch"),
        "costs": cost_model(cfg.costs),
        "stable_id": cfg.stable.asset,
        "methodology": tables.methodology(summary),
        "footer": {"version": str(summary.get("version", "")), "config": str(summary.get("config_sha256", ""))[:12],
                   "data": str((summary.get("data") or {}).get("sha256", ""))[:12]},
        "css": _asset("report.css"),
        "payload_json": Markup(payload.to_json()),
        "scripts": [_plotly_js(), _asset("charts.js"), _asset("transactions.js")],
    }
    return environment().get_template("page.html.j2").render(context)
