"""Point-in-time symbols: each asset's ticker history stored as change points.

A ticker can change (VEN -> VET, GNT -> GLM). A label written for a date must be the symbol observed
on or before that date, never a later one. ``MarketData.symbol_changes`` holds one row per change:

* ``col`` (Int64): the asset's column in the panel;
* ``row`` (Int64): the first panel row where ``symbol`` is in effect (the row it was first observed);
* ``symbol`` (Utf8): the ticker from that row on, until the asset's next change.

Rows are sorted by (col, row), and consecutive rows of one asset have different symbols. Before an
asset's first change point its label is its ``asset_id`` (the symbol is not known yet).
"""

from __future__ import annotations

import numpy as np
import polars as pl

SCHEMA = {"col": pl.Int64, "row": pl.Int64, "symbol": pl.Utf8}


def empty() -> pl.DataFrame:
    """A history with no symbol at all."""
    return pl.DataFrame(schema=SCHEMA)


def change_points(cols: np.ndarray, rows: np.ndarray, symbols: pl.Series) -> pl.DataFrame:
    """The change points of observed ``(col, row, symbol)`` triples (any order; null symbols are
    unknown and skipped: the previous symbol stays in effect). At most one symbol per (col, row)."""
    obs = pl.DataFrame({"col": np.asarray(cols, np.int64), "row": np.asarray(rows, np.int64),
                        "symbol": symbols.cast(pl.Utf8)}, schema=SCHEMA)
    return compact(obs)


def compact(obs: pl.DataFrame) -> pl.DataFrame:
    """``obs`` (columns col, row, symbol) without nulls, sorted, keeping only the rows whose symbol
    differs from the asset's previous one."""
    obs = obs.select(pl.col(c).cast(t) for c, t in SCHEMA.items()).drop_nulls().sort("col", "row")
    previous = pl.col("symbol").shift(1).over("col")
    return obs.filter(previous.is_null() | (pl.col("symbol") != previous))


def static(symbols: pl.Series) -> pl.DataFrame:
    """One symbol per column (``symbols[j]`` for column j, null = none) in effect from row 0."""
    n = symbols.len()
    return compact(pl.DataFrame({"col": np.arange(n, dtype=np.int64), "row": np.zeros(n, np.int64),
                                 "symbol": symbols}, schema=SCHEMA))


def latest(changes: pl.DataFrame, n_assets: int) -> pl.Series:
    """(N,) the last symbol of each column (null where the history has none)."""
    out = np.full(n_assets, None, dtype=object)
    last = changes.unique("col", keep="last", maintain_order=True)
    out[last["col"].to_numpy()] = last["symbol"].to_numpy()
    return pl.Series("symbol", out.tolist(), dtype=pl.Utf8)


def truncate(changes: pl.DataFrame, stop: int, cols: np.ndarray) -> pl.DataFrame:
    """The history of a panel cut to rows < ``stop`` and the (sorted) columns ``cols`` (renumbered)."""
    kept = changes.filter((pl.col("row") < stop) & pl.col("col").is_in(cols.tolist()))
    renumbered = np.searchsorted(cols, kept["col"].to_numpy()).astype(np.int64)
    return kept.with_columns(pl.Series("col", renumbered, dtype=pl.Int64))


class SymbolLookup:
    """Bulk point-in-time symbol lookup over one panel's history (built once per panel)."""

    def __init__(self, changes: pl.DataFrame, asset_ids: np.ndarray, n_dates: int) -> None:
        self._stride = n_dates + 1
        self._col = changes["col"].to_numpy().astype(np.int64)
        self._key = self._col * self._stride + changes["row"].to_numpy().astype(np.int64)
        # labels: the history's symbols, then each asset's id (the fallback before its first symbol)
        self._labels = pl.concat([changes["symbol"].alias("symbol"),
                                  pl.Series("symbol", asset_ids.tolist(), dtype=pl.Utf8)])

    def at(self, rows: np.ndarray, cols: np.ndarray) -> pl.Series:
        """The symbol of column ``cols[k]`` as observed at row ``rows[k]`` (its last change point on or
        before that row; its asset_id before the first one); null where ``cols[k] < 0``."""
        rows = np.asarray(rows, np.int64)
        cols = np.asarray(cols, np.int64)
        pos = np.searchsorted(self._key, cols * self._stride + rows, side="right") - 1
        safe = np.maximum(pos, 0)
        hit = (pos >= 0) & (self._col[safe] == cols) if self._col.size else np.zeros(cols.shape, bool)
        index = pl.Series("i", np.where(hit, safe, self._col.size + np.maximum(cols, 0)), dtype=pl.Int64)
        if (cols < 0).any():
            index = index.scatter(np.flatnonzero(cols < 0), None)
        return self._labels.gather(index)
