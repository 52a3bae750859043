"""HTTP client for CoinGecko's public API: key handling, rate limiting, retries, response schemas.

The pipeline that turns the responses into the project's long format lives in
``index_engine.data.coingecko``; see ``docs/coingecko.md``.

* The API key is read from an environment variable (``COINGECKO_PRO_API_KEY`` selects the Pro
  API, else ``COINGECKO_API_KEY`` is sent as a Demo key, else no key) and only ever sent as a
  request header. It is never logged, never written to a file and never part of an error message.
* Every request is paced (``min_interval`` seconds apart) and retried on 429, 408 and transient
  5xx answers and on network errors, with exponential backoff and full jitter; ``Retry-After``
  (seconds or an HTTP date) is honoured as a minimum wait.
* Every response is validated against a pydantic schema; a violation raises ``CoinGeckoError``
  naming the endpoint, the coin and the offending field.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import random
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from index_engine.errors import CoinGeckoError

log = logging.getLogger(__name__)

PUBLIC_BASE_URL = "https://api.coingecko.com/api/v3"
PRO_BASE_URL = "https://pro-api.coingecko.com/api/v3"
DEMO_HEADER = "x-cg-demo-api-key"
PRO_HEADER = "x-cg-pro-api-key"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Default pacing (seconds between requests) per plan; 429s are still handled by the backoff.
DEFAULT_MIN_INTERVAL = {"pro": 0.12, "demo": 2.0, "public": 6.0}
_MAX_SHOWN_ERRORS = 3

T = TypeVar("T")


# ---- response schemas -------------------------------------------------------------------------

# Numbers must be JSON numbers (strict: no numeric strings, no booleans), finite and >= 0.
NonNegative = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
# Milliseconds since the epoch between 2001-09-09 and 2100-01-01 (catches seconds-vs-ms mix-ups).
TimestampMs = Annotated[float, Field(ge=1_000_000_000_000, le=4_102_444_800_000, strict=True, allow_inf_nan=False)]
# A coin id is used as a file name: no path separators, whitespace or leading dot.
CoinId = Annotated[str, StringConstraints(pattern=r"^[^/\\\s.][^/\\\s]*$")]
Point = tuple[TimestampMs, NonNegative | None]


class MarketCoin(BaseModel):
    """One entry of ``/coins/markets`` (only the fields the adapter uses are checked)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: CoinId
    symbol: str
    name: str
    current_price: NonNegative | None
    market_cap: NonNegative | None
    market_cap_rank: Annotated[int, Field(ge=1, strict=True)] | None = None
    total_volume: NonNegative | None = None


class MarketChart(BaseModel):
    """``/coins/{id}/market_chart``: three lists of ``[timestamp_ms, value]`` pairs."""

    model_config = ConfigDict(extra="ignore")

    prices: list[Point]
    market_caps: list[Point]
    total_volumes: list[Point]


