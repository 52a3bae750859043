"""`quote --holdings FILE` and the quote's bounds: every bad file is one QuoteError naming the file, the
row or asset and what was expected; min_expected_value is never above expected_value."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.holdings_file import MAX_QUANTITY, read_holdings
from backtest.quote import QuoteError, quote
from index_engine import IndexConfig, MarketData
from tests._hypothesis import examples


@pytest.fixture(scope="module")
def market():
    return MarketData.synthetic(seed=3, n_assets=60, days=300)


def cfg(**costs) -> IndexConfig:
    return IndexConfig.from_dict({"selection": {"top_n": 10}, "regime": {"signal": "none"},
                                  "costs": {"fee_bps": 10, "platform_fee_bps": 25, "gas_usd": 1.5, **costs}})


def _write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, pl.DataFrame):
        content.write_parquet(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


BAD_FILES = [
    # (file name, content, what the message must say besides the file name)
    ("dup.csv", "asset_id,quantity\nbitcoin,1\nethereum,2\nbitcoin,3\n", "line 4: asset_id 'bitcoin' is already listed at line 2"),
    ("inf.csv", "asset_id,quantity\nbitcoin,inf\n", "line 2 ('bitcoin'): quantity must be a number, got 'inf'"),
    ("huge.csv", "asset_id,quantity\nbitcoin,1e300\n", "quantity must be a finite number from 0 to 1e+18"),
    ("neg.csv", "asset_id,quantity\nbitcoin,-1\n", "line 2 ('bitcoin'): quantity must be a finite number from 0"),
    ("bool.csv", "asset_id,quantity\nbitcoin,true\n", "line 2 ('bitcoin'): quantity must be a number, got 'true'"),
    ("blank.csv", "asset_id,quantity\nbitcoin,\n", "quantity must be a number, got ''"),
    ("fields.csv", "asset_id,quantity\nbitcoin\n", "line 2: expected 2 fields like the header"),
    ("empty.csv", "", "empty file; expected a header asset_id,quantity"),
    ("header.csv", "asset_id,quantity\n", "no holdings; expected one row per asset"),
    ("cols.csv", "asset,qty\nbitcoin,1\n", "missing column(s) asset_id, quantity"),
    ("noid.csv", "asset_id,quantity\n,1\n", "line 2: asset_id must be a non-empty text"),
    ("latin1.csv", b"asset_id,quantity\nbitc\xf6in,1\n", "not UTF-8 text"),
    ("bad.json", '{"bitcoin": 1,', "not valid JSON (line 1 column"),
    ("bool.json", '{"bitcoin": true}', "key 'bitcoin': quantity must be a number, got true"),
    ("str.json", '[{"asset_id": "bitcoin", "quantity": "1"}]', "item 1 ('bitcoin'): quantity must be a number, got '1'"),
    ("inf.json", '{"bitcoin": Infinity}', "quantity must be a finite number"),
    ("bigint.json", '{"bitcoin": 1' + "0" * 400 + '}', "quantity must be a finite number"),
    ("dupkey.json", '{"bitcoin": 1, "bitcoin": 2}', "key 'bitcoin' appears twice"),
    ("dup.json", '[{"asset_id": "bitcoin", "quantity": 1}, {"asset_id": "bitcoin", "quantity": 2}]',
     "item 2: asset_id 'bitcoin' is already listed at item 1"),
    ("item.json", '[{"asset_id": "bitcoin"}]', "item 1: expected an object with asset_id and quantity"),
    ("scalar.json", "5", "expected a JSON list of {asset_id, quantity} objects or a mapping"),
    ("numid.json", '[{"asset_id": 5, "quantity": 1}]', "item 1: asset_id must be a non-empty text, got 5"),
    ("empty.json", "[]", "no holdings"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "JSON"),
    ("empty.parquet", pl.DataFrame(schema={"asset_id": pl.Utf8, "quantity": pl.Float64}), "no holdings"),
    ("bool.parquet", pl.DataFrame({"asset_id": ["bitcoin"], "quantity": [True]}), "column quantity must be numeric, got Boolean"),
    ("nan.parquet", pl.DataFrame({"asset_id": ["a", "bitcoin"], "quantity": [1.0, float("nan")]}),
     "row 2 ('bitcoin'): quantity must be a finite number"),
    ("null.parquet", pl.DataFrame({"asset_id": ["bitcoin"], "quantity": [None]}, schema={"asset_id": pl.Utf8, "quantity": pl.Float64}),
     "row 1 ('bitcoin'): quantity must be a number, got null"),
    ("ids.parquet", pl.DataFrame({"asset_id": [1], "quantity": [1.0]}), "column asset_id must be text, got Int64"),
    ("garbage.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
    ("holdings.txt", "asset_id,quantity\nbitcoin,1\n", "expected a .csv, .json or .parquet file"),
]


@pytest.mark.parametrize("name, content, needle", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_holdings_files_are_one_clear_error(tmp_path, name, content, needle):
    path = _write(tmp_path, name, content)
    with pytest.raises(QuoteError) as info:
        read_holdings(path)
    msg = str(info.value)
    assert path in msg and needle in msg and "\n" not in msg and len(msg) < 400, msg


def test_missing_folder_and_unreadable_files(tmp_path):
    with pytest.raises(QuoteError, match="file not found"):
        read_holdings(tmp_path / "nope.csv")
    with pytest.raises(QuoteError, match="is not a file"):
        read_holdings(tmp_path)
    if os.geteuid() != 0:  # root reads anything
        path = _write(tmp_path, "locked.csv", "asset_id,quantity\nbitcoin,1\n")
        os.chmod(path, 0)
        with pytest.raises(QuoteError, match="cannot read the file"):
            read_holdings(path)


def test_good_holdings_files_read_the_same_in_every_format(tmp_path):
    want = {"bitcoin": 0.5, "ethereum": 4.0, "cash": 100.0}
    files = [
        _write(tmp_path, "h.csv", "\ufeffasset_id,quantity,note\nbitcoin, 0.5 ,x\nethereum,4,\ncash,1e2,\n"),
        _write(tmp_path, "h.json", json.dumps(want)),
        _write(tmp_path, "l.json", json.dumps([{"asset_id": k, "quantity": v} for k, v in want.items()])),
        _write(tmp_path, "h.parquet", pl.DataFrame({"asset_id": list(want), "quantity": [0.5, 4, 100]})),
        _write(tmp_path, "h.PQ", pl.DataFrame({"asset_id": list(want), "quantity": [0.5, 4.0, 100.0]})),
    ]
    for path in files:
        held = read_holdings(path)
        assert dict(held) == want and held.source == path
    assert read_holdings(_write(tmp_path, "max.csv", f"asset_id,quantity\nx,{MAX_QUANTITY:g}\n")) == {"x": MAX_QUANTITY}


def test_quote_names_the_file_for_unknown_assets_and_absurd_values(market, tmp_path):
    path = _write(tmp_path, "h.csv", "asset_id,quantity\nbitcoin,1\nnope,2\nzzz,1\n")
    with pytest.raises(QuoteError, match=rf"{path}: 2 asset_id\(s\) not in the data .*'nope', 'zzz'"):
        quote(cfg(), market, None, side="sell", holdings=read_holdings(path))
    huge = _write(tmp_path, "huge.csv", "asset_id,quantity\nbitcoin,1e17\n")
    with pytest.raises(QuoteError, match=rf"{huge}: the holding of 'bitcoin' is worth .* USD .*more than 1e\+12"):
        quote(cfg(), market, None, side="sell", holdings=read_holdings(huge))
    with pytest.raises(QuoteError, match="cash.*more than 1e"):
        quote(cfg(), market, None, side="sell", holdings={"cash": 1e13})
    for bad in ({"bitcoin": float("inf")}, {"bitcoin": -1.0}, {"bitcoin": True}, {"bitcoin": "1"}):
        with pytest.raises(QuoteError, match="holdings key 'bitcoin'"):
            quote(cfg(), market, None, side="sell", holdings=bad)
    with pytest.raises(QuoteError, match="--holdings is for --side sell"):
        quote(cfg(), market, 1000.0, side="buy", holdings={"bitcoin": 1.0})
    for amount in (float("inf"), float("nan"), 1e13, 0.0):
        with pytest.raises(QuoteError, match="--amount must be a positive number of USD up to 1e\\+12"):
            quote(cfg(), market, amount)


def test_zero_tolerance_keeps_the_minimum_below_the_expected_value(market):
    """Regression: with --max-slippage-bps 0 the minimum expected value was the expected value plus the
    estimated slippage (the tolerance, 0, was subtracted instead of the estimate)."""
    for side, amount in (("buy", 50_000.0), ("sell", 50_000.0)):
        q = quote(cfg(), market, amount, side=side, max_slippage_bps=0)
        q2 = quote(cfg(slippage_bps=20), market, amount, side=side, max_slippage_bps=0)
        for x in (q, q2):
            assert x.min_expected_value <= x.expected_value
        assert q2.estimated_slippage > 0 and q2.min_expected_value == pytest.approx(q2.expected_value)
        assert all(o["slippage_exceeds_tolerance"] for o in q2.orders)


@settings(max_examples=examples(40), deadline=None)
@given(amount=st.floats(200.0, 1e9), bps=st.floats(0.0, 9_999.0), side=st.sampled_from(["buy", "sell"]),
       fixed=st.floats(0.0, 200.0))
def test_min_expected_value_never_exceeds_the_expected_value(market, amount, bps, side, fixed):
    c = cfg(slippage={"model": "sqrt_impact", "k": 0.7, "spread_bps": 10}) if fixed > 100 else cfg(slippage_bps=fixed)
    try:
        q = quote(c, market, amount, side=side, max_slippage_bps=bps)
    except QuoteError:  # e.g. every order below min_order_usd
        return
    assert q.min_expected_value <= q.expected_value
    assert q.max_slippage == pytest.approx(bps / 1e4 * sum(o["notional"] for o in q.orders), rel=1e-9, abs=1e-9)
