"""Defences for the CoinGecko adapter: safe display of untrusted text, API-key redaction, coin-id
rules for file names, and a network backend that enforces an overall deadline on every socket call.

Everything a server sends is untrusted: ids become file names, names and bodies reach terminals,
and a server may echo the API key back. See ``docs/coingecko.md`` (security and limits).
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from index_engine.extras import missing_extra

try:
    import httpcore
except ImportError as exc:  # httpx and its httpcore come with the optional fetch extra
    raise missing_extra("fetch", "the CoinGecko adapter (index-engine data fetch)", exc.name) from exc

MAX_ID_LENGTH = 128  # characters; ``.<id>.json.<pid>.tmp`` stays far below the 255-byte name limit
REDACTED = "***"
_NOT_IN_FILE_NAMES = ':*?"<>|'  # besides the path separators: not allowed in Windows file names
# Query parameters / header lines that carry a key: ``x_cg_demo_api_key=...``, ``api_key=...``,
# ``x-cg-pro-api-key: ...``; group 1 is the name, group 2 the separator, then the value.
_KEY_PARAM = re.compile(r"(?i)\b((?:x[-_]cg[-_](?:demo|pro)[-_])?api[-_]?key|access[-_]token)"
                        r"([\"']?\s*[=:]\s*[\"']?)[^&\s'\",;}]+")
# Loggers that may print request URLs or response headers (httpcore at DEBUG level).
REDACTED_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
                    "index_engine.data.coingecko", "index_engine.data.coingecko_client")


# ---- display of untrusted text ----------------------------------------------------------------


def escape_nonprintable(text: str) -> str:
    """``text`` with every non-printable character (control, NUL, ANSI ESC, bidi…) escaped as in repr."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def shown(value: object, limit: int = 60) -> str:
    """``value`` for naming it in a message: as is when printable and short, else ``repr`` of its first
    ``limit`` characters (so NUL, ESC or newlines are visible, never interpreted) plus its length."""
    text = str(value)
    if text.isprintable() and len(text) <= limit:
        return text
    cut = f"... ({len(text)} characters)" if len(text) > limit else ""
    return repr(text[:limit]) + cut


def one_line(text: str | bytes, limit: int = 200, redact: Callable[[str], str] | None = None) -> str:
    """A body or free text as one printable line of at most ``limit`` characters: whitespace runs become
    one space, other non-printable characters are escaped, binary data is summarised by its size.
    ``redact`` is applied before cutting, so a secret is never cut into a visible prefix."""
    if isinstance(text, bytes):
        raw = text
        text = text.decode("utf-8", errors="replace")
        if "\x00" in text or text.count("\ufffd") * 10 > len(text):
            return f"({len(raw)} bytes of binary data)"
    if redact is not None:
        text = redact(text)
    flat = escape_nonprintable(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# ---- coin ids become file names ---------------------------------------------------------------


def coin_id_problem(coin_id: str) -> str | None:
    """Why ``coin_id`` cannot be used as a file name, or None when it is safe."""
    if not coin_id:
        return "is empty"
    if len(coin_id) > MAX_ID_LENGTH:
        return f"is {len(coin_id)} characters long (at most {MAX_ID_LENGTH})"
    if "\x00" in coin_id:
        return "contains a NUL character"
    if not (coin_id.isascii() and coin_id.isprintable()):
        return "contains a control or non-ASCII character"
    if any(ch.isspace() for ch in coin_id):
        return "contains whitespace"
    if "/" in coin_id or "\\" in coin_id:
        return "contains a path separator"
    if any(ch in _NOT_IN_FILE_NAMES for ch in coin_id):
        return f"contains one of {_NOT_IN_FILE_NAMES} (not allowed in file names)"
    if coin_id.startswith(".") or coin_id.endswith(".") or ".." in coin_id:
        return "starts or ends with '.' or contains '..'"
    return None


def check_coin_id(coin_id: str) -> str:
    """``coin_id`` if it is a safe file name, else ``ValueError`` saying why (pydantic validator)."""
    problem = coin_id_problem(coin_id)
    if problem:
        raise ValueError(f"coin id {problem}")
    return coin_id


# ---- the API key never leaves the process -----------------------------------------------------


class Redactor:
    """Replaces the secret (as is and URL-encoded) by ``***``; in messages also the value of any
    ``api_key=`` / ``x_cg_demo_api_key=`` / ``x-cg-pro-api-key:``-like parameter."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms = {f for s in secrets if s for f in (s, quote(s, safe=""))}
        self._secrets = tuple(sorted(forms, key=len, reverse=True))

    def secret(self, text: str) -> str:
        """``text`` with the secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def text(self, text: str) -> str:
        """A message: the secret and any key-carrying parameter value replaced."""
        return _KEY_PARAM.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", self.secret(text))

    def data(self, obj: Any) -> Any:
        """A decoded JSON value with the secret replaced in every string (keys included); other text,
        numbers and structure untouched."""
        if isinstance(obj, str):
            return self.secret(obj) if self._secrets else obj
        if isinstance(obj, list):
            return [self.data(v) for v in obj]
        if isinstance(obj, dict):
            return {self.data(k): self.data(v) for k, v in obj.items()}
        return obj

    def leaks(self, text: str) -> bool:
        """True when ``text`` holds the secret."""
        return any(secret in text for secret in self._secrets)


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message (and formatted traceback) with the key redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always keep it (True)."""
        message = record.getMessage()
        clean = self.redactor.text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        return True

    def install(self) -> None:
        """Attach to every logger in ``REDACTED_LOGGERS``."""
        for name in REDACTED_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def uninstall(self) -> None:
        """Detach from every logger in ``REDACTED_LOGGERS``."""
        for name in REDACTED_LOGGERS:
            logging.getLogger(name).removeFilter(self)


# ---- overall deadline on every socket operation -----------------------------------------------


class DeadlineBackend(httpcore.NetworkBackend):
    """An httpcore network backend whose connects, reads and writes never outlive ``deadline``
    (a ``clock()`` value in seconds; None = no deadline): each call's timeout is cut to the time
    left, and a call made after the deadline raises the matching httpcore timeout. A server that
    trickles headers or body one byte at a time is therefore cut off at the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()
        self._clock = clock
        self.deadline: float | None = None

    def left(self, timeout: float | None, exc: type[Exception]) -> float | None:
        """``timeout`` (seconds) cut to the time left before the deadline; raises ``exc`` when none is left."""
        if self.deadline is None:
            return timeout
        left = self.deadline - self._clock()
        if left <= 0:
            raise exc("overall request deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """The inner backend's TCP connect, bounded by the deadline; its stream is bounded too."""
        stream = self._inner.connect_tcp(host, port, self.left(timeout, httpcore.ConnectTimeout), local_address,
                                         socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """The inner backend's Unix-socket connect, bounded by the deadline."""
        stream = self._inner.connect_unix_socket(path, self.left(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream, self)

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on the inner backend (not bounded by the deadline)."""
        self._inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        left = self._backend.left(timeout, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, left)
        return _DeadlineStream(inner, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
