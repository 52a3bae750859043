"""CoinGecko security, offline: the API key is redacted from every file, log, message and output even
when the server echoes it; hostile ids, names and symbols are refused or escaped; writes are atomic."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx
import polars as pl
import pytest
from click.testing import CliRunner

from backtest.cli.data import data_cmd
from index_engine.data import coingecko as cg
from index_engine.data.coingecko import CATEGORIES_NAME, MARKETS_NAME, PARQUET_NAME, cache_path, fetch
from index_engine.data.coingecko_client import CoinGeckoClient, CoinGeckoError
from index_engine.data.coingecko_guard import Redactor, coin_id_problem, one_line, shown
from tests._coingecko import (  # noqa: F401  (fixtures)
    SECRET,
    FakeClock,
    FractionRNG,
    ScriptedNetwork,
    _client,
    _no_real_keys,
    api,
    http_response,
    load,
    sleeps,
)

CLI_ARGS = ["fetch", "--no-progress", "--min-interval", "0"]


def _fake_time_client(clock: FakeClock, **kw) -> CoinGeckoClient:
    return CoinGeckoClient(sleep=clock.sleep, clock=clock, rng=FractionRNG(0.0), min_interval=0, **kw)


# ---- the API key is redacted everywhere -----------------------------------------------------


def test_key_echoed_back_reaches_no_file_log_message_or_output(api, sleeps, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("COINGECKO_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    api.markets[0] = dict(api.markets[0], name=f"Bitcoin {SECRET}", echo={SECRET: [SECRET]})
    api.charts["bitcoin"] = dict(api.charts["bitcoin"], note=f"served to {SECRET}")
    api.queue("/coins/markets", httpx.Response(503, headers={"X-Echo": SECRET}, json={"error": f"busy for {SECRET}"}))
    with _client(sleeps) as client:
        fetch(2, "max", tmp_path / "lib", progress=False, client=client)
    api.queue("/coins/ethereum/market_chart", httpx.Response(401, headers={"X-Echo": SECRET}, json={"status": {
        "error_code": 10002, "error_message": f"bad key {SECRET}; or was it ?x_cg_demo_api_key=CG-other123"}}))
    result = CliRunner().invoke(data_cmd, [*CLI_ARGS, "--top", "2", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(
        "error: CoinGecko /coins/ethereum/market_chart (coin ethereum): HTTP 401: bad key ***; or was it "
        "?x_cg_demo_api_key=*** (error_code 10002); check the API key in $COINGECKO_API_KEY")
    assert "busy for ***" in caplog.text
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p.name for p in files} >= {"bitcoin.json", MARKETS_NAME, PARQUET_NAME, CATEGORIES_NAME}
    for path, data in files.items():
        assert SECRET.encode() not in data, path
    table = pl.read_parquet(tmp_path / "lib" / PARQUET_NAME)  # compressed: look at the decoded values
    assert "Bitcoin ***" in table["name"].to_list()
    assert not any(SECRET in str(v) for column in table.columns for v in table[column].to_list())
    assert json.loads((tmp_path / "lib" / "raw" / "bitcoin.json").read_text())["response"]["note"] == "served to ***"
    assert json.loads((tmp_path / "lib" / MARKETS_NAME).read_text())["coins"][0]["name"] == "Bitcoin ***"
    for where, text in {"logs": caplog.text, "output": result.output}.items():
        assert SECRET not in text, where


def test_key_echoed_in_headers_is_redacted_from_debug_logs(monkeypatch, caplog):
    monkeypatch.setenv("COINGECKO_PRO_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    body = json.dumps([dict(load("markets.json")[0], name=f"echo {SECRET}")]).encode()
    net = ScriptedNetwork([http_response(503, f"no {SECRET}".encode(), {"X-Echo": SECRET, "Retry-After": SECRET}),
                           http_response(200, body, {"X-Echo": SECRET})], clock)
    with _fake_time_client(clock, base_url="http://coingecko.test/api/v3", network_backend=net) as client:
        assert client.markets(1)[0].name == "echo ***"
        assert client.requests == 2 and net.answers == []
    assert "X-Echo" in caplog.text and "no ***" in caplog.text  # httpcore logged the headers, we logged the retry
    assert SECRET not in caplog.text and not any(SECRET in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("answer", [
    lambda pad: httpx.Response(404, text="x" * pad + SECRET),
    lambda pad: httpx.Response(404, json={"status": {"error_code": 1, "error_message": "x" * pad + SECRET}}),
    lambda pad: httpx.Response(200, text="<" * (pad - 80) + SECRET),
], ids=["text", "json", "not-json"])
@pytest.mark.parametrize("pad", [190, 194, 197])
def test_a_key_where_the_message_is_cut_leaves_no_prefix(api, sleeps, tmp_path, monkeypatch, answer, pad):
    monkeypatch.setenv("COINGECKO_API_KEY", SECRET)
    api.queue("/coins/markets", answer(pad))
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert ("***" in msg or msg.endswith("...")) and not any(SECRET[:k] in msg for k in range(4, len(SECRET) + 1))


def test_key_in_a_query_string_is_hidden():
    client = CoinGeckoClient(base_url=f"https://cg.test/api/v3?x_cg_pro_api_key={SECRET}")
    assert SECRET not in repr(client) and "x_cg_pro_api_key=***" in client.base_url
    client.close()
    r = Redactor([SECRET])
    assert r.text(f"GET /x?a=1&api_key=abc&x_cg_demo_api_key={SECRET} x-cg-pro-api-key: zz") == \
        "GET /x?a=1&api_key=***&x_cg_demo_api_key=*** x-cg-pro-api-key: ***"
    assert r.data({"Token: x": [f"a {SECRET}", 1.5]}) == {"Token: x": ["a ***", 1.5]}  # data: only the key


def test_cache_file_holding_the_key_is_fetched_again(api, sleeps, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("COINGECKO_API_KEY", SECRET)
    with _client(sleeps) as client:
        fetch(1, "max", tmp_path, progress=False, client=client)
    path = tmp_path / "raw" / "bitcoin.json"
    env = json.loads(path.read_text())
    env["response"]["note"] = SECRET  # as written before responses were redacted
    path.write_text(json.dumps(env))
    api.requests.clear()
    with _client(sleeps) as client:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert api.chart_requests() == ["bitcoin"] and SECRET not in path.read_text()
    assert "cache file" in caplog.text and "contains the API key" in caplog.text and SECRET not in caplog.text


# ---- hostile ids, names and messages --------------------------------------------------------


HOSTILE_IDS = {"nul": "bit\x00coin", "parent": "../../etc/passwd", "backslash": "..\\evil", "dotdot": "..",
               "hidden": ".hidden", "long": "a" * 300, "ansi": "\x1b[31mred", "newline": "a\nb", "drive": "c:evil",
               "space": "a b", "bidi": "abc\u202eexe", "empty": ""}


@pytest.mark.parametrize("coin_id", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
def test_hostile_coin_id_is_refused_by_name(api, sleeps, tmp_path, coin_id):
    api.markets[1] = dict(api.markets[1], id=coin_id)
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(3, "max", tmp_path / "out", progress=False, client=client)
    msg = str(info.value)
    assert msg.startswith("CoinGecko /coins/markets (page 1): response failed schema validation: [1].id (coin ")
    assert f"(coin {shown(coin_id)}): Value error, coin id {coin_id_problem(coin_id)}" in msg
    assert msg.isprintable() and len(msg) < 400
    assert api.chart_requests() == [] and sorted(p.name for p in tmp_path.rglob("*")) == ["out", "raw"]


def test_coin_id_rules():
    for ok in ("bitcoin", "usd-coin", "0x", "wrapped_token", "a.b", "[bold]coin", "a" * 128):
        assert coin_id_problem(ok) is None, ok
    assert shown("a" * 300) == repr("a" * 60) + "... (300 characters)" and shown("x\x00") == "'x\\x00'"
    with pytest.raises(CoinGeckoError, match=r"coin id '\.\./x\\x00' cannot be a cache file name"):
        cache_path(Path("raw"), "../x\x00")


def test_market_chart_refuses_an_unsafe_id_without_a_request(api, sleeps):
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match=r"refusing coin id '\.\./x\\n': it contains"):
        client.market_chart("../x\n", "max")
    assert api.requests == []


def test_hostile_ids_in_a_category_list_are_ignored(api, sleeps, tmp_path):
    api.categories["stablecoins"] = [{"id": "../../x\x00"}, {"id": "a" * 300, "current_price": "junk"},
                                     *api.categories["stablecoins"]]
    with _client(sleeps) as client:
        out = fetch(5, "max", tmp_path, progress=False, client=client)
    assert pl.read_csv(out / CATEGORIES_NAME).rows() == [("tether", "stablecoin"), ("usd-coin", "stablecoin"),
                                                         ("wrapped-bitcoin", "wrapped")]


def test_hostile_symbols_and_names_are_stored_escaped_and_printed_literally(api, tmp_path):
    api.markets[0] = dict(api.markets[0], symbol="[/]", name="[bold]Evil\x1b[31m\x00")
    api.markets[1] = dict(api.markets[1], symbol="\x1b]0;pwned\x07", name="[red]x[/red]")
    result = CliRunner().invoke(data_cmd, [*CLI_ARGS, "--top", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ("warning: coin bitcoin: name has control characters; stored with them escaped: "
            "[bold]Evil\\x1b[31m\\x00") in result.stderr.splitlines()
    assert "warning: coin ethereum: symbol has control characters; stored with them escaped: \\x1b]0;pwned\\x07" \
        in result.stderr.splitlines()
    assert not any(ch in result.output for ch in "\x1b\x00\x07")
    assets = pl.read_parquet(tmp_path / PARQUET_NAME).drop_nulls("symbol").unique("asset_id").sort("asset_id")
    assert assets.select("symbol", "name").rows() == [("[/]", "[bold]Evil\\x1b[31m\\x00"),
                                                      ("\\X1B]0;PWNED\\X07", "[red]x[/red]")]


def test_polars_internals_are_not_shown(api, sleeps, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise pl.exceptions.ComputeError("cannot compare\n\nResolved plan until failure:\n\n\t---> FAILED HERE <---")

    monkeypatch.setattr(cg.MarketData, "from_parquet", boom)
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert str(info.value) == f"assembled table {tmp_path / PARQUET_NAME} failed validation: cannot compare"
    assert not (tmp_path / PARQUET_NAME).exists()


def test_one_line():
    assert one_line("a\n\tb\x1b[0m  c") == "a b\\x1b[0m c"
    assert one_line("é" * 300, 10) == "ééééééé..."
    assert one_line(b"\x00\x01\x02") == "(3 bytes of binary data)"


# ---- atomic writes --------------------------------------------------------------------------


def test_a_crash_mid_write_leaves_no_partial_file(api, sleeps, tmp_path, monkeypatch):
    with _client(sleeps) as client:
        fetch(2, "max", tmp_path, progress=False, client=client)
    raw = tmp_path / "raw"
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    (tmp_path / "fresh").mkdir()
    calls = []

    def killed(fd):  # the process dies after the bytes went out, before the rename
        calls.append(fd)
        if len(calls) == 2:  # 1: the markets snapshot, 2: the first market chart
            raise KeyboardInterrupt

    monkeypatch.setattr(cg.os, "fsync", killed)
    for out in (tmp_path, tmp_path / "fresh"):
        calls.clear()
        with _client(sleeps) as client, pytest.raises(KeyboardInterrupt):
            fetch(2, "max", out, progress=False, client=client, refresh=True)
        assert len(calls) == 2
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before  # the old cache is intact
    assert list((tmp_path / "fresh" / "raw").iterdir()) == []  # and no half-written new one
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert json.loads((tmp_path / MARKETS_NAME).read_text())["coins"]  # written whole before the crash
    assert os.fsync is killed
