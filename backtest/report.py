"""``report.html``: one self-contained, offline file that shows a finished run.

``render_report`` turns the frames of a run into the page; ``render_run_dir`` (re)writes the page of
a run folder, and ``report_cmd`` is the ``index-engine report RUN_DIR`` command. The page embeds
plotly.js (from the ``plotly`` package), the report's own CSS/JS (``backtest/report_assets/``) and
the run's data as compact columnar JSON; it loads nothing from the network. What each section shows
and how it is computed: ``docs/report.md``.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path

import click
import numpy as np
import polars as pl

from backtest import report_sections as sections

#: A holding whose weight is below this is float residue (e.g. a 1e-16 stable sleeve): not drawn.
DUST_WEIGHT = 1e-9
ASSET_FILES = ("report.css", "charts.js", "transactions.js")


# ---------------------------------------------------------------------------------------- payload
def _round(values, sig: int = 7) -> list:
    """Floats rounded to ``sig`` significant digits (compact JSON); NaN/inf/None become null.

    Vectorised: the decimal exponent of each value picks its rounding, as ``f"{v:.{sig}g}"`` would.
    """
    arr = np.asarray([np.nan if v is None else v for v in values] if not isinstance(values, np.ndarray) else values,
                     dtype=np.float64)
    finite = np.isfinite(arr)
    safe = np.where(finite & (arr != 0), np.abs(arr), 1.0)
    digits = (sig - 1 - np.floor(np.log10(safe))).astype(np.int64)
    scale = np.power(10.0, digits.astype(np.float64))
    rounded = np.where(finite, np.round(arr * scale) / scale, np.nan)
    out = []
    for r, ok in zip(rounded.tolist(), finite.tolist()):
        if not ok:
            out.append(None)
        else:
            out.append(int(r) if r.is_integer() and abs(r) < 1e15 else r)
    return out


def _iso(values) -> list[str]:
    return [str(d) for d in values]


def _bear_spans(nav: pl.DataFrame) -> list[list[str]]:
    """[first date, first date after] of every run of bear observations (the end is the last date)."""
    dates = _iso(nav["date"])
    bear = (nav["regime"] == "bear").to_list()
    spans, start = [], None
    for i, b in enumerate(bear + [False]):
        if b and start is None:
            start = i
        elif not b and start is not None:
            spans.append([dates[start], dates[min(i, len(dates) - 1)]])
            start = None
    return spans


def _returns_since_previous(holdings: pl.DataFrame) -> pl.DataFrame:
    """Holdings with ``ret``: the price change of each asset since the previous trade date, when it
    was held then too (null for a new position and for the first trade date)."""
    trade_dates = holdings.select(pl.col("date").unique().sort()).with_row_index("k")
    h = holdings.join(trade_dates, on="date", how="left")
    prev = h.select(pl.col("asset_id"), (pl.col("k") + 1).alias("k"), pl.col("price").alias("prev_price"))
    h = h.join(prev, on=["asset_id", "k"], how="left")
    return h.with_columns((pl.col("price") / pl.col("prev_price") - 1.0).alias("ret")).sort(["k", "weight"],
                                                                                             descending=[False, True])


def _trade_kinds(holdings_dates: list, transactions: pl.DataFrame) -> list[str]:
    """A label for every trade date: initial investment, regime exit/entry, or rebalance."""
    reasons: dict = {}
    for d, r in transactions.select("date", "reason").unique().iter_rows():
        reasons.setdefault(d, set()).add(r)
    kinds = []
    for i, d in enumerate(holdings_dates):
        rs = reasons.get(d, set())
        if "regime_exit" in rs:
            kinds.append("regime exit")
        elif "regime_entry" in rs:
            kinds.append("regime entry")
        elif i == 0 and rs <= {"entry"}:
            kinds.append("initial investment")
        else:
            kinds.append("rebalance")
    return kinds


def _weights_over_time(holdings: pl.DataFrame, stable_id: str, end: date, n_top: int = 10) -> dict:
    """Stacked weights after each trade date: the ``n_top`` assets with the largest time-weighted
    mean weight, the other risk assets together, and the stable sleeve."""
    dates = holdings["date"].unique().sort()
    if dates.is_empty():
        return {"dates": [], "series": []}
    bounds = dates.to_list() + [end]
    held_days = pl.DataFrame({"date": dates, "days": [max((b - a).days, 1) for a, b in zip(bounds, bounds[1:])]})
    risk = holdings.filter(pl.col("asset_id") != stable_id)
    top = (risk.join(held_days, on="date").group_by("asset_id", "symbol")
           .agg((pl.col("weight") * pl.col("days")).sum().alias("score"))
           .sort(["score", "asset_id"], descending=[True, False]).head(n_top))
    wide = pl.DataFrame({"date": dates})
    series = []
    for asset_id, symbol in top.select("asset_id", "symbol").iter_rows():
        w = wide.join(risk.filter(pl.col("asset_id") == asset_id).select("date", "weight"), on="date", how="left")
        series.append({"name": symbol, "id": asset_id, "values": w["weight"].fill_null(0.0)})
    others = wide.join(risk.filter(~pl.col("asset_id").is_in(top["asset_id"].implode()))
                       .group_by("date").agg(pl.col("weight").sum()), on="date", how="left")
    series.append({"name": "others", "id": "others", "values": others["weight"].fill_null(0.0)})
    stable = wide.join(holdings.filter(pl.col("asset_id") == stable_id).select("date", "weight"), on="date", how="left")
    series.append({"name": "stable sleeve", "id": stable_id, "values": stable["weight"].fill_null(0.0)})
    x = _iso(dates) + ([str(end)] if end > dates[-1] else [])
    for s in series:
        vals = s["values"].to_list()
        s["values"] = _round(vals + vals[-1:] * (len(x) - len(vals)), 5)
    return {"dates": x, "series": series}


def build_payload(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, transactions: pl.DataFrame,
                  benchmarks: pl.DataFrame | None, bench_labels: dict[str, str]) -> dict:
    """The data the page's scripts draw from, as compact columnar JSON-ready lists."""
    cfg = summary.get("config", {})
    stable_id = (cfg.get("stable") or {}).get("asset", "cash")
    initial = float((cfg.get("backtest") or {}).get("initial_nav") or (nav["nav"][0] if nav.height else 1.0))
    dates = nav["date"]
    payload: dict = {
        "initialNav": initial,
        "dates": _iso(dates),
        "nav": _round(nav["nav"].to_numpy(), 9),
        "level": _round(nav["index_level"].to_numpy(), 9) if "index_level" in nav.columns else None,
        "bear": _bear_spans(nav),
        "signal": _round(nav["signal"].to_numpy(), 6) if "signal" in nav.columns else None,
        "sma": _round(nav["signal_sma"].to_numpy(), 6) if "signal_sma" in nav.columns else None,
        "signalName": sections.signal_name(cfg),
        "window": (cfg.get("regime") or {}).get("window"),
        "stableId": stable_id,
        "bench": [],
    }
    if benchmarks is not None and benchmarks.height:
        for name in benchmarks["benchmark"].unique(maintain_order=True).to_list():
            b = pl.DataFrame({"date": dates}).join(benchmarks.filter(pl.col("benchmark") == name), on="date", how="left")
            payload["bench"].append({"name": name, "label": bench_labels.get(name, name),
                                     "nav": _round(b["nav"].to_numpy(), 8),
                                     "level": _round(b["index_level"].to_numpy(), 8)})
    # assets named by holdings and transactions, indexed once
    assets = pl.concat([holdings.select("asset_id", "symbol"), transactions.select("asset_id", "symbol")]) \
        .unique("asset_id", keep="first").sort("asset_id")
    index = {a: i for i, a in enumerate(assets["asset_id"].to_list())}
    payload["assets"] = {"id": assets["asset_id"].to_list(), "sym": assets["symbol"].to_list()}

    h = _returns_since_previous(holdings.filter(pl.col("weight") >= DUST_WEIGHT))
    hdates = h["date"].unique().sort()
    counts = h.group_by("k", maintain_order=True).len()["len"].to_list()
    payload["hold"] = {
        "dates": _iso(hdates),
        "kind": _trade_kinds(hdates.to_list(), transactions),
        "start": np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist(),
        "a": [index[a] for a in h["asset_id"].to_list()],
        "w": _round(h["weight"].to_numpy(), 6),
        "v": _round(h["value"].to_numpy(), 7),
        "r": _round(h["ret"].to_numpy(), 5),
    }
    end = dates[-1] if nav.height else (hdates[-1] if len(hdates) else date.today())
    payload["weights"] = _weights_over_time(holdings.filter(pl.col("weight") >= DUST_WEIGHT), stable_id, end)

    tx = transactions
    tdates = tx["date"].unique().sort()
    tindex = {d: i for i, d in enumerate(tdates.to_list())}
    reasons = sorted(tx["reason"].unique().to_list())
    rindex = {r: i for i, r in enumerate(reasons)}
    payload["tx"] = {
        "dates": _iso(tdates), "reasons": reasons,
        "d": [tindex[d] for d in tx["date"].to_list()],
        "a": [index[a] for a in tx["asset_id"].to_list()],
        "s": [1 if s == "buy" else 0 for s in tx["side"].to_list()],
        "q": _round(tx["quantity"].to_numpy(), 8),
        "p": _round(tx["price"].to_numpy(), 8),
        "n": [round(v, 2) for v in tx["notional"].to_list()],
        "f": _round(tx["fee"].to_numpy(), 7),
        "sl": _round(tx["slippage"].to_numpy(), 7),
        "g": _round(tx["gas"].to_numpy(), 7),
        "r": [rindex[r] for r in tx["reason"].to_list()],
    }
    return payload


