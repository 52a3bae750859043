"""Hostile or unusual loader input: the reserved asset_id ``cash``. Every case is a ``DataError``
naming the file (and column / row)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from index_engine import MarketData
from index_engine.data.loaders import load_long_files, load_long_frame
from index_engine.data.panel import panel_from_dense
from index_engine.errors import DataError

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

