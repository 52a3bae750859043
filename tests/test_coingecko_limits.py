"""CoinGecko limits, offline and without waiting (a fake clock): every wait is capped, every request
has an overall deadline, unusable bodies are one-line errors."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from index_engine.data import coingecko_client
from index_engine.data.coingecko import fetch
from index_engine.data.coingecko_client import CoinGeckoClient, CoinGeckoError
from tests._coingecko import (  # noqa: F401  (fixtures)
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


class TrickleBody(httpx.SyncByteStream):
    """A body that starts, then arrives one byte per (fake) second and never ends (after 1000 bytes
    it fails the test instead of hanging it)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.sent = clock, 0

    def __iter__(self):
        yield b'{"prices": ['
        while True:
            assert self.sent < 1000, "the client kept reading a body that never ends"
            self.clock.advance(1.0)
            self.sent += 1
            yield b"1"


# ---- bounded waits --------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["999999", "Fri, 01 Jan 2100 00:00:00 GMT"])
def test_retry_after_beyond_max_wait_fails_at_once(api, sleeps, tmp_path, retry_after):
    api.queue("/coins/markets", httpx.Response(429, headers={"Retry-After": retry_after}))
    with _client(sleeps, max_wait=120) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert msg.startswith("CoinGecko /coins/markets (page 1): HTTP 429; the server asks to wait ")
    assert "s (Retry-After), more than the 120 s limit (--max-wait): try again later" in msg
    assert sleeps == [] and len(api.requests) == 1


def test_every_wait_is_capped_by_max_wait(api, sleeps, tmp_path):
    api.queue("/coins/bitcoin/market_chart", httpx.Response(503), httpx.Response(503),
              httpx.Response(429, headers={"Retry-After": "2.5"}), httpx.Response(503), httpx.Response(503))
    with _client(sleeps, f=1.0, backoff_max=60.0, max_wait=3.0) as client:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]  # jitter tops 4, 8, 16 are cut to max_wait


# ---- deadlines ------------------------------------------------------------------------------


def test_trickling_body_is_cut_at_the_request_deadline(api, tmp_path):
    clock = FakeClock()
    bodies = [TrickleBody(clock) for _ in range(3)]
    api.queue("/coins/bitcoin/market_chart", *[httpx.Response(200, stream=b) for b in bodies])
    with _fake_time_client(clock, max_retries=2, request_timeout=5.0) as client, \
            pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert str(info.value) == ("CoinGecko /coins/bitcoin/market_chart (coin bitcoin): no complete answer within "
                               "5 s (--request-timeout); giving up after 3 attempts")
    assert [b.sent for b in bodies] == [6, 6, 6]  # each attempt stops at its first byte after 5 s


def test_trickling_headers_are_cut_at_the_request_deadline():
    # real httpcore over fake sockets: one header byte per second, forever
    clock = FakeClock()
    net = ScriptedNetwork([None, None], clock, per_read=1.0, chunk=1)
    client = _fake_time_client(clock, base_url="http://coingecko.test/api/v3", network_backend=net, max_retries=1,
                               request_timeout=5.0)
    with client, pytest.raises(CoinGeckoError, match=r"no complete answer within 5 s .*giving up after 2 attempts"):
        client.markets(1)
    assert net.reads == 10  # 5 one-second reads per attempt, then the deadline


def test_scripted_network_serves_a_normal_answer():
    # the same fake sockets, answering at once: the deadline does not get in the way of success
    clock = FakeClock()
    net = ScriptedNetwork([http_response(200, json.dumps(load("markets.json")[:2]).encode())], clock, per_read=0.5)
    with _fake_time_client(clock, base_url="http://coingecko.test/api/v3", network_backend=net) as client:
        assert [c.id for c in client.markets(1)] == ["bitcoin", "ethereum"]


# ---- bodies that cannot be used -------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 404])
def test_binary_body_is_summarised_not_dumped(api, sleeps, tmp_path, status):
    body = gzip.compress(b"x" * 1000) + b"\x00\xff"
    api.queue("/coins/markets", httpx.Response(status, content=body))
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert f"({len(body)} bytes of binary data)" in str(info.value) and str(info.value).isprintable()


@pytest.mark.parametrize("body, headers, expected", [
    (b"[" * 100_000 + b"]" * 100_000, {}, "HTTP 200 but the body is not JSON: [[[["),  # too deep for json
    (b"not gzip", {"Content-Encoding": "gzip"}, "cannot read the response: DecodingError"),
], ids=["deep", "bad-gzip"])
def test_unreadable_bodies_are_one_line_errors(api, sleeps, tmp_path, body, headers, expected):
    api.queue("/coins/markets", httpx.Response(200, headers=headers, stream=httpx.ByteStream(body)))
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert msg.startswith(f"CoinGecko /coins/markets (page 1): {expected}") and msg.isprintable() and len(msg) < 400


def test_oversized_body_is_refused(api, sleeps, tmp_path, monkeypatch):
    monkeypatch.setattr(coingecko_client, "MAX_BODY_BYTES", 1000)
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match=r"HTTP 200 body larger than 1,000 bytes"):
        fetch(5, "max", tmp_path, progress=False, client=client)
