"""Contribution to return: what each asset, the stable sleeve and the costs added to the index's
return over a period, computed exactly from the book (holdings), the orders and the closes.

Over a period from row s to row e (values after each row's trades), an asset's P&L is

    pnl = V(e) − V(s) − Σ signed notional of its orders in (s, e]      (+ for a buy)

with V = quantity × mark (its last valid close, the price the replay values it at). The stable
sleeve's P&L is ΔS + Σ signed risk notional + costs, with S = ``stable_weight`` × ``nav``
(its yield, and a priced stable asset's price moves), and the costs are those of the dates in
(s, e]. Each is divided by nav(s): the contributions of the assets, the sleeve's and −costs sum to
the period's return nav(e) / nav(s) − 1 (``reconcile`` checks it). Years chain like
``backtest.stats.yearly_returns``; regime periods run like ``regime_periods`` (a switch date's
trade belongs to the regime it ends) and are summed per regime state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from backtest.stats import regime_runs
from index_engine.data.panel import MarketData

CONTRIBUTION_COLUMNS = ("period", "kind", "asset_id", "symbol", "pnl", "contribution", "period_return")
BY = ("year", "regime", "all")


@dataclass(frozen=True)
class Book:
    """A run's risk positions as arrays over its window rows (0 = the first observation).

    ``ids`` are sorted, so a code's order is its asset_id's.

    ``book_rows``: sorted rows with any holdings record (the stable sleeve's too), where the book
    changed; ``rec_*``: the risk assets' holdings records, sorted by row (``code`` indexes ``ids``);
    ``tx_*``: the risk assets' orders with ``flow`` = signed notional (USD, + buy);
    ``mark(row, codes)``: the marks (USD) of those assets at a row without a holdings record.
    """

    ids: np.ndarray
    symbols: np.ndarray
    book_rows: np.ndarray
    rec_row: np.ndarray
    rec_code: np.ndarray
    rec_qty: np.ndarray
    rec_value: np.ndarray
    tx_row: np.ndarray
    tx_code: np.ndarray
    tx_flow: np.ndarray
    mark: Callable[[int, np.ndarray], np.ndarray]


def bound_values(book: Book, bounds: np.ndarray) -> np.ndarray:
    """(len(bounds), K) value of every risk asset after the trades of each bound row: the
    holdings' value on a trade date, else the book in effect × the marks."""
    out = np.zeros((bounds.size, book.ids.size))
    for i, b in enumerate(bounds.tolist()):
        k = int(np.searchsorted(book.book_rows, b, side="right")) - 1
        if k < 0:
            continue  # before the first trade: only the sleeve
        row = int(book.book_rows[k])
        lo, hi = np.searchsorted(book.rec_row, [row, row + 1])
        codes = book.rec_code[lo:hi]
        if not codes.size:
            continue
        out[i, codes] = book.rec_value[lo:hi] if row == b else book.rec_qty[lo:hi] * book.mark(b, codes)
    return out


def attribute(book: Book, bounds: np.ndarray, nav: np.ndarray, stable_value: np.ndarray,
              costs: np.ndarray) -> dict[str, np.ndarray]:
    """P&L of each period (bounds[p], bounds[p+1]]: ``pnl`` (P, K) per asset, ``involved`` (P, K)
    (held or traded in the period), ``sleeve``, ``costs``, ``start`` (nav at the start) and
    ``ret`` (the period's return), each (P,)."""
    bounds = np.asarray(bounds, dtype=np.int64)
    P, K = bounds.size - 1, book.ids.size
    values = bound_values(book, bounds)
    period = np.searchsorted(bounds, book.tx_row, side="left") - 1
    keep = (period >= 0) & (period < P)
    cell = period[keep] * K + book.tx_code[keep]  # np.bincount: far faster than np.add.at
    flows = np.bincount(cell, weights=book.tx_flow[keep], minlength=P * K).reshape(P, K)
    traded = np.bincount(cell, minlength=P * K).reshape(P, K)
    cum = np.r_[0.0, np.cumsum(costs)]
    cost = cum[bounds[1:] + 1] - cum[bounds[:-1] + 1]
    start, end = nav[bounds[:-1]], nav[bounds[1:]]
    return {
        "pnl": values[1:] - values[:-1] - flows,
        "involved": (values[1:] != 0) | (values[:-1] != 0) | (traded > 0),
        "sleeve": stable_value[bounds[1:]] - stable_value[bounds[:-1]] + flows.sum(axis=1) + cost,
        "costs": cost, "start": start, "ret": end / start - 1.0,
    }


def period_bounds(dates, regime, by: str) -> tuple[list[str], np.ndarray]:
    """Labels and bound rows of the periods: calendar years (from the last row of the previous
    year; the first from row 0), the regime runs (from a run's first row to the next's; labelled
    by state) or the whole window."""
    d = np.asarray(dates).astype("datetime64[D]")
    last = d.size - 1
    if by == "all":
        return ["all"], np.array([0, last])
    if by == "year":
        years = d.astype("datetime64[Y]")
        ends = np.flatnonzero(np.r_[years[1:] != years[:-1], True])
        return [str(y) for y in years[ends]], np.r_[0, ends]
    if by == "regime":
        if regime is None:
            raise ValueError("by='regime' needs the nav's regime column")
        labels = np.asarray(regime)
        runs = regime_runs(labels)
        return [str(labels[a]) for a, _ in runs], np.r_[[a for a, _ in runs], last]
    raise ValueError(f"by must be one of {BY}, got {by!r}")


def grouped(book: Book, nav: np.ndarray, stable_value: np.ndarray, costs: np.ndarray, dates, regime,
            by: str) -> dict[str, np.ndarray]:
    """``attribute`` over the ``by`` periods, summed per label (a regime state's runs): ``labels``
    (G,) in order of first appearance, ``pnl``/``contribution``/``involved`` (G, K), ``sleeve_pnl``,
    ``sleeve``, ``costs_pnl`` (≤ 0), ``costs`` (≤ 0) and ``ret`` (G,); a contribution is a pnl
    over the nav at its own period's start, then summed."""
    labels, bounds = period_bounds(dates, regime, by)
    res = attribute(book, bounds, nav, stable_value, costs)
    unique = list(dict.fromkeys(labels))
    g = np.array([unique.index(x) for x in labels], dtype=np.int64)
    G, K = len(unique), book.ids.size
    base = res["start"]

    def total(values: np.ndarray) -> np.ndarray:
        out = np.zeros((G, *values.shape[1:]))
        np.add.at(out, g, values)
        return out

    return {
        "labels": np.asarray(unique, dtype=object), "pnl": total(res["pnl"]),
        "contribution": total(res["pnl"] / base[:, None]) if K else np.zeros((G, 0)),
        "involved": total(res["involved"].astype(np.float64)) > 0,
        "sleeve_pnl": total(res["sleeve"]), "sleeve": total(res["sleeve"] / base),
        "costs_pnl": -total(res["costs"]), "costs": -total(res["costs"] / base), "ret": total(res["ret"]),
    }


def contribution_frame(book: Book, nav: np.ndarray, stable_value: np.ndarray, costs: np.ndarray, dates, regime,
                       by: str, stable_id: str, stable_symbol: str) -> pl.DataFrame:
    """The long contribution frame (``CONTRIBUTION_COLUMNS``) of ``book`` over the ``by`` periods
    (``grouped``): per period its assets by contribution (largest first), the sleeve, the costs."""
    gr = grouped(book, nav, stable_value, costs, dates, regime, by)
    period, kind, ids, syms, pnl, contrib, ret = [], [], [], [], [], [], []
    for i, label in enumerate(gr["labels"].tolist()):
        ks = np.flatnonzero(gr["involved"][i])
        ks = ks[np.lexsort((ks, -gr["contribution"][i, ks]))]  # ties: by asset_id (codes follow the ids)
        n = ks.size + 2
        period += [label] * n
        kind += ["asset"] * ks.size + ["stable", "costs"]
        ids += [*book.ids[ks].tolist(), stable_id, None]
        syms += [*book.symbols[ks].tolist(), stable_symbol, None]
        pnl += [*gr["pnl"][i, ks].tolist(), gr["sleeve_pnl"][i], gr["costs_pnl"][i]]
        contrib += [*gr["contribution"][i, ks].tolist(), gr["sleeve"][i], gr["costs"][i]]
        ret += [float(gr["ret"][i])] * n
    return pl.DataFrame({"period": period, "kind": kind, "asset_id": ids, "symbol": syms, "pnl": pnl,
                         "contribution": contrib, "period_return": ret}, schema=_SCHEMA)


_SCHEMA = {"period": pl.String, "kind": pl.String, "asset_id": pl.String, "symbol": pl.String, "pnl": pl.Float64,
           "contribution": pl.Float64, "period_return": pl.Float64}


def reconcile(frame: pl.DataFrame) -> pl.DataFrame:
    """Per period: the sum of every contribution (assets, sleeve, costs), the period's return and
    their difference (float residue only)."""
    return (frame.group_by("period", maintain_order=True)
            .agg(pl.col("contribution").sum().alias("sum"), pl.col("period_return").first())
            .with_columns((pl.col("sum") - pl.col("period_return")).alias("difference")))


def market_marks(market: MarketData, rows: np.ndarray, cols: np.ndarray) -> Callable[[int, np.ndarray], np.ndarray]:
    """``mark(row, codes)`` for ``Book``: the last valid close at panel row ``rows[row]`` of the
    asset columns ``cols[codes]`` (as the replay marks a held asset)."""
    def mark(row: int, codes: np.ndarray) -> np.ndarray:
        t, c = int(rows[row]), cols[codes]
        px = market.price[t, c].astype(np.float64)
        for j in np.flatnonzero(~(np.isfinite(px) & (px > 0))):
            px[j] = market.last_close(int(c[j]))[t]
        return px
    return mark
