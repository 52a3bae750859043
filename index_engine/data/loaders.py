"""Load a long market table (Parquet, CSV or frame) into a validated dense ``MarketData`` panel.

Input format, validation rules and warnings are documented in ``docs/data.md``. Prices, market
caps and volumes are USD; a row's values are observed at the close of its UTC day.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import polars as pl

from index_engine.codes import CASH_ID
from index_engine.data import symbols as symbol_history
from index_engine.data.messages import cell, csv_problem, examples, literal, literal_list, looks_binary, type_clash
from index_engine.data.panel import DataWarning, MarketData, panel_from_dense
from index_engine.data.taxonomy import load_categories
from index_engine.errors import DataError, DataQualityWarning

REQUIRED_COLUMNS = ("date", "asset_id", "price_usd", "market_cap_usd")
OPTIONAL_COLUMNS = ("volume_24h_usd", "symbol", "name")
NUMERIC_COLUMNS = ("price_usd", "market_cap_usd", "volume_24h_usd")
JUMP_FACTOR = 100.0  # a move between consecutive prices beyond this factor (up or down) is flagged
_MAX_EXAMPLES = 5
_MAX_WARNING_EXAMPLES = 10
_ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"


# ---- public API -------------------------------------------------------------------------------


def load_long_file(path: str | Path, categories: Any = None, fmt: str = "parquet",
                   scores: Sequence[str] = ()) -> MarketData:
    """Load a long Parquet or CSV file (``fmt`` = ``"parquet"`` | ``"csv"``) into a dense panel.

    ``categories``: None, a categories CSV path, a frame with ``asset_id, category`` or a dict.
    ``scores``: extra numeric columns to load as user scores (e.g. a rating), see ``MarketData.scores``.
    Raises ``DataError`` when the file is missing, unreadable, empty or invalid.
    """
    path = Path(path)
    if fmt not in ("parquet", "csv"):
        raise DataError(f"unknown format {fmt!r} for {path}; expected 'parquet' or 'csv'")
    if not path.exists():
        raise DataError(f"market data file not found: {path}")
    scores = tuple(scores)
    frame = _read_csv(path, scores) if fmt == "csv" else _read_parquet(path, scores)
    return _build(frame, categories=categories, source=str(path), is_csv=fmt == "csv", scores=scores)


def file_format(path: str | Path) -> str:
    """``"parquet"`` (``.parquet``, ``.pq``) or ``"csv"`` by the file's suffix (case-insensitive)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(f"{path}: expected a .parquet, .pq or .csv file")


def load_long_files(paths: Sequence[str | Path], categories: Any = None, scores: Sequence[str] = ()) -> MarketData:
    """Stack several long files of one format (by suffix) into one panel, e.g. the two daily files of
    the shared data (``cmc_daily_2013_2018`` then ``cmc_daily_2018``). The same (date, asset_id) in
    two files is a ``DataError``; the panel's source names every file."""
    files = [Path(p) for p in paths]
    if not files:
        raise DataError("no market data file given")
    fmts = {file_format(p) for p in files}
    if len(fmts) > 1:
        raise DataError(f"{', '.join(map(str, files))}: stack files of one format (all Parquet or all CSV)")
    fmt = fmts.pop()
    if len(files) == 1:
        return load_long_file(files[0], categories, fmt, scores)
    for p in files:
        if not p.exists():
            raise DataError(f"market data file not found: {p}")
    scores = tuple(scores)
    frames = [_read_csv(p, scores) if fmt == "csv" else _read_parquet(p, scores) for p in files]
    try:
        frame = pl.concat(frames, how="diagonal_relaxed")
    except Exception as exc:  # noqa: BLE001 - e.g. a column that is a number in one file and text in another
        raise DataError(f"{' + '.join(map(str, files))}: the files do not stack: {type_clash(files, frames)}") \
            from exc
    return _build(frame, categories=categories, source=" + ".join(map(str, files)), is_csv=fmt == "csv",
                  scores=scores)


def load_long_frame(frame: Any, categories: Any = None, source: str = "<frame>",
                    scores: Sequence[str] = ()) -> MarketData:
    """Build a dense panel from a long pandas or polars frame (same columns as the files).

    pandas NaN values are treated as nulls (unknown); in a polars frame NaN is an error.
    """
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        if type(frame).__module__.split(".")[0] != "pandas":
            raise DataError(f"{source}: expected a pandas or polars DataFrame, got {type(frame).__name__}")
        named_index = any(n is not None for n in getattr(frame.index, "names", [None]))
        try:
            frame = pl.from_pandas(frame, include_index=named_index)
        except Exception as exc:  # noqa: BLE001 - e.g. mixed-type object columns
            raise DataError(f"{source}: cannot convert the pandas frame to polars (a column mixes types, e.g. "
                            f"numbers and text; give each column one type): {literal(exc, 200)}") from exc
    scores = tuple(scores)
    _check_columns(frame.columns, source, scores)
    keep = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in frame.columns] + list(scores)
    return _build(frame.select(keep), categories=categories, source=source, is_csv=False, scores=scores)


