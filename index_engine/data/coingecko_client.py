"""HTTP client for CoinGecko's public API: key handling, rate limiting, retries, bounded waits.

The pipeline that turns the responses into the project's long format lives in
``index_engine.data.coingecko``; schemas in ``coingecko_schema``; see ``docs/coingecko.md``.

* The API key is read from an environment variable (``COINGECKO_PRO_API_KEY`` selects the Pro
  API, else ``COINGECKO_API_KEY`` is sent as a Demo key, else no key) and only ever sent as a
  request header. Every decoded response, error message and log record has it replaced by ``***``
  (a server may echo it back), so it reaches no file, log or exception.
* Every request is paced (``min_interval`` seconds apart) and retried on 429, 408 and transient
  5xx answers and on network errors, with exponential backoff and full jitter; ``Retry-After``
  (seconds or an HTTP date) is honoured as a minimum wait. No single wait exceeds ``max_wait``
  seconds: a server asking for longer fails the request at once.
* Every request has an overall deadline (``request_timeout`` seconds for connect, headers and
  body together), and ``time_limit(seconds)`` bounds a whole run; a trickling server cannot hang us.
* Every response is validated against a pydantic schema; a violation raises ``CoinGeckoError``
  naming the endpoint, the coin and the offending field.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from index_engine.data.coingecko_guard import (
    DeadlineBackend,
    RedactingFilter,
    Redactor,
    coin_id_problem,
    one_line,
    shown,
)
from index_engine.data.coingecko_schema import (  # noqa: F401  (re-exported for existing imports)
    LISTED,
    MARKET_CHART,
    MARKETS,
    MarketChart,
    MarketCoin,
    validate,
    validation_message,
)
from index_engine.errors import CoinGeckoError
from index_engine.extras import missing_extra

try:
    import httpcore
    import httpx
except ImportError as exc:  # httpx and its httpcore come with the optional fetch extra
    raise missing_extra("fetch", "the CoinGecko adapter (index-engine data fetch)", exc.name) from exc

log = logging.getLogger(__name__)

PUBLIC_BASE_URL = "https://api.coingecko.com/api/v3"
PRO_BASE_URL = "https://pro-api.coingecko.com/api/v3"
DEMO_HEADER = "x-cg-demo-api-key"
PRO_HEADER = "x-cg-pro-api-key"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Default pacing (seconds between requests) per plan; 429s are still handled by the backoff.
DEFAULT_MIN_INTERVAL = {"pro": 0.12, "demo": 2.0, "public": 6.0}
DEFAULT_MAX_WAIT = 120.0  # seconds: longest single sleep (Retry-After, backoff, pacing)
DEFAULT_REQUEST_TIMEOUT = 120.0  # seconds: one request from connect to the last body byte
MAX_BODY_BYTES = 32 * 2**20  # a full-history chart is well under 1 MB


class _Retryable(Exception):
    """A failed attempt that may be retried; the message is one redacted line; ``retry_after`` in seconds."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


class _DeadlinePassed(Exception):
    """The body was still arriving at the request deadline."""


