"""``contributions``: each asset's contribution to the index's return per year, per regime state or
over the whole window, from a run's frames and the market's closes (see ``attribution`` for the
arithmetic), and the digest of it that ``summary.json`` keeps (``contributions_summary``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from backtest.analysis.attribution import Book, contribution_frame, market_marks
from backtest.stats import _num
from index_engine.data.panel import MarketData

#: contributors and detractors kept per period in summary.json
TOP = 10
CASH_ID = "cash"


def contributions(holdings: pl.DataFrame, transactions: pl.DataFrame, nav: pl.DataFrame, market: MarketData,
                  stable_id: str = CASH_ID, by: str = "year") -> pl.DataFrame:
    """Contributions to return per period (``by``: "year", "regime" or "all") as a long polars frame.

    Inputs: a run's ``holdings``, ``transactions`` and ``nav`` frames (``BacktestResult`` or a run
    folder; nav needs date, nav, stable_weight, costs, and regime for ``by="regime"``), the
    ``market`` it ran on (for the closes at period ends that are not trade dates) and the run's
    ``stable.asset`` (``stable_id``).

    One row per (period, asset held or traded in it), then the period's stable-sleeve row and costs
    row: ``period`` ("2021", "bull", "all"), ``kind`` (asset / stable / costs), ``asset_id``,
    ``symbol``, ``pnl`` (USD; costs negative), ``contribution`` (pnl / nav at the period's start,
    a fraction) and ``period_return``. Within a period assets come by contribution, largest
    first. Per period the contributions sum to ``period_return`` (a regime state: to the sum of its
    runs' returns).
    """
    book = frame_book(holdings, transactions, nav, market, stable_id)
    x = nav["nav"].to_numpy()
    regime = nav["regime"].to_numpy() if "regime" in nav.columns else None
    symbol = _stable_symbol(holdings, stable_id)
    return contribution_frame(book, x, nav["stable_weight"].to_numpy() * x, nav["costs"].to_numpy(),
                              nav["date"].to_numpy(), regime, by, stable_id, symbol)


def frame_book(holdings: pl.DataFrame, transactions: pl.DataFrame, nav: pl.DataFrame, market: MarketData,
               stable_id: str = CASH_ID) -> Book:
    """The ``Book`` of a run's frames, marked with ``market``'s closes (rows are nav's rows)."""
    dates = nav["date"].to_numpy().astype("datetime64[D]")
    index = {d: i for i, d in enumerate(dates.tolist())}
    risk_h = holdings.filter(pl.col("asset_id") != stable_id).sort("date", maintain_order=True)
    risk_tx = transactions.filter(pl.col("asset_id") != stable_id)
    named = pl.concat([f.select("date", "asset_id", "symbol") for f in (risk_h, risk_tx)])
    labels = named.sort("date", maintain_order=True).unique("asset_id", keep="last").sort("asset_id")  # latest ticker
    ids = labels["asset_id"].to_numpy().astype(object)
    code = {a: i for i, a in enumerate(ids.tolist())}

    def rows(frame: pl.DataFrame) -> np.ndarray:
        try:
            return np.array([index[d] for d in frame["date"].to_numpy().astype("datetime64[D]").tolist()],
                            dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"a holdings or transactions date ({exc.args[0]}) is not a date of nav") from None

    panel_rows = np.searchsorted(market.dates.astype("datetime64[D]"), dates).astype(np.int64)
    if panel_rows.size and (panel_rows.max() >= market.n_dates
                            or np.any(market.dates[np.minimum(panel_rows, market.n_dates - 1)] != dates)):
        raise ValueError("market does not have every date of nav: give the market the run was computed on")
    try:
        cols = np.array([market.asset_index(a) for a in ids.tolist()], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"market: {exc.args[0]}") from None
    sign = np.where(risk_tx["side"].to_numpy() == "buy", 1.0, -1.0)
    return Book(
        ids=ids, symbols=labels["symbol"].to_numpy().astype(object),
        book_rows=np.unique(rows(holdings)),
        rec_row=rows(risk_h), rec_code=np.array([code[a] for a in risk_h["asset_id"].to_list()], dtype=np.int64),
        rec_qty=risk_h["quantity"].to_numpy(), rec_value=risk_h["value"].to_numpy(),
        tx_row=rows(risk_tx), tx_code=np.array([code[a] for a in risk_tx["asset_id"].to_list()], dtype=np.int64),
        tx_flow=sign * risk_tx["notional"].to_numpy(),
        mark=market_marks(market, panel_rows, cols),
    )


def _stable_symbol(holdings: pl.DataFrame, stable_id: str) -> str:
    found = holdings.filter(pl.col("asset_id") == stable_id)["symbol"]
    return str(found[0]) if found.len() else ("CASH" if stable_id == CASH_ID else stable_id)


def _symbols(market: MarketData, cols: np.ndarray, col_of: np.ndarray, row_of: np.ndarray) -> np.ndarray:
    """The symbol of each of ``cols`` at the last row it is held or traded (``row_of`` for
    ``col_of``): a renamed asset gets the ticker of its latest record, as the report names it."""
    last = np.full(market.n_assets, -1, dtype=np.int64)
    np.maximum.at(last, col_of, row_of)
    return market.symbols_at(last[cols], cols).to_numpy().astype(object)


def replay_book(market: MarketData, first_row: int, stable_col: int, holdings: np.ndarray,
                orders: np.ndarray) -> Book:
    """The ``Book`` of a replay's records (``backtest.kernels.records``: ``HOLDING_DTYPE`` and
    ``ORDER_DTYPE`` arrays with panel rows and columns; ``stable_col`` −1 for cash)."""
    h_col, o_col = holdings["col"], orders["col"]
    hi = np.flatnonzero((h_col >= 0) & (h_col != stable_col))  # field arrays: masking records is slow
    oi = slice(None) if stable_col < 0 else np.flatnonzero(o_col != stable_col)  # cash places no orders
    h_risk, o_risk = h_col[hi], o_col[oi]
    present = np.zeros(market.n_assets, dtype=bool)
    present[h_risk], present[o_risk] = True, True
    cols = np.flatnonzero(present)
    code = np.cumsum(present) - 1  # column → its index in cols
    h_row = np.ascontiguousarray(holdings["row"])  # in date order
    rows = np.arange(first_row, market.n_dates, dtype=np.int64)
    return Book(
        ids=market.asset_ids[cols].astype(object),
        symbols=_symbols(market, cols, np.concatenate([h_risk, o_risk]),
                         np.concatenate([h_row[hi], orders["row"][oi]])),
        book_rows=h_row[np.r_[True, h_row[1:] != h_row[:-1]]] - first_row if h_row.size else h_row,
        rec_row=h_row[hi] - first_row, rec_code=code[h_risk],
        rec_qty=holdings["quantity"][hi], rec_value=holdings["value"][hi],
        tx_row=orders["row"][oi] - first_row, tx_code=code[o_risk],
        tx_flow=np.sign(orders["quantity"][oi]) * orders["notional"][oi],
        mark=market_marks(market, rows, cols),
    )


def contributions_summary(periods: dict[str, dict[str, np.ndarray]], book: Book, top: int = TOP) -> dict[str, Any]:
    """summary.json's ``contributions``: for each period of each ``grouped`` result (by → arrays),
    its ``return``, the ``top`` contributors (contribution > 0, largest first) and detractors (< 0,
    most negative first) as ``{"asset_id", "symbol", "contribution", "pnl"}``, ``others`` (every
    other asset held or traded), ``n_assets``, ``stable_sleeve`` and ``costs`` (≤ 0): the parts sum
    to the return."""
    out: dict[str, Any] = {}
    for by, gr in periods.items():
        rows = []
        for i, label in enumerate(gr["labels"].tolist()):
            ks = np.flatnonzero(gr["involved"][i])
            c = gr["contribution"][i, ks]
            down, up = np.lexsort((ks, -c)), np.lexsort((ks, c))  # ties: by asset_id
            best = ks[down][c[down] > 0][:top].tolist()
            worst = ks[up][c[up] < 0][:top].tolist()
            shown = best + worst
            rows.append({
                "period": str(label), "return": _num(gr["ret"][i]),
                "contributors": [_entry(book, gr, i, k) for k in best],
                "detractors": [_entry(book, gr, i, k) for k in worst],
                "others": _num(float(c.sum()) - float(gr["contribution"][i, shown].sum())),
                "n_assets": int(ks.size),
                "stable_sleeve": _num(gr["sleeve"][i]), "costs": _num(gr["costs"][i]),
            })
        out[by] = rows
    return out


def _entry(book: Book, gr: dict[str, np.ndarray], i: int, k: int) -> dict[str, Any]:
    return {"asset_id": str(book.ids[k]), "symbol": str(book.symbols[k]),
            "contribution": _num(gr["contribution"][i, k]), "pnl": _num(gr["pnl"][i, k])}