# ---- reading ----------------------------------------------------------------------------------


def _check_columns(columns: list[str], source: str, scores: Sequence[str] = ()) -> None:
    """Required (and score) columns present; the names found are listed literally (a header of binary
    garbage is escaped and cut, never printed as is)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    present = literal_list(columns)
    if looks_binary(columns):
        present = f"{len(columns)} column name(s) that are not text: binary data, not a CSV/Parquet table?"
    if missing:
        raise DataError(
            f"{source}: missing required column(s) {', '.join(missing)}; expected "
            f"{', '.join(REQUIRED_COLUMNS)} (present: {present})"
        )
    missing = [c for c in scores if c not in columns]
    if missing:
        raise DataError(
            f"{source}: score column(s) {literal_list(missing)} named in universe.min_scores are not in the data "
            f"(present: {present})"
        )


_NOT_PARQUET = "not a readable Parquet file (damaged, truncated, or not Parquet)"
# any reader failure, including a panic inside polars (a BaseException) on some damaged files
_READER_FAILURES = (Exception, pl.exceptions.PanicException)


def _read_parquet(path: Path, scores: tuple[str, ...] = ()) -> pl.DataFrame:
    """The needed columns; a file the reader refuses is a ``DataError`` that says so in words (the
    reader's message, which can hold internals or file bytes, stays in ``__cause__``)."""
    try:
        with open(path, "rb") as fh:  # a handle: a name like run[1].parquet or g*.parquet is not a pattern
            columns = list(pl.read_parquet_schema(fh))
    except _READER_FAILURES as exc:  # any reader failure is a data error
        raise DataError(f"cannot read {path}: {_NOT_PARQUET}") from exc
    _check_columns(columns, str(path), scores)
    keep = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in columns] + list(scores)
    try:
        return pl.read_parquet(path, columns=keep, glob=False)
    except _READER_FAILURES as exc:
        raise DataError(f"cannot read {path}: {_NOT_PARQUET}") from exc


def _read_csv(path: Path, scores: tuple[str, ...] = ()) -> pl.DataFrame:
    """Read every column as text so that bad values can be reported with their row."""
    try:
        columns = pl.read_csv(path, n_rows=0, infer_schema=False, glob=False).columns
        _check_columns(columns, str(path), scores)
        keep = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in columns] + list(scores)
        return pl.read_csv(path, columns=keep, infer_schema=False, glob=False)
    except DataError:
        raise
    except pl.exceptions.NoDataError:
        raise DataError(f"{path} is empty; expected a CSV header with {', '.join(REQUIRED_COLUMNS)}") from None
    except _READER_FAILURES as exc:  # the reader's message can echo the file: say it in words
        raise DataError(f"cannot read {path} as CSV: {csv_problem(exc)}") from exc


# ---- validation -------------------------------------------------------------------------------


def _fail(
    source: str, column: str, problem: str, expected: str, bad: pl.DataFrame, show: list[str], is_csv: bool
) -> NoReturn:
    raise DataError(
        f"{source}, column {column}: {bad.height} row(s) {problem}; expected {expected}:\n"
        + examples(bad, show, is_csv)
    )


def _parse_dates(df: pl.DataFrame, source: str, is_csv: bool) -> pl.Series:
    """The ``date`` column as UTC calendar days (``pl.Date``)."""
    col = df["date"]
    expected = "a Date, a Datetime (UTC day is taken) or an ISO 'YYYY-MM-DD' string"
    if col.dtype == pl.Date:
        day = col
    elif isinstance(col.dtype, pl.Datetime):
        if col.dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC")
        day = col.dt.date()
    elif col.dtype in (pl.Utf8, pl.Categorical) or isinstance(col.dtype, pl.Enum):
        text = col.cast(pl.Utf8).str.strip_chars()
        day = text.str.to_date("%Y-%m-%d", strict=False)
        day = (
            pl.DataFrame({"text": text, "day": day})
            .select(pl.when(pl.col("text").str.contains(_ISO_DAY)).then(pl.col("day")))
            .to_series()
        )
        bad = df.filter(text.is_not_null() & day.is_null())
        if bad.height:
            _fail(source, "date", "with unparseable dates", expected, bad, ["date", "asset_id"], is_csv)
    else:
        raise DataError(
            f"{source}, column date: unsupported type {col.dtype}; expected {expected}; "
            f"example values: {', '.join(cell(v) for v in col.head(_MAX_EXAMPLES).to_list())}"
        )
    bad = df.filter(day.is_null())
    if bad.height:
        _fail(source, "date", "with a null date", expected, bad, ["date", "asset_id"], is_csv)
    return day.alias("date")


