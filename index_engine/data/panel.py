"""The market panel: dense dates × assets arrays plus an asset table.

Every array is float64 of shape (T, N): rows are the sorted observation dates (UTC days), columns
the assets sorted by ``asset_id``. NaN means "no observation of this asset on this date".
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from index_engine.codes import CASH_ID
from index_engine.data import symbols as symbol_history
from index_engine.data.categories import CATEGORIES  # noqa: F401  (re-exported)
from index_engine.errors import DataError


@dataclass(frozen=True)
class DataWarning:
    """A suspicious-but-accepted feature of the input (counted in the run summary)."""

    kind: str  # e.g. "price_jump_100x"
    count: int
    message: str
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class MarketData:
    """Dense point-in-time market panel.

    Attributes:
        dates: (T,) ``datetime64[D]``, strictly increasing UTC days (the calendar).
        asset_ids: (N,) ``str`` object array, sorted ascending.
        price: (T, N) close price in USD; NaN where unobserved.
        market_cap: (T, N) circulating market cap in USD at the close; NaN where unknown.
        volume: (T, N) 24 h traded volume in USD; NaN where unknown (all NaN if the input has none).
        assets: one row per asset, in column order: asset_id, symbol (the latest one), name,
            category, first_date, last_date (first/last observation with a price).
        source: where the data came from (file path or a description), for messages and summaries.
        warnings: suspicious features found while loading.
        scores: user-supplied (T, N) score columns by name (e.g. a rating), NaN = no score;
            loaded when asked for (``scores=[...]``) and screened by ``universe.min_scores``.
        symbol_changes: each asset's ticker history as change points (col, row, symbol), see
            ``index_engine.data.symbols``; None: each asset's ``assets`` symbol on every row.
            Read it through ``symbols_at`` (point in time) or ``symbols`` (latest).

    """

    dates: np.ndarray
    asset_ids: np.ndarray
    price: np.ndarray
    market_cap: np.ndarray
    volume: np.ndarray
    assets: pl.DataFrame
    source: str = "<memory>"
    warnings: tuple[DataWarning, ...] = ()
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    symbol_changes: pl.DataFrame | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_parquet(cls, path: str | Path, categories: str | Path | None = None,
                     scores: tuple[str, ...] = ()) -> MarketData:
        """Load a long Parquet table (see ``docs/data.md``), optionally with a categories CSV."""
        from index_engine.data.loaders import load_long_file

        return load_long_file(path, categories=categories, fmt="parquet", scores=scores)

    @classmethod
    def from_csv(cls, path: str | Path, categories: str | Path | None = None,
                 scores: tuple[str, ...] = ()) -> MarketData:
        """Load a long CSV table (see ``docs/data.md``), optionally with a categories CSV."""
        from index_engine.data.loaders import load_long_file

        return load_long_file(path, categories=categories, fmt="csv", scores=scores)

    @classmethod
    def from_files(cls, paths, categories: str | Path | None = None, scores: tuple[str, ...] = ()) -> MarketData:
        """Stack several long files of one format (e.g. both shared daily files) into one panel; the
        same (date, asset_id) in two files is an error (``docs/data.md``)."""
        from index_engine.data.loaders import load_long_files

        return load_long_files(paths, categories=categories, scores=scores)

    @classmethod
    def from_frame(cls, frame, categories=None, source: str = "<frame>", scores: tuple[str, ...] = ()) -> MarketData:
        """Build from a long pandas or polars frame. ``categories`` may be a path, a frame with
        ``asset_id, category`` columns, or a ``{asset_id: category}`` mapping."""
        from index_engine.data.loaders import load_long_frame

        return load_long_frame(frame, categories=categories, source=source, scores=scores)

    @classmethod
    def synthetic(cls, seed: int = 7, **kwargs) -> MarketData:
        """The embedded, seeded synthetic market (see ``index_engine.data.synthetic``)."""
        from index_engine.data.synthetic import synthetic_market

        return synthetic_market(seed=seed, **kwargs)

    # ---- convenience --------------------------------------------------------------------------
    @property
    def n_dates(self) -> int:
        """Number of observation dates (rows, T)."""
        return int(self.dates.shape[0])

    @property
    def n_assets(self) -> int:
        """Number of assets (columns, N)."""
        return int(self.asset_ids.shape[0])

    @property
    def categories(self) -> np.ndarray:
        """(N,) category of each asset column."""
        return self.assets["category"].to_numpy()

    @property
    def symbols(self) -> np.ndarray:
        """(N,) latest symbol of each asset column (falls back to the asset_id where unknown): the
        current ticker. A label for a past date must use ``symbols_at`` (a ticker can change)."""
        sym = self.assets["symbol"].to_numpy()
        return np.where(pl.Series(sym).is_null().to_numpy(), self.asset_ids, sym).astype(object)

    def symbols_at(self, rows: np.ndarray, cols: np.ndarray, fill: str | None = None) -> pl.Series:
        """Point-in-time symbols, in bulk: for each k the symbol of column ``cols[k]`` as observed at
        row ``rows[k]`` — its last non-null symbol on or before that row, its asset_id before its first
        one (never a later symbol); ``fill`` (default null) where ``cols[k] < 0``."""
        return self._symbol_lookup.at(rows, cols, fill)

    @cached_property
    def _symbol_lookup(self) -> symbol_history.SymbolLookup:
        changes = self.symbol_changes
        if changes is None:
            changes = symbol_history.static(self.assets["symbol"])
        return symbol_history.SymbolLookup(changes, self.asset_ids, self.n_dates)

    def last_close(self, col: int) -> np.ndarray:
        """(T,) close of column ``col`` carried forward over gaps: at each row the last valid
        (finite, > 0) close on or before it; NaN before the first one."""
        px = self.price[:, col]
        idx = np.where(np.isfinite(px) & (px > 0), np.arange(px.size), -1)
        np.maximum.accumulate(idx, out=idx)
        return np.where(idx >= 0, px[np.maximum(idx, 0)], np.nan)

    def asset_index(self, asset_id: str) -> int:
        """Column of ``asset_id``; raises KeyError naming the id when it is not in the data."""
        pos = int(np.searchsorted(self.asset_ids, asset_id))
        if pos >= self.n_assets or self.asset_ids[pos] != asset_id:
            raise KeyError(f"asset_id {asset_id!r} is not in the market data ({self.source})")
        return pos

    def date_index(self, date: np.datetime64 | dt.date | str) -> int:
        """Index of the first observation on or after ``date`` (the day; may equal T)."""
        return int(np.searchsorted(self.dates, np.asarray(date, dtype="datetime64[D]"), side="left"))

    def truncate(self, last_date) -> MarketData:
        """The panel as it would have been known at the close of ``last_date`` (rows ≤ last_date).

        Assets with no observation up to ``last_date`` are dropped, as a loader would never have
        seen them. Used to test that results never depend on later data.
        """
        stop = int(np.searchsorted(self.dates, np.datetime64(last_date, "D"), side="right"))
        seen = np.isfinite(self.price[:stop]).any(axis=0) | np.isfinite(self.market_cap[:stop]).any(axis=0)
        cols = np.flatnonzero(seen)
        assets = self.assets[cols.tolist()].drop(["first_date", "last_date", "symbol"])
        changes = self.symbol_changes
        if changes is None:
            changes = symbol_history.static(self.assets["symbol"])
        return panel_from_dense(
            dates=self.dates[:stop],
            asset_ids=self.asset_ids[cols],
            price=np.ascontiguousarray(self.price[:stop, cols]),
            market_cap=np.ascontiguousarray(self.market_cap[:stop, cols]),
            volume=np.ascontiguousarray(self.volume[:stop, cols]),
            assets=assets,
            source=f"{self.source} (truncated at {last_date})",
            scores={k: np.ascontiguousarray(v[:stop, cols]) for k, v in self.scores.items()},
            symbol_changes=symbol_history.truncate(changes, stop, cols),
        )

    def content_hash(self) -> str:
        """sha256 of the panel's content (dates, ids, categories, arrays), format independent. Labels
        (symbols, names) are not part of it.

        Computed once per panel (the arrays are treated as immutable)."""
        return self._content_hash

    @cached_property
    def _content_hash(self) -> str:
        h = hashlib.sha256()
        h.update(self.dates.astype("datetime64[D]").astype(np.int64).tobytes())
        h.update("\x1f".join(self.asset_ids.tolist()).encode())
        h.update("\x1f".join(str(c) for c in self.categories.tolist()).encode())
        for arr in (self.price, self.market_cap, self.volume):
            h.update(np.ascontiguousarray(arr).data.cast("B"))  # no copy of the panel
        for name in sorted(self.scores):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.scores[name]).data.cast("B"))
        return h.hexdigest()

    def __repr__(self) -> str:
        if self.n_dates:
            span = f"{self.dates[0]} .. {self.dates[-1]}"
        else:
            span = "empty"
        return f"MarketData({self.n_dates} dates × {self.n_assets} assets, {span}, source={self.source!r})"


def panel_from_dense(
    dates: np.ndarray,
    asset_ids: np.ndarray,
    price: np.ndarray,
    market_cap: np.ndarray,
    volume: np.ndarray | None,
    assets: pl.DataFrame,
    source: str = "<memory>",
    warnings: tuple[DataWarning, ...] = (),
    scores: dict[str, np.ndarray] | None = None,
    symbol_changes: pl.DataFrame | None = None,
) -> MarketData:
    """Assemble a ``MarketData`` from already-validated dense arrays.

    ``assets`` has one row per column (same order as ``asset_ids``) with at least ``asset_id``;
    ``symbol``, ``name`` and ``category`` are filled in when absent (category defaults to
    ``other``). ``first_date``/``last_date`` are derived from where ``price`` is positive.
    ``symbol_changes`` (columns col, row, symbol: the symbol observed from that row on) gives
    tickers that change over time; ``assets.symbol`` is then ignored and set to the latest one.
    Without it each asset's ``assets`` symbol is its symbol on every row. The asset_id ``cash`` is
    refused: it is reserved for the cash stable sleeve.
    """
    t, n = price.shape
    _refuse_cash_id(asset_ids, source)
    if volume is None:
        volume = np.full((t, n), np.nan)
    valid = np.isfinite(price) & (price > 0)
    has = valid.any(axis=0)
    first = np.where(has, valid.argmax(axis=0), 0)
    last = np.where(has, t - 1 - valid[::-1].argmax(axis=0), 0)
    day = dates.astype("datetime64[D]")
    cols = {"asset_id": pl.Series("asset_id", list(asset_ids), dtype=pl.Utf8)}
    for name in ("symbol", "name"):
        cols[name] = (
            assets[name].cast(pl.Utf8) if name in assets.columns else pl.Series(name, [None] * n, dtype=pl.Utf8)
        )
    changes = symbol_history.static(cols["symbol"]) if symbol_changes is None else _checked_changes(
        symbol_changes, t, n, source)
    cols["symbol"] = symbol_history.latest(changes, n)
    if "category" in assets.columns:
        cols["category"] = assets["category"].cast(pl.Utf8).fill_null("other")
    else:
        cols["category"] = pl.Series("category", ["other"] * n, dtype=pl.Utf8)
    empty = np.array([], "datetime64[D]")
    cols["first_date"] = pl.Series("first_date", day[first] if t else empty)
    cols["last_date"] = pl.Series("last_date", day[last] if t else empty)
    cols["_has"] = pl.Series("_has", has)
    table = pl.DataFrame(cols).with_columns(
        pl.when("_has").then(pl.col("first_date")).alias("first_date"),
        pl.when("_has").then(pl.col("last_date")).alias("last_date"),
    ).drop("_has")
    return MarketData(
        dates=day.copy(),
        asset_ids=np.asarray(asset_ids, dtype=object),
        price=np.ascontiguousarray(price, dtype=np.float64),
        market_cap=np.ascontiguousarray(market_cap, dtype=np.float64),
        volume=np.ascontiguousarray(volume, dtype=np.float64),
        assets=table,
        source=source,
        warnings=tuple(warnings),
        scores={k: np.ascontiguousarray(v, dtype=np.float64) for k, v in (scores or {}).items()},
        symbol_changes=changes,
    )


def _refuse_cash_id(asset_ids: np.ndarray, source: str) -> None:
    at = np.flatnonzero(np.asarray(asset_ids, dtype=object) == CASH_ID)
    if at.size:
        raise DataError(
            f"{source}: asset_id {CASH_ID!r} (column {int(at[0])}) is reserved for the cash stable sleeve "
            f"(stable.asset: cash, the 'cash' rows of holdings and quotes); rename the asset in the data, "
            f"e.g. to 'cash-token'"
        )


def _checked_changes(changes: pl.DataFrame, t: int, n: int, source: str) -> pl.DataFrame:
    """``changes`` as a compact history; ``DataError`` for missing columns or rows/cols out of the panel."""
    missing = [c for c in symbol_history.SCHEMA if c not in changes.columns]
    if missing:
        raise DataError(f"{source}: symbol_changes lacks column(s) {', '.join(missing)}; expected col, row, symbol")
    out = symbol_history.compact(changes)
    outside = out.filter((pl.col("col") < 0) | (pl.col("col") >= n) | (pl.col("row") < 0) | (pl.col("row") >= t))
    if outside.height:
        raise DataError(f"{source}: symbol_changes row {outside.row(0)} (col, row, symbol) is outside the "
                        f"{t} x {n} panel")
    return out
