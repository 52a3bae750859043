"""``build_payload``: the run's frames as the ``ReportPayload`` the page's scripts draw from."""

from __future__ import annotations

from datetime import date
from typing import cast

import numpy as np
import polars as pl

from backtest.analysis import rolling_stats
from backtest.gauges import reference_text, series_text
from backtest.report.describe import benchmark_labels, run_config
from backtest.report.model import (
    Assets,
    BenchmarkSeries,
    Holdings,
    Real,
    ReportPayload,
    Rolling,
    Transactions,
    Weights,
    WeightSeries,
)
from backtest.stats import regime_runs
from index_engine.config import IndexConfig

#: the window of the report's rolling statistics
ROLLING_WINDOW = "365 days"
#: A holding whose weight is below this is float residue (e.g. a 1e-16 stable sleeve): not drawn.
DUST_WEIGHT = 1e-9


def rounded(values, sig: int = 7) -> list[int | float | None]:
    """Floats rounded to ``sig`` significant digits (compact JSON); whole values become ints and
    NaN/inf/None become None.

    Vectorised: the decimal exponent of each value picks its rounding, as ``f"{v:.{sig}g}"`` would.
    """
    arr = values if isinstance(values, np.ndarray) else np.asarray([np.nan if v is None else v for v in values])
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    safe = np.where(finite & (arr != 0), np.abs(arr), 1.0)
    scale = np.power(10.0, (sig - 1 - np.floor(np.log10(safe))))
    out = np.where(finite, np.round(arr * scale) / scale, np.nan)
    cells: list = out.tolist()
    # only the few whole values and non-finite ones need a Python-level change (no per-value loop)
    for i in np.flatnonzero(finite & (out == np.floor(out)) & (np.abs(out) < 1e15)).tolist():
        cells[i] = int(cells[i])
    for i in np.flatnonzero(~finite).tolist():
        cells[i] = None
    return cells


def finite(values, sig: int = 7) -> list[Real]:
    """``rounded`` for a column that is finite by contract (weights, values, quantities, costs).
    A NaN or inf left in it becomes None, which ``ReportPayload`` rejects naming the field."""
    return cast("list[Real]", rounded(values, sig))


def asset_symbols(holdings: pl.DataFrame, transactions: pl.DataFrame) -> pl.DataFrame:
    """asset_id, symbol of every asset the holdings or the transactions name, sorted by id. A ticker
    can change during the run (each row carries the symbol of its date): the latest row's wins."""
    rows = pl.concat([f.select("date", "asset_id", "symbol") for f in (holdings, transactions)])
    return rows.sort("date", maintain_order=True).unique("asset_id", keep="last").sort("asset_id") \
        .select("asset_id", "symbol")


def _iso(values) -> list[str]:
    return [str(d) for d in values]


def bear_spans(nav: pl.DataFrame) -> list[tuple[str, str]]:
    """(first date, first date after) of every run of bear observations (the last date ends the last)."""
    dates = _iso(nav["date"])
    regime = nav["regime"].to_numpy()
    return [(dates[a], dates[min(b, len(dates) - 1)]) for a, b in regime_runs(regime) if regime[a] == "bear"]


def _returns_since_previous(holdings: pl.DataFrame) -> pl.DataFrame:
    """Holdings with ``ret``: the price change of each asset since the previous trade date, when it
    was held then too (null for a new position and for the first trade date)."""
    trade_dates = holdings.select(pl.col("date").unique().sort()).with_row_index("k")
    h = holdings.join(trade_dates, on="date", how="left")
    prev = h.select(pl.col("asset_id"), (pl.col("k") + 1).alias("k"), pl.col("price").alias("prev_price"))
    h = h.join(prev, on=["asset_id", "k"], how="left")
    return h.with_columns((pl.col("price") / pl.col("prev_price") - 1.0).alias("ret")).sort(
        ["k", "weight"], descending=[False, True])


def trade_kinds(holdings_dates: list, transactions: pl.DataFrame) -> list[str]:
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


