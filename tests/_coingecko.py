"""Shared pieces of the offline CoinGecko tests: a respx-served fake API from the fixtures, a
deterministic jitter, a fake clock, and scripted sockets for the tests that need real httpcore."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import httpcore
import httpx
import pytest
import respx

from index_engine.data.coingecko_client import CoinGeckoClient

FIXTURES = Path(__file__).parent / "fixtures" / "coingecko"
TOP5 = ["bitcoin", "ethereum", "tether", "usd-coin", "wrapped-bitcoin"]
SECRET = "CG-t3stSecretKey-9f8e7d"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


class FakeCoinGecko:
    """Serves /coins/markets (paginated by page/per_page, optionally by category) and market charts
    from the fixtures; ``queue(path, ...)`` makes the next requests to ``path`` get other answers."""

    def __init__(self) -> None:
        self.markets = load("markets.json")
        self.categories = {"stablecoins": load("category_stablecoins.json"),
                           "wrapped-tokens": load("category_wrapped-tokens.json")}
        self.charts = {cid: load(f"market_chart_{cid}.json") for cid in TOP5}
        self.queued: dict[str, list] = defaultdict(list)
        self.requests: list[httpx.Request] = []

    def queue(self, path: str, *answers) -> None:
        self.queued[path].extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/v3")
        if self.queued[path]:
            answer = self.queued[path].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if path == "/coins/markets":
            params = request.url.params
            page, per_page = int(params["page"]), int(params["per_page"])
            items = self.categories[params["category"]] if "category" in params else self.markets
            return httpx.Response(200, json=items[(page - 1) * per_page: page * per_page])
        match = re.fullmatch(r"/coins/([^/]+)/market_chart", path)
        if match and match[1] in self.charts:
            return httpx.Response(200, json=self.charts[match[1]])
        return httpx.Response(404, json={"error": "coin not found"})

    def chart_requests(self) -> list[str]:
        return [r.url.path.split("/")[-2] for r in self.requests if r.url.path.endswith("/market_chart")]


class FractionRNG:
    """``uniform(a, b)`` returns ``a + f * (b - a)``: makes the jitter deterministic."""

    def __init__(self, f: float) -> None:
        self.f = f

    def uniform(self, a: float, b: float) -> float:
        return a + self.f * (b - a)


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch):
    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)
    monkeypatch.delenv("COINGECKO_PRO_API_KEY", raising=False)


@pytest.fixture()
def api():
    fake = FakeCoinGecko()
    with respx.mock(assert_all_called=False) as router:  # unmatched hosts raise: no real network
        router.route(host="api.coingecko.com").mock(side_effect=fake)
        router.route(host="pro-api.coingecko.com").mock(side_effect=fake)
        yield fake


@pytest.fixture()
def sleeps():
    return []


def _client(sleeps, f: float = 0.5, **kw) -> CoinGeckoClient:
    return CoinGeckoClient(sleep=sleeps.append, rng=FractionRNG(f), min_interval=0, **kw)




class FakeClock:
    """A monotonic clock that only moves when told to (``advance``) or slept on (``sleep``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def http_response(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """The bytes of an HTTP/1.1 response with a Content-Length, closing its connection."""
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class ScriptedNetwork(httpcore.NetworkBackend):
    """Fake sockets under the real httpcore stack: connection k answers ``answers[k]`` (bytes), ``chunk``
    bytes per read; each read advances ``clock`` by ``per_read`` seconds (a trickling server). An
    answer of None trickles header bytes forever. ``reads`` counts the reads served."""

    def __init__(self, answers: list[bytes | None], clock: FakeClock, per_read: float = 0.0, chunk: int = 65536):
        self.answers, self.clock, self.per_read, self.chunk = list(answers), clock, per_read, chunk
        self.reads = 0

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _ScriptedStream(self, self.answers.pop(0))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise NotImplementedError

    def sleep(self, seconds):  # pragma: no cover
        self.clock.sleep(seconds)


class _ScriptedStream(httpcore.NetworkStream):
    def __init__(self, net: ScriptedNetwork, answer: bytes | None) -> None:
        self.net, self.answer, self.forever = net, answer or b"HTTP/1.1 200 OK\r\nX-Slow: ", answer is None

    def read(self, max_bytes, timeout=None):
        self.net.reads += 1
        self.net.clock.advance(self.net.per_read)
        if not self.answer and self.forever:
            assert self.net.reads < 1000, "the client kept reading headers that never end"
            return b"a"
        out, self.answer = self.answer[: min(max_bytes, self.net.chunk)], self.answer[min(max_bytes, self.net.chunk):]
        return out

    def write(self, buffer, timeout=None):
        pass

    def close(self):
        pass

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # pragma: no cover
        return self

    def get_extra_info(self, info):
        return None
