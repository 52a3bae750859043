"""Published member lists (``universe.membership``): a CSV or Parquet file of ``date, asset_id[, weight]``.

Each list applies to trades on or after its date until the next list; the first observation on or
after a list's date is a reconstitution. Using a list is not look-ahead: it is a schedule the user
asserts was public at its date. Validation names the file, the column and example rows: bad or
null dates, empty ids, duplicated (date, asset_id) pairs, negative / non-finite / partly missing
weights. Listed ids that are not in the market data are counted, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from index_engine.data.loaders import _fail, _parse_dates, _parse_number
from index_engine.data.panel import MarketData
from index_engine.errors import DataError

REQUIRED = ("date", "asset_id")


@dataclass(frozen=True)
class Membership:
    """Member lists aligned to a panel's columns.

    dates: (L,) ``datetime64[D]`` list dates, increasing. members: (L, N) bool, listed and in the data.
    weights: (L, N) published weights (NaN where not listed), or None without a ``weight`` column.
    unknown: listed asset_ids that are not in the data (ignored, reported). source: the file.
    """

    dates: np.ndarray
    members: np.ndarray
    weights: np.ndarray | None
    source: str
    unknown: list[str] = field(default_factory=list)

    def list_of_rows(self, row_dates: np.ndarray) -> np.ndarray:
        """(R,) index of the list in effect at each date (the last list dated on or before it), −1 before
        the first list."""
        return np.searchsorted(self.dates, row_dates.astype("datetime64[D]"), side="right").astype(np.int64) - 1


def _read(path: Path) -> tuple[pl.DataFrame, bool]:
    if not path.is_file():
        raise DataError(f"universe.membership: file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema=False), True
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path), False
    except pl.exceptions.NoDataError:
        raise DataError(f"{path} is empty; expected columns date, asset_id[, weight]") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data error
        raise DataError(f"cannot read the membership file {path}: {type(exc).__name__}") from None
    raise DataError(f"universe.membership: {path}: expected a .csv or .parquet file")


def load_membership(path: str | Path, market: MarketData) -> Membership:
    """Read and validate a membership file and align it to ``market``'s columns."""
    path = Path(path)
    frame, is_csv = _read(path)
    source = str(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; expected date, asset_id[, weight] "
                        f"(present: {', '.join(frame.columns) or 'none'})")
    if frame.height == 0:
        raise DataError(f"{source}: no rows; expected at least one (date, asset_id)")
    df = frame.with_row_index("_row", offset=1)
    df = df.with_columns(pl.col("asset_id").cast(pl.Utf8).str.strip_chars())
    bad = df.filter(pl.col("asset_id").is_null() | (pl.col("asset_id") == ""))
    if bad.height:
        _fail(source, "asset_id", "with a null/empty asset_id", "a non-empty id", bad, ["date", "asset_id"], is_csv)
    cols = [df["_row"], _parse_dates(df, source, is_csv), df["asset_id"]]
    has_weight = "weight" in df.columns
    if has_weight:
        weight = _parse_number(df, "weight", source, is_csv)
        nulls = df.filter(weight.is_null())
        if nulls.height:
            _fail(source, "weight", "without a weight", "a weight in every row (or no weight column)", nulls,
                  ["date", "asset_id", "weight"], is_csv)
        zero = df.filter(weight == 0)
        if zero.height:
            _fail(source, "weight", "with weight 0", "a weight > 0 (list only the members)", zero,
                  ["date", "asset_id", "weight"], is_csv)
        cols.append(weight)
    df = pl.DataFrame(cols)
    dup = df.filter(pl.struct("date", "asset_id").is_duplicated()).sort("date", "asset_id", "_row")
    if dup.height:
        _fail(source, "date/asset_id", "with a duplicate (date, asset_id)", "each asset once per list", dup,
              ["date", "asset_id"], is_csv)
    dates = df["date"].unique().sort()
    list_idx = dates.search_sorted(df["date"]).to_numpy().astype(np.int64)
    ids = df["asset_id"].to_numpy().astype(object)
    known = np.isin(ids, market.asset_ids)
    cols_idx = np.searchsorted(market.asset_ids, ids[known])
    members = np.zeros((dates.len(), market.n_assets), bool)
    members[list_idx[known], cols_idx] = True
    weights = None
    if has_weight:
        weights = np.full(members.shape, np.nan)
        weights[list_idx[known], cols_idx] = df["weight"].to_numpy()[known]
    unknown = sorted(set(ids[~known].tolist()))
    return Membership(dates=dates.to_numpy().astype("datetime64[D]"), members=members, weights=weights,
                      source=source, unknown=unknown)