def _weights_over_time(holdings: pl.DataFrame, stable_id: str, end: date | None, n_top: int = 10) -> Weights:
    """Stacked weights after each trade date: the ``n_top`` assets with the largest time-weighted
    mean weight (each date weighted by the days it is held), the other risk assets, the sleeve.
    ``end`` is the last date of the run (None only without holdings)."""
    dates = holdings["date"].unique().sort()
    if dates.is_empty():
        return Weights(dates=[], series=[])
    bounds = dates.to_list() + [end]
    held_days = pl.DataFrame({"date": dates, "days": [max((b - a).days, 1) for a, b in zip(bounds, bounds[1:])]})
    risk = holdings.filter(pl.col("asset_id") != stable_id)
    top = (risk.join(held_days, on="date").group_by("asset_id")  # one series per asset, named by its latest symbol
           .agg((pl.col("weight") * pl.col("days")).sum().alias("score"), pl.col("symbol").sort_by("date").last())
           .sort(["score", "asset_id"], descending=[True, False]).head(n_top))
    wide = pl.DataFrame({"date": dates})
    columns = []
    for asset_id, symbol in top.select("asset_id", "symbol").iter_rows():
        w = wide.join(risk.filter(pl.col("asset_id") == asset_id).select("date", "weight"), on="date", how="left")
        columns.append((symbol, asset_id, w["weight"]))
    others = wide.join(risk.filter(~pl.col("asset_id").is_in(top["asset_id"].implode()))
                       .group_by("date").agg(pl.col("weight").sum()), on="date", how="left")
    columns.append(("others", "others", others["weight"]))
    stable = wide.join(holdings.filter(pl.col("asset_id") == stable_id).select("date", "weight"), on="date", how="left")
    columns.append(("stable sleeve", stable_id, stable["weight"]))
    x = _iso(dates) + ([str(end)] if end > dates[-1] else [])
    series = []
    for name, ident, weights in columns:
        vals = weights.fill_null(0.0).to_list()
        series.append(WeightSeries(name=name, id=ident, values=finite(vals + vals[-1:] * (len(x) - len(vals)), 5)))
    return Weights(dates=x, series=series)


def _benchmarks(benchmarks: pl.DataFrame | None, dates: pl.Series, labels: dict[str, str]) -> list[BenchmarkSeries]:
    if benchmarks is None or not benchmarks.height:
        return []
    out = []
    for name in benchmarks["benchmark"].unique(maintain_order=True).to_list():
        b = pl.DataFrame({"date": dates}).join(benchmarks.filter(pl.col("benchmark") == name), on="date", how="left")
        out.append(BenchmarkSeries(name=name, label=labels.get(name, name), nav=rounded(b["nav"].to_numpy(), 8),
                                   level=rounded(b["index_level"].to_numpy(), 8)))
    return out


def _transactions(tx: pl.DataFrame, index: dict[str, int]) -> Transactions:
    tdates = tx["date"].unique().sort()
    tindex = {d: i for i, d in enumerate(tdates.to_list())}
    reasons = sorted(tx["reason"].unique().to_list())
    rindex = {r: i for i, r in enumerate(reasons)}
    platform = tx["platform_fee"].to_numpy() if "platform_fee" in tx.columns else np.zeros(tx.height)
    return Transactions(
        dates=_iso(tdates), reasons=reasons,
        d=[tindex[d] for d in tx["date"].to_list()],
        a=[index[a] for a in tx["asset_id"].to_list()],
        s=[1 if s == "buy" else 0 for s in tx["side"].to_list()],
        q=finite(tx["quantity"].to_numpy(), 8), p=finite(tx["price"].to_numpy(), 8),
        n=[round(v, 2) for v in tx["notional"].to_list()],
        f=finite(tx["fee"].to_numpy()), pf=finite(platform), sl=finite(tx["slippage"].to_numpy()),
        g=finite(tx["gas"].to_numpy()),
        r=[rindex[r] for r in tx["reason"].to_list()],
    )


