"""``quote --holdings FILE``: read and validate a user's holdings (CSV, JSON or Parquet).

Every problem is one ``QuoteError`` that names the file, the row (CSV line, JSON item or key,
Parquet row) or the asset, and what was expected: an unreadable or empty file, bad JSON, a missing
column, an asset_id that is not text, a quantity that is not a finite number in [0, 1e18] (booleans
and numeric strings in JSON are refused, as in configs), an asset listed twice. Whether the assets
are in the data, and whether a holding's value is plausible, is checked by the quote, which knows
the prices (``backtest.quote``).
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

from index_engine.errors import QuoteError

#: the largest quantity of one asset a holdings file may give (units of the asset)
MAX_QUANTITY = 1e18
#: the most rows a holdings file may have
MAX_ROWS = 100_000
SUFFIXES = (".csv", ".json", ".parquet", ".pq")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class Holdings(dict):
    """``{asset_id: quantity}`` read from ``source`` (named in the quote's errors)."""

    source: str = "--holdings"


def _short(value: object, limit: int = 60) -> str:
    """A value as the file spells it (JSON notation: true, null, "1"), shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_holdings(path: str | Path) -> Holdings:
    """A holdings file: CSV or Parquet with columns ``asset_id`` and ``quantity`` (others ignored), or
    JSON (a list of ``{"asset_id", "quantity"}`` objects, or a mapping asset_id → quantity).
    ``"cash"`` is USD already held. Raises ``QuoteError`` naming the file and the row."""
    path = Path(path)
    if not path.exists():
        raise QuoteError(f"--holdings: file not found: {path}")
    if not path.is_file():
        raise QuoteError(f"--holdings: {path} is not a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise QuoteError(f"--holdings {path}: expected a .csv, .json or .parquet file (asset_id, quantity)")
    try:
        if suffix == ".json":
            rows = _json_rows(path)
        elif suffix == ".csv":
            rows = _csv_rows(path)
        else:
            rows = _parquet_rows(path)
    except OSError as exc:
        raise QuoteError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise QuoteError(f"{path}: not UTF-8 text") from None
    return _validate(rows, path)


def _csv_rows(path: Path) -> list[tuple[str, object, object]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            header = reader.fieldnames
            if not header:
                raise QuoteError(f"{path}: empty file; expected a header asset_id,quantity and one row per asset")
            _columns(path, header)
            rows = []
            for rec in reader:
                where = f"line {reader.line_num}"
                if None in rec or None in rec.values():
                    raise QuoteError(f"{path} {where}: expected {len(header)} fields like the header "
                                     f"({','.join(header)})")
                asset = rec["asset_id"].strip()
                rows.append((where, asset, _csv_number(path, f"{where} ({_short(asset)})", rec["quantity"])))
                if len(rows) > MAX_ROWS:
                    break
        except csv.Error as exc:
            raise QuoteError(f"{path} line {reader.line_num}: not valid CSV ({exc})") from None
    return rows


def _csv_number(path: Path, where: str, text: str) -> object:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise QuoteError(f"{path} {where}: quantity must be a number, got {_short(text)}")
    return float(text)


def _json_rows(path: Path) -> list[tuple[str, object, object]]:
    def pairs(items: list) -> dict:
        seen: dict = {}
        for k, v in items:
            if k in seen:
                raise QuoteError(f"{path}: key {_short(k)} appears twice in one JSON object; give each asset once")
            seen[k] = v
        return seen

    try:
        raw = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise QuoteError(f"{path}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise QuoteError(f"{path}: JSON nested too deeply to be holdings") from None
    if isinstance(raw, dict):
        return [(f"key {_short(k)}", k, v) for k, v in raw.items()]
    if not isinstance(raw, list):
        raise QuoteError(f"{path}: expected a JSON list of {{asset_id, quantity}} objects or a mapping "
                         f"{{asset_id: quantity}}, got {type(raw).__name__}")
    rows = []
    for i, item in enumerate(raw[: MAX_ROWS + 1], start=1):
        where = f"item {i}"
        if not isinstance(item, dict) or not {"asset_id", "quantity"} <= set(item):
            raise QuoteError(f"{path} {where}: expected an object with asset_id and quantity, got {_short(item)}")
        rows.append((where, item["asset_id"], item["quantity"]))
    return rows


def _parquet_rows(path: Path) -> list[tuple[str, object, object]]:
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - polars raises many kinds for a damaged file
        raise QuoteError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    _columns(path, frame.columns)
    ids, qty = frame["asset_id"], frame["quantity"]
    if ids.dtype not in (pl.Utf8, pl.Categorical):
        raise QuoteError(f"{path}: column asset_id must be text, got {ids.dtype}")
    if not qty.dtype.is_numeric():
        raise QuoteError(f"{path}: column quantity must be numeric, got {qty.dtype}")
    ids = ids.cast(pl.Utf8)
    qty = qty.cast(pl.Float64)
    return [(f"row {i}", a, q) for i, (a, q) in enumerate(zip(ids.head(MAX_ROWS + 1), qty.head(MAX_ROWS + 1)),
                                                           start=1)]


def check_holdings(holdings: dict, source: str = "holdings") -> Holdings:
    """A ``{asset_id: quantity}`` mapping given in Python, validated like a file's rows."""
    if isinstance(holdings, Holdings):
        return holdings
    if not isinstance(holdings, dict):
        raise QuoteError(f"{source}: expected a mapping asset_id → quantity, got {type(holdings).__name__}")
    return _validate([(f"key {_short(k)}", k, v) for k, v in holdings.items()], source)


def _columns(path: Path, columns) -> None:
    missing = {"asset_id", "quantity"} - set(columns)
    if missing:
        raise QuoteError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected asset_id, quantity "
                         f"(found: {_short(list(columns), 120)})")


def _validate(rows: list[tuple[str, object, object]], path: Path | str) -> Holdings:
    if not rows:
        raise QuoteError(f"{path}: no holdings; expected one row per asset (asset_id, quantity)")
    if len(rows) > MAX_ROWS:
        raise QuoteError(f"{path}: more than {MAX_ROWS:,} rows; a holdings file lists one row per asset")
    out = Holdings()
    out.source = str(path)
    first: dict[str, str] = {}
    for where, asset, qty in rows:
        if not isinstance(asset, str) or not asset.strip():
            raise QuoteError(f"{path} {where}: asset_id must be a non-empty text, got {_short(asset)}")
        if not where.startswith("key "):  # a JSON mapping's key is the asset already
            where = f"{where} ({_short(asset)})"
        if isinstance(qty, bool) or not isinstance(qty, (int, float)):
            raise QuoteError(f"{path} {where}: quantity must be a number, got {_short(qty)}")
        try:
            q = float(qty)
        except OverflowError:  # an integer beyond the float range
            q = math.inf
        if not math.isfinite(q) or q < 0 or q > MAX_QUANTITY:
            raise QuoteError(f"{path} {where}: quantity must be a finite number from 0 to {MAX_QUANTITY:g}, got "
                             f"{_short(qty)}")
        if asset in first:
            raise QuoteError(f"{path} {where.split(' (')[0]}: asset_id {_short(asset)} is already listed at "
                             f"{first[asset]}; give each asset once")
        first[asset] = where.split(" (")[0]
        out[asset] = q
    return out
