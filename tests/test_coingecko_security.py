"""CoinGecko security, offline: the API key is redacted from every log and message even when the
server echoes it; hostile coin ids are refused by name."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from index_engine.data.coingecko import fetch
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


def _fake_time_client(clock: FakeClock, **kw) -> CoinGeckoClient:
    return CoinGeckoClient(sleep=clock.sleep, clock=clock, rng=FractionRNG(0.0), min_interval=0, **kw)


# ---- the API key is redacted everywhere -----------------------------------------------------


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


def test_market_chart_refuses_an_unsafe_id_without_a_request(api, sleeps):
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match=r"refusing coin id '\.\./x\\n': it contains"):
        client.market_chart("../x\n", "max")
    assert api.requests == []


def test_one_line():
    assert one_line("a\n\tb\x1b[0m  c") == "a b\\x1b[0m c"
    assert one_line("é" * 300, 10) == "ééééééé..."
    assert one_line(b"\x00\x01\x02") == "(3 bytes of binary data)"