def _parse_number(df: pl.DataFrame, name: str, source: str, is_csv: bool, signed: bool = False) -> pl.Series:
    """A numeric column as float64 (null = unknown); rejects text, NaN, ±inf and (unless
    ``signed``, as for user score columns) negative values."""
    col = df[name]
    show = ["date", "asset_id", name]
    if col.dtype == pl.Utf8:
        text = col.str.strip_chars()
        value = text.cast(pl.Float64, strict=False)
        bad = df.filter(text.is_not_null() & (text != "") & value.is_null())
        if bad.height:
            _fail(source, name, "with non-numeric values", "a number in USD or an empty field", bad, show, is_csv)
    elif col.dtype.is_numeric() or col.dtype == pl.Null:
        value = col.cast(pl.Float64)
    else:
        raise DataError(
            f"{source}, column {name}: unsupported type {col.dtype}; expected numbers in USD; "
            f"example values: {', '.join(cell(v) for v in col.head(_MAX_EXAMPLES).to_list())}"
        )
    bad = df.filter(value.is_nan() | value.is_infinite())
    if bad.height:
        _fail(source, name, "with non-finite values (NaN/inf)", "a finite number or null", bad, show, is_csv)
    bad = df.filter(value < 0)
    if bad.height and not signed:
        _fail(source, name, "with negative values", "a value >= 0", bad, show, is_csv)
    return value.alias(name)


def _validate(frame: pl.DataFrame, source: str, is_csv: bool, scores: tuple[str, ...] = ()) -> pl.DataFrame:
    """Typed, validated frame: date (Date), asset_id (str), the numeric columns (f64), symbol, name."""
    _check_columns(frame.columns, source)
    if frame.height == 0:
        raise DataError(f"{source}: no data rows; expected at least one (date, asset_id) observation")
    df = frame.with_row_index("_row", offset=1)
    if df["asset_id"].dtype != pl.Utf8:
        try:
            df = df.with_columns(pl.col("asset_id").cast(pl.Utf8))
        except pl.exceptions.PolarsError as exc:
            raise DataError(f"{source}, column asset_id: type {df['asset_id'].dtype} is not text-like (or not "
                            f"UTF-8); expected text ids") from exc
    df = df.with_columns(pl.col("asset_id").str.strip_chars())
    bad = df.filter(pl.col("asset_id").is_null() | (pl.col("asset_id") == ""))
    if bad.height:
        _fail(source, "asset_id", "with a null/empty asset_id", "a non-empty id", bad, ["date", "asset_id"], is_csv)
    bad = df.filter(pl.col("asset_id") == CASH_ID)
    if bad.height:
        _fail(source, "asset_id", f"with the asset_id {CASH_ID!r}, which is reserved for the cash stable sleeve "
              f"(stable.asset: cash; the 'cash' rows of holdings, transactions and quotes)",
              f"another id: rename the asset in the data, e.g. to '{CASH_ID}-token'", bad,
              ["date", "asset_id", "symbol"], is_csv)
    cols = [df["_row"], _parse_dates(df, source, is_csv), df["asset_id"]]
    cols += [_parse_number(df, c, source, is_csv) for c in NUMERIC_COLUMNS if c in df.columns]
    cols += [df[c].cast(pl.Utf8) for c in ("symbol", "name") if c in df.columns]
    cols += [_parse_number(df, c, source, is_csv, signed=True) for c in scores]
    return pl.DataFrame(cols)


def _check_duplicates(df: pl.DataFrame, key: np.ndarray, n_keys: int, source: str, datetimes: bool,
                      is_csv: bool) -> None:
    """Fail on repeated (date, asset_id) pairs; ``key`` is the flat panel cell of each row."""
    counts = np.bincount(key, minlength=n_keys)
    if counts.max(initial=0) <= 1:
        return
    dup = df.filter(pl.Series(counts[key] > 1)).sort("asset_id", "date", "_row")
    note = " (after taking the UTC day of datetimes)" if datetimes else ""
    _fail(source, "date/asset_id", f"with a duplicate (date, asset_id){note}",
          "one row per (date, asset_id)", dup, ["date", "asset_id", "price_usd"], is_csv)


# ---- panel construction -----------------------------------------------------------------------


