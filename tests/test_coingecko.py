"""CoinGecko adapter, offline: a respx-mocked API serving hand-built responses in CoinGecko's shapes
(tests/fixtures/coingecko) - success, malformed payloads, resume, key secrecy, CLI. The 429/5xx
retries, backoff and pacing are in tests/test_coingecko_retries.py."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import traceback
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from backtest.cli.data import data_cmd
from index_engine.data import MarketData
from index_engine.data.coingecko import (
    CATEGORIES_NAME,
    PARQUET_NAME,
    fetch,
    fetch_summary,
    parse_days,
    top_coins,
)
from index_engine.data.coingecko_client import (
    DEMO_HEADER,
    PRO_BASE_URL,
    PRO_HEADER,
    CoinGeckoError,
)
from tests._coingecko import SECRET, TOP5, _client, _no_real_keys, api, sleeps  # noqa: F401  (fixtures)
from tests._coingecko import load as _load

# ---- success ----------------------------------------------------------------------------------


def test_fetch_end_to_end(api, sleeps, tmp_path, monkeypatch):
    monkeypatch.setenv("COINGECKO_API_KEY", SECRET)
    with _client(sleeps) as client:
        out = fetch(5, "max", tmp_path / "data", progress=False, client=client, per_page=2)
    assert out == tmp_path / "data"
    assert sorted(p.name for p in (out / "raw").iterdir()) == sorted(f"{c}.json" for c in TOP5)
    # markets paginated 2 per page until 5 coins; categories until a short page
    markets = [r.url.params for r in api.requests if r.url.path.endswith("/coins/markets")]
    assert [(p.get("category"), p["page"]) for p in markets] == [
        (None, "1"), (None, "2"), (None, "3"), ("stablecoins", "1"), ("stablecoins", "2"),
        ("wrapped-tokens", "1"), ("wrapped-tokens", "2")]
    assert all(p["vs_currency"] == "usd" and p["order"] == "market_cap_desc" for p in markets)
    chart = [r for r in api.requests if r.url.path.endswith("/market_chart")]
    assert sorted(api.chart_requests()) == sorted(TOP5)
    assert dict(chart[0].url.params) == {"vs_currency": "usd", "days": "max", "interval": "daily"}
    assert all(r.headers[DEMO_HEADER] == SECRET and PRO_HEADER not in r.headers for r in api.requests)
    assert sleeps == []

    frame = pl.read_parquet(out / PARQUET_NAME)
    assert frame.columns == ["date", "asset_id", "symbol", "name", "price_usd", "market_cap_usd", "volume_24h_usd"]
    assert frame.schema["date"] == pl.Date
    assert frame.height == 5 + 4 + 5 + 5 + 5
    btc = frame.filter(pl.col("asset_id") == "bitcoin").sort("date")
    # a 00:00 UTC point is the close of the previous day; the trailing live snapshot (not at midnight) is dropped
    assert btc["date"].to_list() == [dt.date(2023, 12, 31)] + [dt.date(2024, 1, d) for d in range(1, 5)]
    assert btc["price_usd"][-1] == 44179.92
    # the ticker and name are observed at the fetch: on the latest row only (point-in-time labels)
    assert btc["symbol"].to_list() == [None] * 4 + ["BTC"] and btc["name"][-1] == "Bitcoin" and btc["name"][0] is None
    eth = frame.filter(pl.col("asset_id") == "ethereum").sort("date")
    assert eth["date"][0] == dt.date(2024, 1, 1) and eth["market_cap_usd"][0] is None  # 0 -> null
    usdc = frame.filter(pl.col("asset_id") == "usd-coin").sort("date")
    assert usdc["volume_24h_usd"][1] is None

    cats = pl.read_csv(out / CATEGORIES_NAME)
    assert cats.rows() == [("tether", "stablecoin"), ("usd-coin", "stablecoin"), ("wrapped-bitcoin", "wrapped")]
    m = MarketData.from_parquet(out / PARQUET_NAME, categories=out / CATEGORIES_NAME)
    assert m.price.shape == (5, 5) and list(m.asset_ids) == sorted(TOP5)
    assert str(m.dates[0]) == "2023-12-31" and str(m.dates[-1]) == "2024-01-04"
    cat = dict(zip(m.asset_ids, m.categories))
    assert cat == {"bitcoin": "other", "ethereum": "other", "tether": "stablecoin", "usd-coin": "stablecoin",
                   "wrapped-bitcoin": "wrapped"}
    assert np.isnan(m.price[0, m.asset_index("ethereum")])
    snapshot = json.loads((out / "coingecko_markets.json").read_text())
    assert [c["id"] for c in snapshot["coins"]] == TOP5


def test_fetch_summary_and_single_page(api, sleeps, tmp_path):
    with _client(sleeps) as client:
        s = fetch_summary(3, 30, tmp_path, progress=False, client=client)
    assert (s.n_coins, s.downloaded, s.cached) == (3, 3, 0)
    assert s.market.n_assets == 3 and s.parquet.exists()
    assert all(r.url.params["days"] == "30" for r in api.requests if r.url.path.endswith("/market_chart"))
    assert sum(r.url.path.endswith("/coins/markets") and "category" not in r.url.params for r in api.requests) == 1


def test_assembled_table_is_validated_before_it_replaces_the_old_one(api, sleeps, tmp_path):
    with _client(sleeps) as client:
        s = fetch_summary(2, "max", tmp_path, progress=False, client=client)
    assert s.market.source == str(tmp_path / PARQUET_NAME)
    before = (tmp_path / PARQUET_NAME).read_bytes()
    api.charts["bitcoin"] = api.charts["ethereum"] = {"prices": [], "market_caps": [], "total_volumes": []}
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match="failed validation: .*no data rows"):
        fetch(2, 7, tmp_path, progress=False, client=client)
    assert (tmp_path / PARQUET_NAME).read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_top_coins_skips_repeats_across_pages(api, sleeps):
    # a coin that moved down a rank between two page requests shows up on both pages
    api.queue("/coins/markets", httpx.Response(200, json=api.markets[:2]),
              httpx.Response(200, json=[api.markets[1], api.markets[2]]),
              httpx.Response(200, json=api.markets[3:5]))
    with _client(sleeps) as client:
        assert [c.id for c in top_coins(client, 4, per_page=2)] == ["bitcoin", "ethereum", "tether", "usd-coin"]


def test_stablecoin_wins_over_wrapped(api, sleeps, tmp_path):
    api.categories["wrapped-tokens"] = api.categories["wrapped-tokens"] + [api.markets[3]]  # usd-coin in both
    with _client(sleeps) as client:
        out = fetch(5, "max", tmp_path, progress=False, client=client)
    assert dict(pl.read_csv(out / CATEGORIES_NAME).rows())["usd-coin"] == "stablecoin"


def test_progress_bar_runs(api, sleeps, tmp_path, capsys):
    with _client(sleeps) as client:
        fetch(2, "max", tmp_path, progress=True, client=client)
    assert (tmp_path / PARQUET_NAME).exists()


# ---- schema validation ------------------------------------------------------------------------


def _bad_chart(kind: str) -> dict:
    chart = copy.deepcopy(_load("market_chart_ethereum.json"))
    if kind == "not_pair":
        chart["prices"][1] = [1704240000000, 2355.44, 1.0]
    elif kind == "negative":
        chart["prices"][2][1] = -2209.67
    elif kind == "missing":
        del chart["total_volumes"]
    elif kind == "text":
        chart["market_caps"][3][1] = "272903110442.5"
    elif kind == "seconds":
        chart["prices"][0][0] = 1704153600
    elif kind == "not_object":
        chart = [1, 2]
    return chart


@pytest.mark.parametrize("kind, field", [
    ("not_pair", "prices[1]"), ("negative", "prices[2][1]"), ("missing", "total_volumes: Field required"),
    ("text", "market_caps[3][1]"), ("seconds", "prices[0][0]"), ("not_object", "(root)"),
])
def test_malformed_market_chart(api, sleeps, tmp_path, kind, field):
    api.charts["ethereum"] = _bad_chart(kind)
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(2, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert "/coins/ethereum/market_chart (coin ethereum)" in msg and "schema validation" in msg and field in msg
    assert not (tmp_path / "raw" / "ethereum.json").exists()  # nothing invalid is cached
    assert sleeps == []


def test_malformed_markets_names_the_coin(api, sleeps, tmp_path):
    api.markets[1] = {k: v for k, v in api.markets[1].items() if k != "market_cap"}
    api.markets[2] = dict(api.markets[2], current_price=-1)
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(5, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert "/coins/markets (page 1)" in msg
    assert "[1].market_cap (coin ethereum): Field required" in msg and "[2].current_price (coin tether)" in msg


def test_coin_id_that_is_not_a_safe_file_name(api, sleeps, tmp_path):
    api.markets[0] = dict(api.markets[0], id="../evil")
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match=r"\[0\]\.id \(coin \.\./evil\)"):
        fetch(1, "max", tmp_path, progress=False, client=client)


def test_body_that_is_not_json(api, sleeps, tmp_path):
    api.queue("/coins/bitcoin/market_chart", httpx.Response(200, text="<html>maintenance</html>"))
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match="coin bitcoin.*not JSON"):
        fetch(1, "max", tmp_path, progress=False, client=client)


def test_parse_days():
    assert parse_days("max") == "max" and parse_days(" MAX ") == "max" and parse_days(365) == "365"
    for bad in ("0", "-3", "1.5", "all", ""):
        with pytest.raises(ValueError):
            parse_days(bad)


# ---- resume -----------------------------------------------------------------------------------


def test_resume_skips_cached_and_refetches_corrupt(api, sleeps, tmp_path):
    with _client(sleeps) as client:
        fetch(5, "max", tmp_path, progress=False, client=client)
    first = pl.read_parquet(tmp_path / PARQUET_NAME)
    assert len(api.chart_requests()) == 5

    api.requests.clear()
    with _client(sleeps) as client:
        s = fetch_summary(5, "max", tmp_path, progress=False, client=client)
    assert api.chart_requests() == [] and (s.downloaded, s.cached) == (0, 5)
    assert pl.read_parquet(tmp_path / PARQUET_NAME).equals(first)

    raw = tmp_path / "raw"
    (raw / "tether.json").write_text((raw / "tether.json").read_text()[:50])  # truncated by a crash
    env = json.loads((raw / "usd-coin.json").read_text())
    env["response"]["prices"][0][1] = -1.0  # parses, but violates the schema
    (raw / "usd-coin.json").write_text(json.dumps(env))
    api.requests.clear()
    with _client(sleeps) as client:
        fetch(5, "max", tmp_path, progress=False, client=client)
    assert sorted(api.chart_requests()) == ["tether", "usd-coin"]
    assert pl.read_parquet(tmp_path / PARQUET_NAME).equals(first)

    api.requests.clear()  # another history length: the cache does not answer it
    with _client(sleeps) as client:
        fetch(2, 90, tmp_path, progress=False, client=client)
    assert api.chart_requests() == ["bitcoin", "ethereum"]
    assert json.loads((raw / "bitcoin.json").read_text())["days"] == "90"

    api.requests.clear()
    with _client(sleeps) as client:
        fetch(2, 90, tmp_path, progress=False, client=client, refresh=True)
    assert api.chart_requests() == ["bitcoin", "ethereum"]
    assert not list(raw.glob(".*.tmp"))


def test_resume_after_an_interrupted_run(api, sleeps, tmp_path):
    api.queue("/coins/usd-coin/market_chart", *[httpx.Response(503)] * 3)
    with _client(sleeps, max_retries=2) as client, pytest.raises(CoinGeckoError):
        fetch(5, "max", tmp_path, progress=False, client=client)
    assert not (tmp_path / PARQUET_NAME).exists()
    api.requests.clear()
    with _client(sleeps) as client:
        fetch(5, "max", tmp_path, progress=False, client=client)
    assert api.chart_requests() == ["usd-coin", "wrapped-bitcoin"]


# ---- the API key stays secret -----------------------------------------------------------------


def _files_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("env", ["COINGECKO_API_KEY", "COINGECKO_PRO_API_KEY"])
def test_api_key_never_appears(api, sleeps, tmp_path, monkeypatch, caplog, capsys, env):
    monkeypatch.setenv(env, SECRET)
    caplog.set_level(logging.DEBUG)  # httpx / httpcore debug logs included
    api.queue("/coins/markets", httpx.Response(429, headers={"Retry-After": "1"}))
    api.queue("/coins/ethereum/market_chart", httpx.ConnectError(f"boom with {SECRET}"))
    with _client(sleeps) as client:
        assert SECRET not in repr(client)
        fetch(3, "max", tmp_path / "ok", progress=True, client=client)
        # an error page that echoes the key back must not leak it into the exception either
        api.queue("/coins/bitcoin/market_chart", httpx.Response(401, json={"error": f"invalid key {SECRET}"}))
        with pytest.raises(CoinGeckoError) as info:
            fetch(1, "max", tmp_path / "bad", progress=False, client=client)
    header = PRO_HEADER if env == "COINGECKO_PRO_API_KEY" else DEMO_HEADER
    assert api.requests[0].headers[header] == SECRET  # it was sent, as a header only
    assert all(SECRET not in str(r.url) for r in api.requests)
    assert "invalid key ***" in str(info.value) and env in str(info.value)
    out = capsys.readouterr()
    texts = {
        "error": "".join(traceback.format_exception(info.value)),
        "logs": caplog.text + "".join(str(r.args) for r in caplog.records),
        "stdout/stderr": out.out + out.err,
        "files": _files_text(tmp_path),
    }
    assert "retry" in texts["logs"]
    for where, text in texts.items():
        assert SECRET not in text, where


def test_pro_key_selects_pro_api(api, sleeps, tmp_path, monkeypatch):
    monkeypatch.setenv("COINGECKO_PRO_API_KEY", "pro-key")
    monkeypatch.setenv("COINGECKO_API_KEY", "demo-key")
    with _client(sleeps) as client:
        assert client.plan == "pro" and client.base_url == PRO_BASE_URL
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert {r.url.host for r in api.requests} == {"pro-api.coingecko.com"}
    assert all(r.headers[PRO_HEADER] == "pro-key" and DEMO_HEADER not in r.headers for r in api.requests)


# ---- command line -----------------------------------------------------------------------------


def test_cli_fetch(api, tmp_path, monkeypatch):
    monkeypatch.setenv("COINGECKO_API_KEY", SECRET)
    out = tmp_path / "data"
    args = ["fetch", "--top", "5", "--days", "max", "--out", str(out), "--no-progress", "--min-interval", "0"]
    result = CliRunner().invoke(data_cmd, args)
    assert result.exit_code == 0, result.output
    assert "5 coins (5 downloaded, 0 from cache" in result.output and "2023-12-31 .. 2024-01-04" in result.output
    m = MarketData.from_parquet(out / PARQUET_NAME, categories=out / CATEGORIES_NAME)
    assert m.n_assets == 5 and SECRET not in result.output
    again = CliRunner().invoke(data_cmd, args)
    assert again.exit_code == 0 and "(0 downloaded, 5 from cache" in again.output


def test_cli_errors(api, tmp_path):
    bad = CliRunner().invoke(data_cmd, ["fetch", "--days", "forever", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--days" in bad.output
    api.queue("/coins/markets", httpx.Response(403, json={"status": {"error_code": 10002, "error_message": "no"}}))
    failed = CliRunner().invoke(data_cmd, ["fetch", "--top", "2", "--out", str(tmp_path), "--no-progress",
                                           "--min-interval", "0"])
    # the command prints the CoinGeckoError itself (literally, one line) with the exit code of every
    # IndexEngineError, instead of leaving it to the markup-rendering handler of the entry point
    assert failed.exit_code == 2 and isinstance(failed.exception, SystemExit)
    lines = failed.stderr.splitlines()
    assert lines[-1] == ("error: CoinGecko /coins/markets (page 1): HTTP 403: no (error_code 10002); check the API "
                         "key in $COINGECKO_API_KEY / $COINGECKO_PRO_API_KEY and that it matches "
                         "https://api.coingecko.com/api/v3")
    assert data_cmd.name == "data" and "fetch" in data_cmd.commands
