"""Asset taxonomy: the category of each asset (stablecoin, wrapped, pegged, exchange_token, other).

Categories come from a CSV file, a pandas/polars frame or a ``{asset_id: category}`` mapping; see
``docs/data.md``. Assets that are not listed are ``other``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from index_engine.data.categories import CATEGORIES
from index_engine.data.messages import cell, csv_problem, literal_list
from index_engine.errors import DataError

_MAX_EXAMPLES = 5


def _error(message: str) -> Exception:
    return DataError(message)


def _read_categories(source: Any) -> tuple[pl.DataFrame, str, str]:
    """Return (frame, name for messages, kind: "csv" | "frame" | "mapping")."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise _error(f"categories file not found: {path}")
        try:
            frame = pl.read_csv(path, infer_schema=False)
        except pl.exceptions.NoDataError:
            raise _error(f"categories file {path} is empty; expected a CSV with columns asset_id, category") from None
        except (Exception, pl.exceptions.PanicException) as exc:  # noqa: BLE001 - say it in words (a panic too)
            raise _error(f"cannot read categories file {path} as CSV: {csv_problem(exc)}") from exc
        return frame, f"categories file {path}", "csv"
    if isinstance(source, Mapping):
        items = list(source.items())
        frame = pl.DataFrame(
            {"asset_id": [k for k, _ in items], "category": [v for _, v in items]},
            schema={"asset_id": pl.Utf8, "category": pl.Utf8},
        )
        return frame, "categories mapping", "mapping"
    if isinstance(source, pl.LazyFrame):
        source = source.collect()
    if isinstance(source, pl.DataFrame):
        return source, "categories frame", "frame"
    if type(source).__module__.split(".")[0] == "pandas":
        return pl.from_pandas(source), "categories frame", "frame"
    raise _error(
        f"categories must be None, a CSV path, a frame with asset_id/category columns or a dict; "
        f"got {type(source).__name__}"
    )


def _rows(frame: pl.DataFrame, kind: str) -> str:
    """Up to 5 offending entries; rows count from 1 (CSV: also the file line)."""
    shown = frame.head(_MAX_EXAMPLES)
    lines = []
    for rec in shown.iter_rows(named=True):
        where = "" if kind == "mapping" else f"row {rec['_row']}: "
        if kind == "csv":
            where = f"row {rec['_row']} (line {rec['_row'] + 1}): "
        lines.append(f"  {where}asset_id={cell(rec['asset_id'])}, category={cell(rec['category'])}")
    more = f"\n  ... {frame.height - shown.height} more" if frame.height > shown.height else ""
    return "\n".join(lines) + more


def load_categories(source: Any, asset_ids: np.ndarray) -> np.ndarray:
    """Category of each asset in ``asset_ids`` (object array, same order); unlisted assets are ``other``.

    ``source`` is None, a CSV path, a pandas/polars frame with ``asset_id`` and ``category``
    columns (others ignored) or a ``{asset_id: category}`` mapping. Raises ``DataError`` for
    missing columns, null asset ids, unknown categories and conflicting duplicate rows.
    Listed asset ids that are not in ``asset_ids`` are ignored.
    """
    out = np.full(len(asset_ids), "other", dtype=object)
    if source is None:
        return out
    frame, name, kind = _read_categories(source)
    missing = [c for c in ("asset_id", "category") if c not in frame.columns]
    if missing:
        raise _error(
            f"{name}: missing required column(s) {', '.join(missing)}; expected columns asset_id, category "
            f"(present: {literal_list(frame.columns)})"
        )
    try:
        frame = frame.select(
            pl.col("asset_id").cast(pl.Utf8).str.strip_chars(),
            pl.col("category").cast(pl.Utf8).str.strip_chars(),
        ).with_row_index("_row", offset=1)
    except pl.exceptions.PolarsError as exc:
        raise _error(f"{name}: asset_id and category must be text columns (UTF-8)") from exc

    bad_id = frame.filter(pl.col("asset_id").is_null() | (pl.col("asset_id") == ""))
    if bad_id.height:
        raise _error(f"{name}, column asset_id: {bad_id.height} null/empty asset_id(s); expected an id in every row:\n"
                     + _rows(bad_id, kind))
    unknown = frame.filter(pl.col("category").is_null() | ~pl.col("category").is_in(list(CATEGORIES)))
    if unknown.height:
        raise _error(
            f"{name}, column category: {unknown.height} unknown category value(s); expected one of "
            f"{', '.join(CATEGORIES)}:\n" + _rows(unknown, kind)
        )
    conflicts = frame.filter(pl.col("category").n_unique().over("asset_id") > 1).sort("asset_id", "_row")
    if conflicts.height:
        raise _error(
            f"{name}, column category: {conflicts['asset_id'].n_unique()} asset_id(s) listed with conflicting "
            f"categories; expected one category per asset_id:\n" + _rows(conflicts, kind)
        )

    mapping = dict(frame.unique("asset_id", keep="first").select("asset_id", "category").iter_rows())
    for j, asset in enumerate(asset_ids):
        cat = mapping.get(asset)
        if cat is not None:
            out[j] = cat
    return out