# ---- retry helpers ----------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _error_detail(body: bytes, redact: Callable[[str], str]) -> str:
    """The API's error message from a body (``{"error": ...}`` / ``{"status": {...}}``): one short,
    printable line, redacted before it is cut."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return one_line(body, redact=redact)
    node = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(node, dict):
        status = node.get("status", node)
        if isinstance(status, dict) and ("error_message" in status or "error_code" in status):
            code = status.get("error_code")
            return one_line(str(status.get("error_message", "")), redact=redact) + (
                f" (error_code {one_line(str(code), 20, redact)})" if code else "")
    return one_line(node if isinstance(node, str) else json.dumps(node), redact=redact)


# ---- the client -------------------------------------------------------------------------------


class CoinGeckoClient:
    """Synchronous CoinGecko client with key handling, pacing, retries and schema validation.

    Times are in seconds. ``min_interval`` (between requests) defaults by plan
    (``DEFAULT_MIN_INTERVAL``); ``max_wait`` caps any single sleep; ``request_timeout`` bounds one
    request as a whole (``timeout`` is httpx's per-operation timeout). ``sleep``, ``rng``, ``clock``
    and ``network_backend`` (an httpcore backend) are injectable so tests neither wait nor depend on chance.
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
        max_wait: float = DEFAULT_MAX_WAIT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        pro_key = os.environ.get(pro_api_key_env, "").strip()
        demo_key = os.environ.get(api_key_env, "").strip()
        headers = {"accept": "application/json", "user-agent": "index-engine"}
        self.key_env: str | None  # the variable the key came from (named in messages; never the key)
        key: str | None
        if pro_key:
            self.plan, self.key_env, key = "pro", pro_api_key_env, pro_key
            headers[PRO_HEADER] = pro_key
        elif demo_key:
            self.plan, self.key_env, key = "demo", api_key_env, demo_key
            headers[DEMO_HEADER] = demo_key
        else:
            self.plan, self.key_env, key = "public", None, None
        self.min_interval = DEFAULT_MIN_INTERVAL[self.plan] if min_interval is None else float(min_interval)
        for name, value in (("max_wait", max_wait), ("request_timeout", request_timeout)):
            if not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if not 0 <= self.min_interval <= max_wait:
            raise ValueError(f"min_interval must be between 0 and max_wait ({max_wait:g} s), got {self.min_interval:g}")
        self._redactor = Redactor([key])
        self._log_filter = RedactingFilter(self._redactor)
        self._log_filter.install()
        self.pro_key_env = pro_api_key_env
        url = (base_url or (PRO_BASE_URL if self.plan == "pro" else PUBLIC_BASE_URL)).rstrip("/")
        self.base_url = self._redactor.text(url)  # for display: a key in a query string is hidden
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_wait = float(max_wait)
        self.request_timeout = float(request_timeout)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._last_request: float | None = None
        self._run_deadline: float | None = None
        self._run_timeout: float | None = None
        self._backend = DeadlineBackend(network_backend, clock)
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=_transport(self._backend))
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
        """Close the HTTP connections and remove the log redaction filter (also on ``with`` exit)."""
        self._http.close()
        self._log_filter.uninstall()

    def redact(self, text: str) -> str:
        """``text`` with the API key (and any key-carrying parameter) replaced by ``***``."""
        return self._redactor.text(text)

    def leaks_key(self, text: str) -> bool:
        """True when ``text`` contains the API key (e.g. a cache file written by an older version)."""
        return self._redactor.leaks(text)

    @contextlib.contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Within the block no request or wait may end later than ``seconds`` from now (None or inf: no
        limit); past it, ``CoinGeckoError`` says so."""
        if seconds is not None and not seconds > 0:
            raise ValueError(f"run timeout must be a positive number of seconds, got {seconds!r}")
        saved = self._run_deadline, self._run_timeout
        if seconds is not None and not math.isinf(seconds):
            self._run_deadline, self._run_timeout = self._clock() + seconds, seconds
        try:
            yield
        finally:
            self._run_deadline, self._run_timeout = saved

    # ---- endpoints ----------------------------------------------------------------------------

    def markets(self, page: int, per_page: int = 250, category: str | None = None) -> list[MarketCoin]:
        """One page of ``/coins/markets`` in USD by market cap (optionally one category)."""
        params = _markets_params(page, per_page, category)
        what = f"/coins/markets (page {page}" + (f", category {shown(category)})" if category else ")")
        return validate(MARKETS, self.get_json("/coins/markets", params, what), f"CoinGecko {what}")

    def category_ids(self, category: str, page: int, per_page: int = 250) -> list[str]:
        """The coin ids on one page of ``/coins/markets?category=...`` (only ``id`` is checked)."""
        what = f"/coins/markets (page {page}, category {shown(category)})"
        data = self.get_json("/coins/markets", _markets_params(page, per_page, category), what)
        return [c.id for c in validate(LISTED, data, f"CoinGecko {what}")]

    def market_chart(self, coin_id: str, days: str | int) -> tuple[Any, MarketChart]:
        """``/coins/{id}/market_chart`` (daily, USD): the payload as received (key redacted) and its model."""
        problem = coin_id_problem(coin_id)
        if problem:
            raise CoinGeckoError(f"CoinGecko /coins/{{id}}/market_chart: refusing coin id {shown(coin_id)}: "
                                 f"it {problem}")
        what = f"/coins/{coin_id}/market_chart (coin {coin_id})"
        data = self.get_json(f"/coins/{quote(coin_id, safe='')}/market_chart",
                             {"vs_currency": "usd", "days": str(days), "interval": "daily"}, what)
        return data, validate(MARKET_CHART, data, f"CoinGecko {what}")

    # ---- transport ----------------------------------------------------------------------------

    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform(0, min(backoff_max, backoff_base * 2**attempt)), at least Retry-After."""
        cap = min(self.backoff_max, self.backoff_base * 2.0 ** attempt)
        delay = self._rng.uniform(0.0, cap)
        return delay if retry_after is None else max(delay, retry_after)

    def _wait(self, seconds: float, what: str) -> None:
        """Sleep ``seconds`` unless that would pass the run's time limit (then ``CoinGeckoError``)."""
        if seconds <= 0:
            return
        if self._run_deadline is not None and self._clock() + seconds > self._run_deadline:
            raise CoinGeckoError(f"CoinGecko {what}: waiting {seconds:.1f} s more would pass the run time limit "
                                 f"of {self._run_timeout:g} s (--run-timeout); run the same command again to resume")
        self._sleep(seconds)

    def _pace(self, what: str = "request") -> None:
        if self.min_interval > 0 and self._last_request is not None:
            self._wait(self._last_request + self.min_interval - self._clock(), what)
        self._last_request = self._clock()

    def get_json(self, path: str, params: dict[str, Any], what: str) -> Any:
        """GET ``path`` with retries; the decoded JSON body with the key redacted. ``what`` names the
        request in errors (never the key)."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            self._pace(what)
            self.requests += 1
            try:
                status, body = self._attempt(path, params, what)
            except _Retryable as exc:
                problem, retry_after = str(exc), exc.retry_after
            else:
                try:
                    return self._redactor.data(json.loads(body))
                except (ValueError, RecursionError):  # also bad UTF-8 and over-deep nesting
                    raise CoinGeckoError(f"CoinGecko {what}: HTTP {status} but the body is not JSON: "
                                         f"{one_line(body, 120, self.redact)}") from None
            if attempt + 1 == attempts:
                raise CoinGeckoError(f"CoinGecko {what}: {problem}; giving up after {attempts} attempts")
            if retry_after is not None and retry_after > self.max_wait:
                raise CoinGeckoError(f"CoinGecko {what}: {problem}; the server asks to wait {retry_after:.0f} s "
                                     f"(Retry-After), more than the {self.max_wait:g} s limit (--max-wait): "
                                     f"try again later")
            delay = min(self.backoff_delay(attempt, retry_after), self.max_wait)
            log.warning("CoinGecko %s: %s; retry %d/%d in %.1f s", what, problem, attempt + 1, self.max_retries, delay)
            self._wait(delay, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, path: str, params: dict[str, Any], what: str) -> tuple[int, bytes]:
        """One GET within the deadline: ``(status, body)`` on success; ``_Retryable`` (carrying
        Retry-After) for a retryable failure; ``CoinGeckoError`` for any other."""
        now = self._clock()
        deadline = now + self.request_timeout
        run_limited = False
        if self._run_deadline is not None and self._run_deadline <= deadline:
            run_limited, deadline = True, self._run_deadline
            if deadline <= now:
                raise self._run_over(what)
        self._backend.deadline = deadline
        try:
            with self._http.stream("GET", path, params=params) as resp:
                body = self._read_body(resp, deadline, what)
                status, headers = resp.status_code, resp.headers
        except _DeadlinePassed:
            problem = None
        except httpx.TransportError as exc:
            problem = one_line(f"{type(exc).__name__}: {exc}", redact=self.redact)
        except httpx.HTTPError as exc:  # e.g. a body that fails to decompress
            raise CoinGeckoError(f"CoinGecko {what}: cannot read the response: "
                                 f"{one_line(f'{type(exc).__name__}: {exc}', redact=self.redact)}") from None
        else:
            if 200 <= status < 300:
                return status, body
            detail = _error_detail(body, self.redact)
            problem = f"HTTP {status}" + (f": {detail}" if detail else "")
            if status not in RETRY_STATUSES:
                raise CoinGeckoError(f"CoinGecko {what}: {problem}{self._hint(status, detail)}")
            raise _Retryable(problem, retry_after_seconds(headers.get("retry-after")))
        finally:
            self._backend.deadline = None
        if problem is None or self._clock() >= deadline:
            if run_limited:
                raise self._run_over(what)
            raise _Retryable(f"no complete answer within {self.request_timeout:g} s (--request-timeout)")
        raise _Retryable(problem)

    def _read_body(self, resp: httpx.Response, deadline: float, what: str) -> bytes:
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise CoinGeckoError(f"CoinGecko {what}: HTTP {resp.status_code} body larger than "
                                     f"{MAX_BODY_BYTES:,} bytes; refusing it")
            if self._clock() > deadline:
                raise _DeadlinePassed
            chunks.append(chunk)
        return b"".join(chunks)

    def _run_over(self, what: str) -> CoinGeckoError:
        return CoinGeckoError(f"CoinGecko {what}: the run time limit of {self._run_timeout:g} s (--run-timeout) "
                              f"has passed; run the same command again to resume from the cache")

    def _hint(self, status: int, detail: str) -> str:
        if "10012" in detail or "time range" in detail:
            return f"; full history (--days max) needs a paid-plan key in ${self.pro_key_env}, else use --days 365"
        if status in (401, 403):
            where = f"${self.key_env}" if self.key_env else "$COINGECKO_API_KEY / $COINGECKO_PRO_API_KEY"
            return f"; check the API key in {where} and that it matches {self.base_url}"
        return ""


def _markets_params(page: int, per_page: int, category: str | None = None) -> dict[str, Any]:
    params = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": per_page, "page": page,
              "sparkline": "false"}
    return dict(params, category=category) if category else params


def _transport(backend: DeadlineBackend) -> httpx.BaseTransport:
    """Httpx's transport with its connection pool on ``backend``, so the deadline covers every socket
    call (connect, TLS, headers, body). httpx has no public hook for this: if its internals differ,
    the deadline is still checked between body chunks."""
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = backend
    else:  # pragma: no cover - depends on the httpx version
        log.debug("httpx transport without a reachable connection pool: deadline checked between body chunks")
    return transport