def build_payload(summary: dict, nav: pl.DataFrame, holdings: pl.DataFrame, transactions: pl.DataFrame,
                  benchmarks: pl.DataFrame | None = None, bench_labels: dict[str, str] | None = None) -> ReportPayload:
    """The data the page's scripts draw from, validated by ``ReportPayload`` (serialise it with
    ``to_json``). ``bench_labels`` maps benchmark names to labels (default: ``benchmark_labels``)."""
    cfg = run_config(summary)
    dates = nav["date"]
    assets = asset_symbols(holdings, transactions)
    index = {a: i for i, a in enumerate(assets["asset_id"].to_list())}
    if bench_labels is None:
        bench_labels = benchmark_labels(summary, benchmarks, dict(assets.iter_rows()), cfg.selection.top_n)

    kept = holdings.filter(pl.col("weight") >= DUST_WEIGHT)
    h = _returns_since_previous(kept)
    hdates = h["date"].unique().sort()
    counts = h.group_by("k", maintain_order=True).len()["len"].to_list()
    end = dates[-1] if nav.height else (hdates[-1] if len(hdates) else None)
    cols = set(nav.columns)
    return ReportPayload(
        initial_nav=cfg.backtest.initial_nav,
        dates=_iso(dates),
        nav=rounded(nav["nav"].to_numpy(), 9),
        level=rounded(nav["index_level"].to_numpy(), 9) if "index_level" in cols else None,
        bear=bear_spans(nav),
        **signal_chart(cfg, nav),
        window=cfg.regime.window,
        stable_id=cfg.stable.asset,
        bench=_benchmarks(benchmarks, dates, bench_labels),
        assets=Assets(id=assets["asset_id"].to_list(), sym=assets["symbol"].to_list()),
        hold=Holdings(
            dates=_iso(hdates), kind=trade_kinds(hdates.to_list(), transactions),
            start=np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist(),
            a=[index[a] for a in h["asset_id"].to_list()],
            w=finite(h["weight"].to_numpy(), 6), v=finite(h["value"].to_numpy(), 7),
            r=rounded(h["ret"].to_numpy(), 5),
        ),
        weights=_weights_over_time(kept, cfg.stable.asset, end),
        tx=_transactions(transactions, index),
        rolling=rolling_series(nav, benchmarks, bench_labels),
    )


def signal_chart(cfg: IndexConfig, nav: pl.DataFrame) -> dict:
    """The regime chart's two lines: a single signal's value (``signal``) and reference (``signal_sma``);
    for a composite its first signal's value and exit threshold (every signal's columns are in
    nav.parquet). Names and unit for the legend and the axis."""
    g, cols = cfg.regime, set(nav.columns)
    part, name = g.parts()[0], g.part_names()[0]
    unit = "share" if part.signal == "breadth" else "USD"
    if g.signal == "none":
        return {"signal": None, "sma": None, "signal_name": "none", "reference_name": "", "signal_unit": unit}
    value, ref = ("signal", "signal_sma") if g.signal != "composite" else (f"signal_{name}", f"signal_{name}_lower")
    what = series_text(part)
    if part.signal in ("sma_crossover", "ema_crossover"):
        what = f"{what}, {part.fast_window}-obs. {'SMA' if part.signal == 'sma_crossover' else 'EMA'}"
    elif part.signal == "breadth":
        what = f"share of the top {part.breadth.top_n} above their {part.breadth.window}-obs. SMA"
    against = ("moving average (" + str(part.window) + " obs.)" if part.signal.endswith("_sma")
               else reference_text(part))
    if g.signal == "composite":
        what, against = f"{name}: {what}", f"{name}: exit threshold ({against})"
    return {"signal": rounded(nav[value].to_numpy(), 6) if value in cols else None,
            "sma": rounded(nav[ref].to_numpy(), 6) if ref in cols else None,
            "signal_name": what, "reference_name": against, "signal_unit": unit}


def rolling_series(nav: pl.DataFrame, benchmarks: pl.DataFrame | None, labels: dict[str, str]) -> Rolling | None:
    """The rolling 1-year return, volatility, Sharpe (net NAV) and beta against the first benchmark,
    on nav's dates (null before a full year)."""
    if nav.height < 2:
        return None
    bench, name = None, None
    if benchmarks is not None and benchmarks.height:
        name = benchmarks["benchmark"][0]
        b = nav.select("date").join(benchmarks.filter(pl.col("benchmark") == name), on="date", how="left")
        bench = b["nav"].to_numpy()
    roll = rolling_stats(nav["nav"].to_numpy(), nav["date"].to_numpy(), ROLLING_WINDOW, bench)

    def col(c: str) -> list:
        return rounded(roll[c].to_numpy(), 5)

    return Rolling(window=ROLLING_WINDOW, ret=col("return"), vol=col("volatility"), sharpe=col("sharpe"),
                   beta=col("beta") if bench is not None else None,
                   bench=labels.get(name, name) if name is not None else None)
