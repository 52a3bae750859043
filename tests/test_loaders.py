"""Loaders: long file/frame -> dense MarketData: the panel's layout, categories, data-quality warnings
and several files stacked into one panel (synthetic cases + the real CMC files). The validation
errors (files, columns, rows) are in tests/test_loaders_validation.py."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from index_engine.data.categories import CATEGORY_DESCRIPTIONS
from index_engine.data.loaders import DataError, DataQualityWarning, load_long_file, load_long_frame
from index_engine.data.panel import CATEGORIES, MarketData
from index_engine.data.taxonomy import load_categories
from tests._helpers import BASIC, long_frame, write_csv

D = dt.date


def assert_same_panel(a: MarketData, b: MarketData) -> None:
    np.testing.assert_array_equal(a.dates, b.dates)
    np.testing.assert_array_equal(a.asset_ids, b.asset_ids)
    for name in ("price", "market_cap", "volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.assets.equals(b.assets)
    assert a.content_hash() == b.content_hash()


# ---- building the panel -----------------------------------------------------------------------


def test_basic_panel_layout():
    m = load_long_frame(long_frame(BASIC))
    assert m.dates.dtype == np.dtype("datetime64[D]")
    assert m.dates.tolist() == [D(2020, 1, 1), D(2020, 1, 2), D(2020, 1, 3)]
    assert m.asset_ids.tolist() == ["bitcoin", "ethereum", "tether"]
    assert m.price.shape == m.market_cap.shape == m.volume.shape == (3, 3)
    assert m.price.dtype == np.float64
    assert m.price[2, 0] == 7300.0
    assert math.isnan(m.price[2, 1])  # no ethereum row on day 3
    assert math.isnan(m.market_cap[1, 1])  # null market cap -> NaN
    assert math.isnan(m.volume[1, 0])
    assert m.assets.columns == ["asset_id", "symbol", "name", "category", "first_date", "last_date"]
    assert m.categories.tolist() == ["other"] * 3
    assert m.assets["first_date"].to_list() == [D(2020, 1, 1), D(2020, 1, 1), D(2020, 1, 3)]
    assert m.warnings == ()


def test_volume_absent_is_all_nan_and_extra_columns_ignored():
    frame = long_frame(BASIC, volume=False).with_columns(pl.lit("x").alias("rank"), pl.lit(1.5).alias("open"))
    m = load_long_frame(frame)
    assert np.isnan(m.volume).all()
    assert m.price[0, 0] == 7200.0


def test_input_order_does_not_matter():
    ref = load_long_frame(long_frame(BASIC))
    for seed in range(3):
        shuffled = long_frame(BASIC).sample(fraction=1.0, shuffle=True, seed=seed)
        assert_same_panel(load_long_frame(shuffled), ref)
    reversed_rows = load_long_frame(long_frame(BASIC[::-1]))
    assert_same_panel(reversed_rows, ref)


def test_symbol_and_name_are_last_non_null_over_time():
    rows = [
        (D(2020, 1, 3), "golem", 1.0, 1.0, 1.0, None, None),
        (D(2020, 1, 2), "golem", 1.0, 1.0, 1.0, "GLM", "Golem"),
        (D(2020, 1, 1), "golem", 1.0, 1.0, 1.0, "GNT", "Golem Network"),
        (D(2020, 1, 1), "nosym", 1.0, 1.0, 1.0, None, "No Symbol"),
    ]
    m = load_long_frame(long_frame(rows))
    assert m.assets["symbol"].to_list() == ["GLM", None]
    assert m.assets["name"].to_list() == ["Golem", "No Symbol"]
    assert m.symbols.tolist() == ["GLM", "nosym"]


def test_weekly_panel_calendar_is_the_data_dates():
    rows = [(D(2021, 1, 4) + dt.timedelta(weeks=w), a, 10.0 + w, 1e6) for w in range(5) for a in ("a", "b")]
    m = load_long_frame(long_frame(rows))
    assert m.n_dates == 5
    assert (np.diff(m.dates).astype(int) == 7).all()
    assert m.price[4, 1] == 14.0


def test_datetime_dates_take_the_utc_day():
    frame = long_frame(BASIC[:2]).with_columns(
        pl.datetime(2020, 1, 1, 23, 30, time_zone="America/New_York").alias("date")  # 2020-01-02 04:30 UTC
    )
    assert load_long_frame(frame).dates.tolist() == [D(2020, 1, 2)]
    naive = long_frame(BASIC[:2]).with_columns(pl.datetime(2020, 1, 1, 23, 30).alias("date"))
    assert load_long_frame(naive).dates.tolist() == [D(2020, 1, 1)]


def test_round_trip_frame_pandas_csv_parquet(tmp_path):
    frame = long_frame(BASIC)
    ref = load_long_frame(frame, source="ref")
    frame.write_parquet(tmp_path / "m.parquet")
    frame.write_csv(tmp_path / "m.csv")
    panels = [
        MarketData.from_frame(frame),
        MarketData.from_frame(frame.to_pandas()),
        MarketData.from_frame(frame.to_pandas().set_index(["date", "asset_id"])),
        MarketData.from_parquet(tmp_path / "m.parquet"),
        MarketData.from_csv(tmp_path / "m.csv"),
    ]
    for m in panels:
        assert_same_panel(m, ref)
    assert panels[3].source == str(tmp_path / "m.parquet")


def test_pandas_nan_means_unknown():
    pdf = long_frame(BASIC).to_pandas()
    pdf.loc[0, "price_usd"] = np.nan
    m = load_long_frame(pdf)
    assert math.isnan(m.price[0, 0])


def test_csv_empty_fields_are_unknown(tmp_path):
    path = write_csv(tmp_path / "m.csv", "date,asset_id,price_usd,market_cap_usd\n2020-01-01,a, 1.5 ,\n2020-01-02,a,,3\n")
    m = load_long_file(path, fmt="csv")
    assert m.price[0, 0] == 1.5 and math.isnan(m.price[1, 0])
    assert math.isnan(m.market_cap[0, 0]) and m.market_cap[1, 0] == 3.0


# ---- categories -------------------------------------------------------------------------------


def test_categories_from_dict_frame_pandas_and_csv(tmp_path):
    mapping = {"tether": "stablecoin", "ethereum": "other", "not-in-data": "wrapped"}
    csv = write_csv(tmp_path / "cat.csv", "asset_id,symbol,category,evidence\ntether,USDT,stablecoin,list\n"
                    "not-in-data,X,wrapped,list\ntether,USDT,stablecoin,dup\n")
    cat_frame = pl.DataFrame({"asset_id": ["tether"], "category": ["stablecoin"], "note": ["x"]})
    for source in (mapping, csv, str(csv), cat_frame, cat_frame.to_pandas()):
        m = load_long_frame(long_frame(BASIC), categories=source)
        assert m.categories.tolist() == ["other", "other", "stablecoin"], source


def test_category_descriptions_cover_categories():
    assert set(CATEGORY_DESCRIPTIONS) == set(CATEGORIES)
    out = load_categories(None, np.array(["a", "b"], dtype=object))
    assert out.dtype == object and out.tolist() == ["other", "other"]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("asset_id,kind\ntether,stablecoin\n", ["category", "present: asset_id, kind"]),
        ("asset_id,category\ntether,stablecoin\nfoo,memecoin\n", ["memecoin", "row 2 (line 3)", "stablecoin, wrapped"]),
        ("asset_id,category\ntether,stablecoin\ntether,other\n", ["conflicting", "tether", "row 2 (line 3)"]),
        ("asset_id,category\n,stablecoin\n", ["asset_id", "row 1 (line 2)"]),
        ("", ["empty"]),
    ],
)
def test_category_file_errors(tmp_path, text, needles):
    csv = write_csv(tmp_path / "cat.csv", text)
    with pytest.raises(DataError) as info:
        load_long_frame(long_frame(BASIC), categories=csv)
    assert str(csv) in str(info.value)
    for needle in needles:
        assert needle in str(info.value)


def test_category_errors_for_mapping_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="(?s)unknown category.*\n  asset_id='tether', category='Stablecoin'"):
        load_long_frame(long_frame(BASIC), categories={"tether": "Stablecoin"})
    with pytest.raises(DataError, match="categories file not found.*nope.csv"):
        load_long_frame(long_frame(BASIC), categories=tmp_path / "nope.csv")


# ---- warnings ---------------------------------------------------------------------------------


def test_price_jump_warning_counts_consecutive_observations():
    rows = [
        (D(2020, 1, 1), "a", 1.0, 1.0), (D(2020, 1, 2), "a", 150.0, 1.0),  # up 150x
        (D(2020, 1, 3), "a", None, 1.0), (D(2020, 1, 5), "a", 1.0, 1.0),  # null skipped: 150 -> 1 across a gap
        (D(2020, 1, 1), "b", 1.0, 1.0), (D(2020, 1, 2), "b", 100.0, 1.0),  # exactly 100x: not flagged
        (D(2020, 1, 1), "c", 1e-4, 1.0), (D(2020, 1, 5), "c", 1.0, 1.0),  # 10,000x across a gap
    ]
    with pytest.warns(DataQualityWarning, match="price_jump_100x") as record:
        m = load_long_frame(long_frame(rows))
    assert len(record) == 1
    (w,) = m.warnings
    assert w.kind == "price_jump_100x" and w.count == 3
    assert w.examples == ["a 2020-01-02: 1 -> 150", "a 2020-01-05: 150 -> 1", "c 2020-01-05: 0.0001 -> 1"]
    assert "1 between adjacent panel dates" in w.message


def test_zero_price_warning_and_single_python_warning():
    rows = [(D(2020, 1, 1), "a", 1.0, 1.0), (D(2020, 1, 2), "a", 0.0, 0.0), (D(2020, 1, 3), "a", 500.0, 1.0)]
    with pytest.warns(DataQualityWarning) as record:
        m = load_long_frame(long_frame(rows))
    assert len(record) == 1
    kinds = {w.kind: w for w in m.warnings}
    assert kinds["zero_price"].count == 1 and kinds["zero_price"].examples == ["a 2020-01-02"]
    assert kinds["price_jump_100x"].count == 1  # 1 -> 500, the zero is skipped


def test_clean_data_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_long_frame(long_frame(BASIC)).warnings == ()


# ---- real data (skipped when ../shared/data is absent) ----------------------------------------


@pytest.fixture(scope="module")
def real_daily(real_data_dir: Path) -> MarketData:
    with pytest.warns(DataQualityWarning):
        return MarketData.from_parquet(
            real_data_dir / "cmc_daily_2013_2018.parquet", categories=real_data_dir / "asset_categories.csv"
        )


def test_real_daily_shape_and_values(real_daily: MarketData):
    assert (real_daily.n_dates, real_daily.n_assets) == (1719, 1389)
    assert real_daily.dates[0] == np.datetime64("2013-04-28") and real_daily.dates[-1] == np.datetime64("2018-01-10")
    btc = real_daily.asset_index("bitcoin")
    assert real_daily.price[real_daily.date_index(np.datetime64("2017-12-17")), btc] == pytest.approx(19140.80)
    assert real_daily.price[real_daily.date_index(np.datetime64("2013-12-04")), btc] == pytest.approx(1151.17)
    assert real_daily.categories[real_daily.asset_index("tether")] == "stablecoin"
    assert real_daily.categories[btc] == "other"
    assert real_daily.symbols[btc] == "BTC"
    assert np.isfinite(real_daily.price).sum() == 656_661


def test_real_daily_price_jump_warning(real_daily: MarketData):
    jumps = {w.kind: w for w in real_daily.warnings}["price_jump_100x"]
    # 89 moves between consecutive observations; the README's 56 are those between adjacent days
    assert jumps.count == 89
    assert "56 between adjacent panel dates" in jumps.message
    assert "zero_price" not in {w.kind for w in real_daily.warnings}


def test_real_weekly_loads(real_data_dir: Path):
    with pytest.warns(DataQualityWarning):
        weekly = MarketData.from_parquet(real_data_dir / "cmc_weekly.parquet", real_data_dir / "asset_categories.csv")
    assert weekly.n_dates == 407
    assert weekly.n_assets == 1563
    steps = np.diff(weekly.dates).astype(int)
    assert set(steps.tolist()) == {7, 1093}  # 7-day steps in each era, one jump 2018-01-07 -> 2021-01-04
    assert weekly.categories[weekly.asset_index("tether")] == "stablecoin"


# ---- several files, and names that look like patterns ----------------------------------------------
def _two_halves(tmp_path: Path, fmt: str):
    rows = [(f"2024-01-0{d}", a, 1.0 + d, 1e6 * (d + 1)) for d in range(1, 7) for a in ("x", "y")]
    first, second = long_frame(rows[:6]), long_frame(rows[6:])
    paths = [tmp_path / f"part1.{fmt}", tmp_path / f"part2.{fmt}"]
    for frame, p in zip((first, second), paths):
        frame.write_csv(p) if fmt == "csv" else frame.write_parquet(p)
    return paths, long_frame(rows)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_several_files_stack_into_one_panel(tmp_path, fmt):
    paths, whole = _two_halves(tmp_path, fmt)
    stacked = MarketData.from_files(paths)
    assert_same_panel(stacked, load_long_frame(whole))
    assert stacked.source == " + ".join(map(str, paths))


def test_stacked_files_must_not_overlap_or_mix_formats(tmp_path):
    paths, _ = _two_halves(tmp_path, "parquet")
    with pytest.raises(DataError, match="duplicate"):
        MarketData.from_files([paths[0], paths[0]])
    csv = tmp_path / "c.csv"
    long_frame([("2024-01-09", "x", 1.0, 1e6)]).write_csv(csv)
    with pytest.raises(DataError, match="one format"):
        MarketData.from_files([paths[0], csv])
    with pytest.raises(DataError, match="not found"):
        MarketData.from_files([paths[0], tmp_path / "missing.parquet"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_file_names_are_never_glob_patterns(tmp_path, fmt):
    """Issue 10: run[1].parquet was refused and g*.parquet loaded its neighbours too."""
    paths, _ = _two_halves(tmp_path, fmt)
    bracket = tmp_path / f"run[1].{fmt}"
    bracket.write_bytes(paths[0].read_bytes())
    star = tmp_path / f"part*.{fmt}"
    star.write_bytes(paths[0].read_bytes())
    one = load_long_file(paths[0], fmt=fmt)
    assert_same_panel(load_long_file(bracket, fmt=fmt), one)
    assert_same_panel(load_long_file(star, fmt=fmt), one)  # not part1 + part2 + part*
