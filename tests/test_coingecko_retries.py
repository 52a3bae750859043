"""CoinGecko client's rate limiting and retries, offline and without waiting (recorded sleeps): 429 with
Retry-After (seconds or an HTTP date), exponential backoff with full jitter, network errors, pacing
between requests, 5xx exhaustion, and client errors that are not retried."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
import pytest

from index_engine.data.coingecko import fetch
from index_engine.data.coingecko_client import CoinGeckoClient, CoinGeckoError, retry_after_seconds
from tests._coingecko import _client, _no_real_keys, api, sleeps  # noqa: F401  (fixtures)
from tests._coingecko import load as _load

# ---- rate limiting and retries ----------------------------------------------------------------


def test_429_with_retry_after_then_success(api, sleeps, tmp_path):
    api.queue("/coins/bitcoin/market_chart",
              httpx.Response(429, headers={"Retry-After": "7"}, json=_load("error_429.json")))
    with _client(sleeps, f=0.5) as client:
        fetch(2, "max", tmp_path, progress=False, client=client)
    assert sleeps == [7.0]  # jitter 0.5 s < Retry-After: the header is the minimum
    assert api.chart_requests() == ["bitcoin", "bitcoin", "ethereum"]


def test_retry_after_http_date(api, sleeps, tmp_path):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    date = email.utils.format_datetime(when, usegmt=True)
    api.queue("/coins/markets", httpx.Response(429, headers={"Retry-After": date}))
    with _client(sleeps, f=0.0) as client:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


def test_retry_after_parsing():
    now = dt.datetime(2024, 1, 5, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert retry_after_seconds("12", now) == 12.0
    assert retry_after_seconds("1.5", now) == 1.5
    assert retry_after_seconds("Fri, 05 Jan 2024 12:00:42 GMT", now) == 42.0
    assert retry_after_seconds("Fri, 05 Jan 2024 11:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("-3", now) == 0.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


@pytest.mark.parametrize("status", [429, 503])
def test_backoff_is_exponential_with_full_jitter(api, sleeps, tmp_path, status):
    api.queue("/coins/bitcoin/market_chart", *[httpx.Response(status) for _ in range(5)])
    with _client(sleeps, f=1.0, backoff_base=1.0, backoff_max=5.0) as client:  # jitter at its top
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]  # min(backoff_max, base * 2**attempt)
    sleeps.clear()
    api.queue("/coins/bitcoin/market_chart", *[httpx.Response(status) for _ in range(4)])
    with _client(sleeps, f=0.25, backoff_base=2.0) as client:
        fetch(1, "max", tmp_path, progress=False, client=client, refresh=True)
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_backoff_with_a_real_rng_stays_within_the_caps(sleeps):
    import random

    client = CoinGeckoClient(sleep=sleeps.append, rng=random.Random(3), backoff_base=1.0, backoff_max=60.0)
    delays = [client.backoff_delay(k) for k in range(10)]
    caps = [min(60.0, 2.0 ** k) for k in range(10)]
    assert all(0 <= d <= c for d, c in zip(delays, caps)) and len(set(delays)) == 10
    assert client.backoff_delay(0, retry_after=9.0) == 9.0


def test_network_errors_are_retried(api, sleeps, tmp_path):
    api.queue("/coins/markets", httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out"))
    with _client(sleeps, f=1.0) as client:
        fetch(1, "max", tmp_path, progress=False, client=client)
    assert sleeps == [1.0, 2.0]


def test_pacing_between_requests():
    now = [100.0]
    waits = []

    def sleep(s):
        waits.append(s)
        now[0] += s

    client = CoinGeckoClient(sleep=sleep, min_interval=2.0, clock=lambda: now[0])
    client._pace()
    now[0] += 0.5
    client._pace()
    now[0] += 3.0
    client._pace()
    assert waits == [1.5]
    assert CoinGeckoClient().min_interval == 6.0  # keyless default


def test_5xx_exhaustion_raises(api, sleeps, tmp_path):
    api.queue("/coins/ethereum/market_chart", *[httpx.Response(502, text="<html>Bad Gateway</html>")] * 10)
    with _client(sleeps, max_retries=3) as client, pytest.raises(CoinGeckoError) as info:
        fetch(2, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert "/coins/ethereum/market_chart" in msg and "coin ethereum" in msg and "HTTP 502" in msg
    assert "after 4 attempts" in msg and "\n" not in msg
    assert len(sleeps) == 3
    assert (tmp_path / "raw" / "bitcoin.json").exists()  # what was fetched is kept for the resume


def test_client_error_is_not_retried(api, sleeps, tmp_path):
    api.queue("/coins/bitcoin/market_chart", httpx.Response(401, json=_load("error_10012.json")))
    with _client(sleeps) as client, pytest.raises(CoinGeckoError) as info:
        fetch(1, "max", tmp_path, progress=False, client=client)
    msg = str(info.value)
    assert "HTTP 401" in msg and "coin bitcoin" in msg and "error_code 10012" in msg and "--days 365" in msg
    assert sleeps == []


def test_unknown_coin_404(api, sleeps, tmp_path):
    api.markets[0] = dict(api.markets[0], id="no-such-coin")
    match = r"coin no-such-coin\): HTTP 404: coin not found"
    with _client(sleeps) as client, pytest.raises(CoinGeckoError, match=match):
        fetch(1, "max", tmp_path, progress=False, client=client)