def _asset_table(df: pl.DataFrame, ai: np.ndarray, ti: np.ndarray, asset_ids: pl.Series,
                 shape: tuple[int, int]) -> pl.DataFrame:
    """asset_id, name (the last non-null name over time) of each asset."""
    table = pl.DataFrame({"asset_id": asset_ids})
    if "name" in df.columns:
        codes, texts = symbol_history.text_codes(df["name"], ai, ti, shape)
        last = symbol_history.last_observed(codes)[-1]  # (N,) the last row with a name, −1 none
        code = np.where(last >= 0, codes[np.maximum(last, 0), np.arange(shape[1])], -1)
        names = pl.Series(texts, dtype=pl.Utf8).gather(np.maximum(code, 0))
        table = table.with_columns(pl.when(pl.Series(code >= 0)).then(names).alias("name"))
    return table


def _price_warnings(price: np.ndarray, dates: np.ndarray, asset_ids: np.ndarray) -> list[DataWarning]:
    """Moves > 100x between consecutive positive prices of an asset, and exact zero prices."""
    out: list[DataWarning] = []
    t, n = price.shape
    flat = price.T.ravel()  # asset-major: each asset's dates in order
    pos = np.flatnonzero(flat > 0)  # NaN compares False
    p, col, row = flat[pos], pos // t, pos % t
    same = col[1:] == col[:-1]
    ratio = p[1:] / p[:-1]
    hit = np.flatnonzero(same & ((ratio > JUMP_FACTOR) | (ratio < 1.0 / JUMP_FACTOR)))
    if hit.size:
        adjacent = int(np.count_nonzero(row[hit + 1] - row[hit] == 1))
        examples = [
            f"{asset_ids[col[k]]} {dates[row[k + 1]]}: {p[k]:.6g} -> {p[k + 1]:.6g}"
            for k in hit[:_MAX_WARNING_EXAMPLES]
        ]
        out.append(DataWarning(
            kind="price_jump_100x",
            count=int(hit.size),
            message=(
                f"{hit.size} moves > {JUMP_FACTOR:g}x (up or down) between consecutive prices of the same asset "
                f"in {np.unique(col[hit]).size} assets ({adjacent} between adjacent panel dates, "
                f"{hit.size - adjacent} across gaps in the asset's history); left unchanged"
            ),
            examples=examples,
        ))
    zr, zc = np.nonzero(price == 0)
    if zr.size:
        out.append(DataWarning(
            kind="zero_price",
            count=int(zr.size),
            message=f"{zr.size} rows with price_usd exactly 0 (kept; excluded from the jump check)",
            examples=[f"{asset_ids[c]} {dates[r]}"
                      for r, c in zip(zr[:_MAX_WARNING_EXAMPLES], zc[:_MAX_WARNING_EXAMPLES])],
        ))
    return out


def _build(frame: pl.DataFrame, categories: Any, source: str, is_csv: bool, scores: tuple[str, ...] = ()) -> MarketData:
    df = _validate(frame, source, is_csv, scores)
    dates = df["date"].unique().sort()
    asset_ids = df["asset_id"].unique().sort()
    # dense 0-based indices of each row: position among the sorted unique dates / ids
    ti = dates.search_sorted(df["date"]).to_numpy().astype(np.int64)
    positions = pl.int_range(0, asset_ids.len(), dtype=pl.UInt32, eager=True)
    ai = df["asset_id"].replace_strict(asset_ids, positions).to_numpy().astype(np.int64)
    shape = (dates.len(), asset_ids.len())
    datetimes = isinstance(frame["date"].dtype, pl.Datetime)
    _check_duplicates(df, ti * shape[1] + ai, shape[0] * shape[1], source, datetimes, is_csv)

    def dense(name: str) -> np.ndarray:
        arr = np.full(shape, np.nan)
        if name in df.columns:
            arr[ti, ai] = df[name].fill_null(np.nan).to_numpy()
        return arr

    price, market_cap, volume = dense("price_usd"), dense("market_cap_usd"), dense("volume_24h_usd")
    day = dates.to_numpy().astype("datetime64[D]")
    ids = np.asarray(asset_ids.to_list(), dtype=object)
    assets = _asset_table(df, ai, ti, asset_ids, shape).with_columns(
        pl.Series("category", load_categories(categories, ids), dtype=pl.Utf8)
    )
    found = _price_warnings(price, day, ids)
    if found:
        summary = "; ".join(f"{w.kind}: {w.message}" for w in found)
        warnings.warn(f"{source}: {summary}", DataQualityWarning, stacklevel=3)
    return panel_from_dense(
        dates=day,
        asset_ids=ids,
        price=price,
        market_cap=market_cap,
        volume=volume,
        assets=assets,
        source=source,
        warnings=tuple(found),
        scores={name: dense(name) for name in scores},
        symbol_changes=(symbol_history.change_points(ai, ti, df["symbol"], shape) if "symbol" in df.columns
                        else None),
    )
