"""Loaders' validation errors: file-level (not found, unreadable, empty, missing columns) and
row-level (dates, asset ids, duplicate (date, asset_id) rows, numbers). Each is a ``DataError``
naming the file, the column and up to five example rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from index_engine.data.loaders import DataError, load_long_file, load_long_frame
from tests._helpers import BASIC, long_frame, write_csv

D = dt.date


# ---- file-level errors ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_file_not_found(tmp_path, fmt):
    path = tmp_path / f"missing.{fmt}"
    with pytest.raises(DataError, match="not found") as info:
        load_long_file(path, fmt=fmt)
    assert str(path) in str(info.value)


def test_unreadable_files(tmp_path):
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"cannot read .*garbage.parquet: not a readable Parquet file \(damaged, "
                                        r"truncated, or not Parquet\)$"):
        load_long_file(garbage)
    with pytest.raises(DataError, match="unknown format"):
        load_long_file(garbage, fmt="json")
    ragged = write_csv(tmp_path / "ragged.csv", "date,asset_id,price_usd,market_cap_usd\n2020-01-01,a,1,234,5\n")
    with pytest.raises(DataError, match="cannot read .*ragged.csv as CSV: a line has more fields than the header"):
        load_long_file(ragged, fmt="csv")


def test_empty_files(tmp_path):
    empty = write_csv(tmp_path / "empty.csv", "")
    with pytest.raises(DataError, match="empty.csv is empty"):
        load_long_file(empty, fmt="csv")
    header = write_csv(tmp_path / "header.csv", "date,asset_id,price_usd,market_cap_usd\n")
    with pytest.raises(DataError, match="header.csv: no data rows"):
        load_long_file(header, fmt="csv")
    long_frame(BASIC).head(0).write_parquet(tmp_path / "zero.parquet")
    with pytest.raises(DataError, match="zero.parquet: no data rows"):
        load_long_file(tmp_path / "zero.parquet")


@pytest.mark.parametrize("fmt", ["parquet", "csv", "frame"])
def test_missing_columns_lists_present(tmp_path, fmt):
    frame = long_frame(BASIC).drop("market_cap_usd")
    path = tmp_path / f"m.{fmt}"
    with pytest.raises(DataError) as info:
        if fmt == "parquet":
            frame.write_parquet(path)
            load_long_file(path)
        elif fmt == "csv":
            frame.write_csv(path)
            load_long_file(path, fmt="csv")
        else:
            load_long_frame(frame, source="my-frame")
    msg = str(info.value)
    assert "missing required column(s) market_cap_usd" in msg
    assert "present: date, asset_id, price_usd, volume_24h_usd, symbol, name" in msg
    assert (str(path) if fmt != "frame" else "my-frame") in msg


# ---- row-level errors -------------------------------------------------------------------------


def test_unparseable_csv_dates(tmp_path):
    path = write_csv(tmp_path / "m.csv", "date,asset_id,price_usd,market_cap_usd\n"
                     "2020-01-01,a,1,1\n2020/01/02,a,1,1\n02-01-2020,b,1,1\n2020-1-3,c,1,1\n2020-02-30,d,1,1\n")
    with pytest.raises(DataError) as info:
        load_long_file(path, fmt="csv")
    msg = str(info.value)
    assert f"{path}, column date: 4 row(s) with unparseable dates" in msg
    assert "row 2 (line 3): date='2020/01/02', asset_id='a'" in msg
    assert "'02-01-2020'" in msg and "'2020-1-3'" in msg and "'2020-02-30'" in msg
    assert "YYYY-MM-DD" in msg


def test_bad_date_types_and_null_dates():
    frame = long_frame(BASIC).with_columns(pl.lit(20200101).alias("date"))
    with pytest.raises(DataError, match="column date: unsupported type Int32.*20200101"):
        load_long_frame(frame, source="src")
    nulls = long_frame(BASIC).with_columns(pl.when(pl.col("asset_id") == "tether").then(pl.col("date")).alias("date"))
    with pytest.raises(DataError, match=r"column date: 5 row\(s\) with a null date(.|\n)*row 1: date=None, asset_id='bitcoin'"):
        load_long_frame(nulls)


def test_null_asset_id(tmp_path):
    rows = list(BASIC)
    rows[3] = (D(2020, 1, 2), None, 1.0, 1.0)
    with pytest.raises(DataError, match=r"<frame>, column asset_id: 1 row\(s\) with a null/empty asset_id(.|\n)*row 4: "):
        load_long_frame(long_frame(rows))
    path = write_csv(tmp_path / "m.csv", "date,asset_id,price_usd,market_cap_usd\n2020-01-01,,1,1\n")
    with pytest.raises(DataError, match=r"column asset_id(.|\n)*row 1 \(line 2\): date='2020-01-01', asset_id=None"):
        load_long_file(path, fmt="csv")


def test_duplicate_rows():
    rows = list(BASIC) + [(D(2020, 1, 2), "bitcoin", 7001.0, 1.0)]
    with pytest.raises(DataError) as info:
        load_long_frame(long_frame(rows))
    msg = str(info.value)
    assert "column date/asset_id: 2 row(s) with a duplicate (date, asset_id)" in msg
    assert "row 3: date=2020-01-02, asset_id='bitcoin', price_usd=7000.0" in msg
    assert "row 7: " in msg
    same_day = long_frame(BASIC[:2]).with_columns(
        pl.Series("date", [dt.datetime(2020, 1, 1, 1), dt.datetime(2020, 1, 1, 2)]), pl.lit("x").alias("asset_id")
    )
    with pytest.raises(DataError, match="after taking the UTC day"):
        load_long_frame(same_day)


@pytest.mark.parametrize("column", ["price_usd", "market_cap_usd", "volume_24h_usd"])
@pytest.mark.parametrize(("value", "problem"), [(-1.0, "negative"), (float("nan"), "non-finite"),
                                                (float("inf"), "non-finite"), (float("-inf"), "non-finite")])
def test_bad_numbers(column, value, problem):
    frame = long_frame(BASIC).with_columns(
        pl.when(pl.col("asset_id") == "ethereum").then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(DataError) as info:
        load_long_frame(frame, source="src")
    msg = str(info.value)
    assert f"src, column {column}: 2 row(s) with {problem}" in msg
    assert "row 2: date=2020-01-01, asset_id='ethereum'" in msg
    assert "row 4: " in msg


@pytest.mark.parametrize("bad", ["abc", '"1,234"', "$5", "NaN", "-inf", "-3"])
def test_bad_numbers_in_csv(tmp_path, bad):
    path = write_csv(tmp_path / "m.csv", f"date,asset_id,price_usd,market_cap_usd\n2020-01-01,a,1,1\n2020-01-02,a,{bad},1\n")
    with pytest.raises(DataError) as info:
        load_long_file(path, fmt="csv")
    msg = str(info.value)
    assert f"{path}, column price_usd" in msg
    assert "row 2 (line 3): date='2020-01-02', asset_id='a', price_usd=" in msg


def test_error_examples_are_capped_at_five():
    rows = [(D(2020, 1, 1), f"a{i}", -1.0, 1.0) for i in range(8)]
    with pytest.raises(DataError) as info:
        load_long_frame(long_frame(rows))
    msg = str(info.value)
    assert msg.count("\n  row ") == 5 and "... 3 more" in msg
    assert isinstance(info.value, ValueError)
