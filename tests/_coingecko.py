"""Shared pieces of the offline CoinGecko tests: a respx-served fake API from the fixtures and a
deterministic jitter."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

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



