"""Hostile or unusual loader input: the reserved asset_id ``cash``, damaged and binary files, odd
header names and cells, non-finite numbers in Parquet. Every case is a ``DataError`` naming the file
(and column / row) in words a terminal prints as is; huge finite caps that overflow their sum stop
the total market cap regime with a ``PlanError`` naming the date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from backtest import run_backtest
from index_engine import IndexConfig, MarketData
from index_engine.data.loaders import load_long_file, load_long_files, load_long_frame
from index_engine.data.panel import panel_from_dense
from index_engine.errors import DataError, PlanError

D = dt.date


def _frame(ids=("bitcoin", "cash"), days: int = 3) -> pl.DataFrame:
    return pl.DataFrame({
        "date": [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(days) for _ in ids],
        "asset_id": [a for _ in range(days) for a in ids],
        "symbol": [a[:3].upper() for _ in range(days) for a in ids],
        "price_usd": 1.0, "market_cap_usd": 1e9,
    })


# ---- the reserved asset_id `cash` ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "frame", "pandas"])
def test_the_cash_asset_id_is_refused_naming_file_rows_and_fix(tmp_path, fmt):
    frame = _frame()
    path = tmp_path / f"m.{'csv' if fmt == 'csv' else 'parquet'}"
    with pytest.raises(DataError) as info:
        if fmt == "parquet":
            frame.write_parquet(path)
            MarketData.from_parquet(path)
        elif fmt == "csv":
            frame.write_csv(path)
            MarketData.from_csv(path)
        else:
            MarketData.from_frame(frame if fmt == "frame" else frame.to_pandas(), source="my-frame")
    msg = str(info.value)
    where = "my-frame" if fmt in ("frame", "pandas") else str(path)
    assert msg.startswith(f"{where}, column asset_id: 3 row(s) with the asset_id 'cash', which is reserved for "
                          "the cash stable sleeve"), msg
    assert "rename the asset in the data, e.g. to 'cash-token'" in msg
    assert ("row 2 (line 3): " if fmt == "csv" else "row 2: ") + "date=" in msg and "asset_id='cash'" in msg


def test_cash_is_refused_after_stripping_and_in_stacked_files(tmp_path):
    padded = _frame().with_columns(pl.col("asset_id").replace({"cash": "  cash "}))
    with pytest.raises(DataError, match="reserved for the cash stable sleeve"):
        load_long_frame(padded)
    _frame(("bitcoin",)).write_parquet(tmp_path / "a.parquet")
    _frame(("cash",), days=1).with_columns(pl.lit(D(2024, 2, 1)).alias("date")).write_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"a\.parquet \+ .*b\.parquet, column asset_id: 1 row\(s\) with the asset_id 'cash'"):
        load_long_files([tmp_path / "a.parquet", tmp_path / "b.parquet"])


def test_ids_that_merely_contain_cash_are_fine():
    m = load_long_frame(_frame(("bitcoin-cash", "CASH", "cashcoin")))
    assert m.asset_ids.tolist() == ["CASH", "bitcoin-cash", "cashcoin"]


def test_panel_from_dense_refuses_the_cash_id():
    dates = np.datetime64("2024-01-01") + np.arange(2)
    with pytest.raises(DataError, match=r"my-panel: asset_id 'cash' \(column 1\) is reserved for the cash stable "
                                        r"sleeve .*rename the asset"):
        panel_from_dense(dates, np.array(["a", "cash"], dtype=object), np.ones((2, 2)), np.ones((2, 2)), None,
                         pl.DataFrame({"asset_id": ["a", "cash"]}), source="my-panel")



# ---- unreadable files: a clear message, never the reader's text or the file's bytes -------------


NOT_PARQUET = "not a readable Parquet file (damaged, truncated, or not Parquet)"


def _clean(msg: str, limit: int = 600) -> None:
    """A message a terminal can print as is: no control character, no undecodable byte, short."""
    assert all(ch.isprintable() or ch == "\n" for ch in msg), repr(msg)
    assert "\ufffd" not in msg and len(msg) <= limit, msg


def _good_parquet(path):
    _frame(("bitcoin", "ethereum"), days=50).write_parquet(path)
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "random", "footer-intact"])
def test_a_damaged_parquet_file_is_named_in_words_with_the_cause_chained(tmp_path, damage):
    good = _good_parquet(tmp_path / "good.parquet")
    rng = np.random.default_rng(3)
    tail = int.from_bytes(good[-8:-4], "little") + 8  # the footer (schema) and its length + "PAR1"
    body = {"truncated": good[: len(good) // 2],
            "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
            # the schema still reads, the data pages do not
            "footer-intact": good[:4] + rng.integers(0, 256, len(good) - 4 - tail, dtype=np.uint8).tobytes()
            + good[-tail:]}[damage]
    path = tmp_path / "market.parquet"
    path.write_bytes(body)
    if damage == "footer-intact":
        assert "price_usd" in pl.read_parquet_schema(path)
    with pytest.raises(DataError) as info:
        load_long_file(path)
    assert str(info.value) == f"cannot read {path}: {NOT_PARQUET}"
    assert isinstance(info.value.__cause__, pl.exceptions.PolarsError)  # the reader's own error, kept for debugging


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_panic_inside_the_reader_is_a_data_error(tmp_path, monkeypatch, fmt):
    """Some damaged Parquet files make polars panic (a BaseException, which ``except Exception``
    missed: a bare traceback), e.g. a few flipped bytes in a data page."""
    path = tmp_path / f"market.{fmt}"
    _frame().write_parquet(path) if fmt == "parquet" else _frame().write_csv(path)

    def panic(*args, **kwargs):
        raise pl.exceptions.PanicException("assertion `left == right` failed")

    monkeypatch.setattr(pl, "read_parquet" if fmt == "parquet" else "read_csv", panic)
    with pytest.raises(DataError, match=f"cannot read {path}" + (": not a readable Parquet" if fmt == "parquet"
                                                                 else " as CSV: not a readable CSV file")):
        load_long_file(path, fmt=fmt)


def test_a_binary_csv_header_is_not_echoed(tmp_path):
    path = tmp_path / "market.csv"
    path.write_bytes(b"\x00\x01\xff\xfe\x1b[31mdate,\x89PNG\r\n" + np.random.default_rng(1).bytes(2000))
    with pytest.raises(DataError) as info:
        load_long_file(path, fmt="csv")
    msg = str(info.value)
    assert msg.startswith(f"{path}: missing required column(s) date, asset_id, price_usd, market_cap_usd")
    assert "column name(s) that are not text: binary data, not a CSV/Parquet table?" in msg
    _clean(msg)


def test_odd_header_names_are_listed_literally_escaped_and_cut(tmp_path):
    long_name = "x" * 500
    path = tmp_path / "market.csv"
    path.write_text(f"date,\x1b[31masset\x1b[0m,{long_name},price_usd,market_cap_usd\n2024-01-01,a,1,1,1\n")
    with pytest.raises(DataError) as info:
        load_long_file(path, fmt="csv")
    msg = str(info.value)
    assert "(present: date, '\\x1b[31masset\\x1b[0m', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (500 characters), " \
           "price_usd, market_cap_usd)" in msg
    _clean(msg)
    many = tmp_path / "many.csv"
    many.write_text(",".join(f"c{i}" for i in range(100)) + "\n1\n")
    with pytest.raises(DataError, match=r"present: c0, c1, .*, c19, \.\.\. \(80 more\)\)$"):
        load_long_file(many, fmt="csv")


@pytest.mark.parametrize(("body", "problem"), [
    (b"2024-01-01,bit\xff\xfecoin,1,1\n", "not UTF-8 text (a binary file, or text in another encoding)"),
    (b'2024-01-01,"secret-cell,1,1\n2024-01-02,b,1,1\n', "not a readable CSV file (unbalanced quotes"),
    (b"2024-01-01,secret-cell,1,1,9,9\n", "a line has more fields than the header"),
])
def test_unreadable_csv_rows_are_described_not_echoed(tmp_path, body, problem):
    path = tmp_path / "market.csv"
    path.write_bytes(b"date,asset_id,price_usd,market_cap_usd\n" + body)
    with pytest.raises(DataError) as info:
        load_long_file(path, fmt="csv")
    msg = str(info.value)
    assert msg.startswith(f"cannot read {path} as CSV: {problem}"), msg
    assert "secret-cell" not in msg and "Consider" not in msg and "infer_schema" not in msg
    assert info.value.__cause__ is not None
    _clean(msg)


def test_a_binary_categories_file_is_described_not_echoed(tmp_path):
    cats = tmp_path / "cats.csv"
    cats.write_bytes(b"asset_id,category\nbit\xff\xfecoin,stablecoin\n")
    with pytest.raises(DataError) as info:
        load_long_frame(_frame(("bitcoin",)), categories=cats)
    assert str(info.value) == f"cannot read categories file {cats} as CSV: not UTF-8 text (a binary file, or text " \
                              "in another encoding); expected a UTF-8 CSV file"
    odd = tmp_path / "odd.csv"
    odd.write_text("asset_id,\x1b[2Jkind\nbitcoin,other\n")
    with pytest.raises(DataError) as info:
        load_long_frame(_frame(("bitcoin",)), categories=odd)
    assert "(present: asset_id, '\\x1b[2Jkind')" in str(info.value)
    _clean(str(info.value))


def test_long_or_hostile_cells_in_row_examples_are_escaped_and_cut():
    frame = _frame(("bitcoin",)).with_columns(pl.lit("\x1b]0;pwned\x07" + "y" * 5000).alias("asset_id"),
                                              pl.lit(-1.0).alias("price_usd"))
    with pytest.raises(DataError) as info:
        load_long_frame(frame, source="src")
    msg = str(info.value)
    assert "asset_id='\\x1b]0;pwned\\x07" + "y" * 30 + "'... (5010 characters)" in msg
    _clean(msg)


def test_stacked_files_whose_column_types_clash_name_the_column_and_files(tmp_path):
    _frame(("bitcoin",)).write_parquet(tmp_path / "a.parquet")
    _frame(("ether",)).with_columns(pl.col("price_usd").map_elements(lambda v: [v], return_dtype=pl.List(pl.Float64))) \
        .write_parquet(tmp_path / "b.parquet")
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    with pytest.raises(DataError) as info:
        load_long_files([a, b])
    assert str(info.value) == f"{a} + {b}: the files do not stack: column price_usd is Float64 in {a} but " \
                              f"List(Float64) in {b}; give it one type in every file"


# ---- non-finite numbers -----------------------------------------------------------------------


@pytest.mark.parametrize("column", ["price_usd", "market_cap_usd", "volume_24h_usd"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_inf_in_a_parquet_file_names_the_column_and_row(tmp_path, column, value):
    frame = _frame(("bitcoin",)).with_columns(pl.lit(1.0).alias("volume_24h_usd"))
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(value).otherwise(pl.col(column)).alias(column))
    path = tmp_path / "market.parquet"
    frame.write_parquet(path)
    with pytest.raises(DataError) as info:
        load_long_file(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}, column {column}: 1 row(s) with non-finite values (NaN/inf); expected a finite "
                          "number or null:"), msg
    assert f"row 2: date=2024-01-02, asset_id='bitcoin', {column}={value!r}" in msg


def test_caps_whose_sum_overflows_stop_the_total_market_cap_regime_naming_the_date():
    frame = _frame(("alpha", "beta"), days=6).with_columns(
        pl.when((pl.col("asset_id") == "beta") & (pl.col("date") >= D(2024, 1, 4))).then(1e308)
        .otherwise(pl.when(pl.col("asset_id") == "alpha").then(1e308).otherwise(1e9)).alias("market_cap_usd"))
    market = load_long_frame(frame, source="huge-caps")
    assert np.isfinite(market.market_cap).all()  # every cap is finite: only their sum is not
    cfg = IndexConfig.from_dict({"selection": {"top_n": 2}, "regime": {"signal": "total_market_cap_sma", "window": 2}})
    with pytest.raises(PlanError, match=r"^regime: the total market cap of the universe overflows to infinity on "
                                        r"2024-01-04 \(huge-caps\); check the data's market_cap column$"):
        run_backtest(cfg, market, benchmarks=False)
