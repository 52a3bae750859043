"""CoinGecko limits, offline and without waiting (a fake clock): every wait is capped, every request
and every run has an overall deadline, repeated pages end the listing, unusable bodies are one-line errors."""

from __future__ import annotations

import gzip
import json

import httpx
import polars as pl
import pytest
from click.testing import CliRunner

from backtest.cli.data import data_cmd
from index_engine.data import coingecko_client
from index_engine.data.coingecko import category_map, fetch, top_coins
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

CLI_ARGS = ["fetch", "--no-progress", "--min-interval", "0"]


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


def test_limits_must_be_positive_and_consistent(api, tmp_path):
    with pytest.raises(ValueError, match="min_interval must be between 0 and max_wait"):
        CoinGeckoClient(min_interval=200, max_wait=120)
    for kw in ({"max_wait": 0}, {"request_timeout": -1}, {"request_timeout": float("inf")}):
        with pytest.raises(ValueError, match="positive number of seconds"):
            CoinGeckoClient(**kw)
    with CoinGeckoClient() as client, pytest.raises(ValueError, match="run timeout"):
        fetch(1, "max", tmp_path, progress=False, client=client, run_timeout=0)
    bad = CliRunner().invoke(data_cmd, [*CLI_ARGS[:2], "--min-interval", "200", "--max-wait", "10", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--min-interval" in bad.output and "more than --max-wait" in bad.output
    for option, value in [(o, v) for o in ("--max-wait", "--request-timeout", "--run-timeout") for v in ("0", "nan")]:
        bad = CliRunner().invoke(data_cmd, [*CLI_ARGS, option, value, "--out", str(tmp_path)])
        assert bad.exit_code == 2 and f"Invalid value for {option}" in bad.output.replace("'", ""), (option, value)
    bad = CliRunner().invoke(data_cmd, [*CLI_ARGS[:2], "--max-wait", "0.5", "--out", str(tmp_path)])  # keyless: 6 s
    assert bad.exit_code == 2 and "min_interval must be between 0 and max_wait (0.5 s), got 6" in bad.output
    assert api.requests == []


# ---- pagination that repeats ----------------------------------------------------------------


def test_markets_pages_that_repeat_end_the_listing(api, sleeps, caplog):
    api.queue("/coins/markets", *[httpx.Response(200, json=api.markets[:2]) for _ in range(20)])
    with _client(sleeps) as client:
        coins = top_coins(client, 5, per_page=2)
    assert [c.id for c in coins] == ["bitcoin", "ethereum"] and len(api.requests) == 2
    assert "page 2 repeats coins already listed (no new id): stopping the listing at 2 coins" in caplog.text


def test_category_pages_that_repeat_end_that_list(api, sleeps, caplog):
    api.queue("/coins/markets", *[httpx.Response(200, json=api.categories["stablecoins"][:2]) for _ in range(20)])
    with _client(sleeps) as client:
        assert category_map(client, {"tether", "bitcoin"}, per_page=2) == {"tether": "stablecoin"}
    assert len(api.requests) == 4  # two pages of each list
    assert caplog.text.count("repeats coins already listed") == 2


def test_a_coin_called_cash_is_left_out_before_any_download(api, sleeps, tmp_path, caplog):
    # `cash` is the asset_id of the cash stable sleeve (docs/data.md): the loader would refuse the table
    api.markets = [api.markets[0], dict(api.markets[1], id="cash", name="Cash"), *api.markets[2:]]
    with _client(sleeps) as client:
        out = fetch(3, "max", tmp_path, progress=False, client=client)
    assert "CoinGecko coin id 'cash' (Cash) is reserved for the cash stable sleeve: left out" in caplog.text
    assert pl.read_parquet(out / "coingecko_daily.parquet")["asset_id"].unique().sort().to_list() == \
        ["bitcoin", "tether", "usd-coin"]
    assert not any("/coins/cash/" in str(r.url) for r in api.requests)


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


def test_run_timeout_bounds_the_waits_of_a_run(api, tmp_path):
    clock = FakeClock()
    client = CoinGeckoClient(sleep=clock.sleep, clock=clock, min_interval=30.0, max_wait=120)
    with client, pytest.raises(CoinGeckoError) as info:
        fetch(2, "max", tmp_path, progress=False, client=client, run_timeout=100)
    assert str(info.value) == ("CoinGecko /coins/ethereum/market_chart (coin ethereum): waiting 30.0 s more would "
                               "pass the run time limit of 100 s (--run-timeout); run the same command again to resume")
    assert clock.sleeps == [30.0, 30.0, 30.0]
    assert api.chart_requests() == ["bitcoin"] and (tmp_path / "raw" / "bitcoin.json").exists()


def test_run_timeout_cuts_a_request_short(api, tmp_path):
    clock = FakeClock()
    body = TrickleBody(clock)
    api.queue("/coins/markets", httpx.Response(200, stream=body))
    with _fake_time_client(clock) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client, run_timeout=3)
    assert str(info.value) == ("CoinGecko /coins/markets (page 1): the run time limit of 3 s (--run-timeout) has "
                               "passed; run the same command again to resume from the cache")
    assert body.sent == 4 and len(api.requests) == 1  # not retried


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