# ----------------------------------------------------------------------------------------- render
def _asset(name: str) -> str:
    return (resources.files("backtest") / "report_assets" / name).read_text(encoding="utf-8")


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - plotly is a runtime dependency
        raise RuntimeError("report.html needs the 'plotly' package (pip install plotly)") from exc
    return get_plotlyjs()


def _script(js: str) -> str:
    return "<script>" + js.replace("</script", "<\\/script") + "</script>"


def render_report(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, transactions: pl.DataFrame,
                  benchmarks: pl.DataFrame | None = None) -> str:
    """The whole self-contained ``report.html`` of a run, as a string."""
    if benchmarks is not None and not benchmarks.height:
        benchmarks = None
    symbols = dict(pl.concat([holdings.select("asset_id", "symbol"), transactions.select("asset_id", "symbol")])
                   .unique("asset_id").iter_rows())
    labels = sections.benchmark_labels(summary, benchmarks, symbols)
    payload = build_payload(summary, nav, holdings, transactions, benchmarks, labels)
    data_json = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    kinds = payload["hold"]["kind"]
    body = sections.page_body(summary, nav, holdings, benchmarks, labels, kinds[-1] if kinds else None)
    title = f"{summary.get('index', 'index')} — index-engine report"
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
        f"<title>{sections.esc(title)}</title><style>{_asset('report.css')}</style></head>\n<body>\n"
        f"{body}\n<script type=\"application/json\" id=\"report-data\">{data_json}</script>\n"
        f"{_script(_plotly_js())}\n{_script(_asset('charts.js'))}\n{_script(_asset('transactions.js'))}\n"
        "</body></html>\n"
    )


def render_run_dir(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Read the files of a finished run and (re)write its report (``RUN_DIR/report.html`` by
    default); returns the path written."""
    run = Path(run_dir)
    missing = [f for f in ("summary.json", "nav.parquet", "holdings.parquet", "transactions.parquet")
               if not (run / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{run}: not a finished run folder (missing {', '.join(missing)})")
    summary = json.loads((run / "summary.json").read_text())
    bench = pl.read_parquet(run / "benchmarks.parquet") if (run / "benchmarks.parquet").is_file() else None
    html = render_report(summary, pl.read_parquet(run / "nav.parquet"), pl.read_parquet(run / "holdings.parquet"),
                         pl.read_parquet(run / "transactions.parquet"), bench)
    path = Path(out) if out else run / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Write here instead of RUN_DIR/report.html.")
def report_cmd(run_dir: str, out: str | None) -> None:
    """Re-render RUN_DIR/report.html from the outputs of a finished run."""
    try:
        path = render_run_dir(run_dir, out)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


report_command = report_cmd