MARKETS = TypeAdapter(list[MarketCoin])
MARKET_CHART = TypeAdapter(MarketChart)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def validation_message(exc: ValidationError, data: Any) -> str:
    """``field: problem (got value)`` for the first errors; list entries also name their coin id."""
    parts = []
    for err in exc.errors()[:_MAX_SHOWN_ERRORS]:
        loc = tuple(err["loc"])
        where = _loc(loc)
        if loc and isinstance(loc[0], int) and isinstance(data, list) and loc[0] < len(data):
            item = data[loc[0]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                where += f" (coin {item['id']})"
        got = repr(err.get("input"))
        got = "" if err["type"] == "missing" else f" (got {got if len(got) <= 80 else got[:77] + '...'})"
        parts.append(f"{where}: {err['msg']}{got}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; +{more} more error(s)" if more > 0 else "")


def validate(adapter: TypeAdapter[T], data: Any, what: str) -> T:
    """Validate ``data`` or raise ``CoinGeckoError("<what>: response failed schema validation: ...")``."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise CoinGeckoError(f"{what}: response failed schema validation: {validation_message(exc, data)}") from None


# ---- retry helpers ----------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _error_detail(resp: httpx.Response) -> str:
    """The API's error message from the body (``{"error": ...}`` / ``{"status": {...}}``), short."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip().replace("\n", " ")
        return text[:200]
    node = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(node, dict):
        status = node.get("status", node)
        if isinstance(status, dict) and ("error_message" in status or "error_code" in status):
            code = status.get("error_code")
            return f"{status.get('error_message', '')}".strip()[:200] + (f" (error_code {code})" if code else "")
    return str(node)[:200]


# ---- the client -------------------------------------------------------------------------------


class CoinGeckoClient:
    """Synchronous CoinGecko client with key handling, pacing, retries and schema validation.

    ``sleep``, ``rng`` and ``clock`` are injectable so tests neither wait nor depend on chance.
    ``min_interval`` (seconds between requests) defaults by plan (``DEFAULT_MIN_INTERVAL``).
    """

    def __init__(
        self,
        api_key_env: str = "COINGECKO_API_KEY",
        base_url: str | None = None,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        *,
        pro_api_key_env: str = "COINGECKO_PRO_API_KEY",
        min_interval: float | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        pro_key = os.environ.get(pro_api_key_env, "").strip()
        demo_key = os.environ.get(api_key_env, "").strip()
        headers = {"accept": "application/json", "user-agent": "index-engine"}
        if pro_key:
            self.plan, self.key_env, self._key = "pro", pro_api_key_env, pro_key
            headers[PRO_HEADER] = pro_key
        elif demo_key:
            self.plan, self.key_env, self._key = "demo", api_key_env, demo_key
            headers[DEMO_HEADER] = demo_key
        else:
            self.plan, self.key_env, self._key = "public", None, None
        self.pro_key_env = pro_api_key_env
        self.base_url = (base_url or (PRO_BASE_URL if self.plan == "pro" else PUBLIC_BASE_URL)).rstrip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.min_interval = DEFAULT_MIN_INTERVAL[self.plan] if min_interval is None else min_interval
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._last_request: float | None = None
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.requests = 0  # HTTP requests sent (including retries)
        log.info("CoinGecko %s API at %s%s", self.plan, self.base_url,
                 f" (key from ${self.key_env})" if self.key_env else " (no API key)")

    def __repr__(self) -> str:  # never shows the key
        return f"CoinGeckoClient(plan={self.plan!r}, base_url={self.base_url!r})"

    def __enter__(self) -> CoinGeckoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- endpoints ----------------------------------------------------------------------------

    def markets(self, page: int, per_page: int = 250, category: str | None = None) -> list[MarketCoin]:
        """One page of ``/coins/markets`` in USD by market cap (optionally one category)."""
        params: dict[str, Any] = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": per_page,
                                  "page": page, "sparkline": "false"}
        if category:
            params["category"] = category
        what = f"/coins/markets (page {page}" + (f", category {category})" if category else ")")
        return validate(MARKETS, self.get_json("/coins/markets", params, what), f"CoinGecko {what}")

    def market_chart(self, coin_id: str, days: str | int) -> tuple[Any, MarketChart]:
        """``/coins/{id}/market_chart`` (daily, USD): the payload as received and its validated model."""
        path = f"/coins/{quote(coin_id, safe='')}/market_chart"
        what = f"/coins/{coin_id}/market_chart (coin {coin_id})"
        data = self.get_json(path, {"vs_currency": "usd", "days": str(days), "interval": "daily"}, what)
        return data, validate(MARKET_CHART, data, f"CoinGecko {what}")

    # ---- transport ----------------------------------------------------------------------------

    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform(0, min(backoff_max, backoff_base * 2**attempt)), at least Retry-After."""
        cap = min(self.backoff_max, self.backoff_base * 2.0 ** attempt)
        delay = self._rng.uniform(0.0, cap)
        return delay if retry_after is None else max(delay, retry_after)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _pace(self) -> None:
        if self.min_interval > 0 and self._last_request is not None:
            wait = self._last_request + self.min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_request = self._clock()

    def get_json(self, path: str, params: dict[str, Any], what: str) -> Any:
        """GET ``path`` with retries; the decoded JSON body. ``what`` names the request in errors."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            self._pace()
            self.requests += 1
            retry_after = None
            try:
                resp = self._http.get(path, params=params)
            except httpx.TransportError as exc:
                problem = self._redact(f"{type(exc).__name__}: {exc}")
            else:
                if resp.is_success:
                    try:
                        return resp.json()
                    except ValueError:
                        raise CoinGeckoError(
                            f"CoinGecko {what}: HTTP {resp.status_code} but the body is not JSON: "
                            f"{self._redact(resp.text[:120])!r}") from None
                detail = self._redact(_error_detail(resp))
                problem = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
                if resp.status_code not in RETRY_STATUSES:
                    raise CoinGeckoError(f"CoinGecko {what}: {problem}{self._hint(resp.status_code, detail)}")
                retry_after = retry_after_seconds(resp.headers.get("retry-after"))
            if attempt + 1 == attempts:
                raise CoinGeckoError(f"CoinGecko {what}: {problem}; giving up after {attempts} attempts")
            delay = self.backoff_delay(attempt, retry_after)
            log.warning("CoinGecko %s: %s; retry %d/%d in %.1f s", what, problem, attempt + 1, self.max_retries, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _hint(self, status: int, detail: str) -> str:
        if "10012" in detail or "time range" in detail:
            return f"; full history (--days max) needs a paid-plan key in ${self.pro_key_env}, else use --days 365"
        if status in (401, 403):
            where = f"${self.key_env}" if self.key_env else "$COINGECKO_API_KEY / $COINGECKO_PRO_API_KEY"
            return f"; check the API key in {where} and that it matches {self.base_url}"
        return ""
