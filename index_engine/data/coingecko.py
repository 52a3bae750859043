"""Fetch CoinGecko market data into the project's long format (the library behind ``index-engine data fetch``,
whose click command lives in ``backtest.cli.data``; nothing here prints or imports click/rich).

``fetch(top, days, out_dir)``:

1. ``/coins/markets`` pages (250 per page) until ``top`` coins by market cap (a page that brings no
   new coin ends the listing);
2. per coin, ``/coins/{id}/market_chart`` (USD, daily) cached as ``out_dir/raw/<coin_id>.json``
   (atomic writes; a re-run skips coins whose cache file exists, validates and was fetched with
   the same ``days``);
3. the ``stablecoins`` / ``wrapped-tokens`` category lists -> ``coingecko_categories.csv``;
4. the long table ``coingecko_daily.parquet`` (date, asset_id, symbol, name, price_usd,
   market_cap_usd, volume_24h_usd), checked by loading it with ``MarketData.from_parquet``.

HTTP, the API key, rate limiting and deadlines: ``index_engine.data.coingecko_client``; schemas:
``coingecko_schema``; redaction and the coin-id rules: ``coingecko_guard``. Documentation: ``docs/coingecko.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from index_engine.codes import CASH_ID
from index_engine.data.coingecko_client import (
    MARKET_CHART,
    CoinGeckoClient,
    CoinGeckoError,
    MarketChart,
    MarketCoin,
    validate,
)
from index_engine.data.coingecko_guard import coin_id_problem, escape_nonprintable, one_line, shown
from index_engine.data.panel import MarketData

__all__ = ["CoinGeckoClient", "CoinGeckoError", "FetchSummary", "Progress", "fetch", "fetch_summary"]

#: ``progress(done, total, coin_id)``: before each coin (the one being processed) and once at the end ("").
Progress = Callable[[int, int, str], None]

log = logging.getLogger(__name__)

PARQUET_NAME = "coingecko_daily.parquet"
CATEGORIES_NAME = "coingecko_categories.csv"
MARKETS_NAME = "coingecko_markets.json"
RAW_DIR = "raw"
CACHE_FORMAT = 1
# CoinGecko category id -> project category; earlier entries win when a coin is in both lists.
CATEGORY_SOURCES = {"stablecoins": "stablecoin", "wrapped-tokens": "wrapped"}
MAX_CATEGORY_PAGES = 40
DEFAULT_RUN_TIMEOUT = 7200.0  # seconds for a whole fetch (requests and waits); a re-run resumes from the cache
_DAY_MS = 86_400_000
COLUMNS = ("date", "asset_id", "symbol", "name", "price_usd", "market_cap_usd", "volume_24h_usd")
_SERIES = (("prices", "price_usd"), ("market_caps", "market_cap_usd"), ("total_volumes", "volume_24h_usd"))


@dataclass(frozen=True)
class FetchSummary:
    """What one ``fetch`` did; ``market`` is the validated panel of the written Parquet file."""

    out_dir: Path
    parquet: Path
    categories: Path
    n_coins: int
    downloaded: int
    cached: int
    requests: int
    market: MarketData


def parse_days(days: str | int) -> str:
    """``"max"`` or a positive whole number of days, as the API's ``days`` parameter."""
    text = str(days).strip().lower()
    if text == "max" or (text.isdigit() and int(text) > 0):
        return "max" if text == "max" else str(int(text))
    raise ValueError(f"days must be 'max' or a positive whole number, got {days!r}")


def fetch(top: int, days: str | int, out_dir: str | Path, progress: Progress | bool | None = True, *,
          client: CoinGeckoClient | None = None, per_page: int = 250, refresh: bool = False,
          run_timeout: float | None = DEFAULT_RUN_TIMEOUT) -> Path:
    """Fetch the top ``top`` coins' daily history into ``out_dir`` and return ``out_dir``.

    ``progress``: a ``Progress`` callback, ``True`` to log progress (INFO), or ``False``/None.
    ``run_timeout``: seconds for all requests and waits together (None: no limit).
    Raises ``CoinGeckoError`` (one line: endpoint, coin, status or field) on HTTP errors other than
    429, exhausted retries or time limits, schema violations, or when the assembled table fails
    validation; ``ValueError`` for a bad ``top``, ``days`` or ``run_timeout``.
    """
    return fetch_summary(top, days, out_dir, progress, client=client, per_page=per_page, refresh=refresh,
                         run_timeout=run_timeout).out_dir


def fetch_summary(top: int, days: str | int, out_dir: str | Path, progress: Progress | bool | None = True, *,
                  client: CoinGeckoClient | None = None, per_page: int = 250, refresh: bool = False,
                  run_timeout: float | None = DEFAULT_RUN_TIMEOUT) -> FetchSummary:
    """``fetch`` returning a ``FetchSummary`` (counts, paths and the loaded ``MarketData``)."""
    if int(top) < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    days = parse_days(days)
    report = _log_progress if progress is True else (progress or None)
    out = Path(out_dir)
    raw = out / RAW_DIR
    raw.mkdir(parents=True, exist_ok=True)
    own = client is None
    client = client or CoinGeckoClient()
    try:
        with client.time_limit(run_timeout):
            coins = [_printable_text(c) for c in top_coins(client, int(top), per_page)]
            fetched_at = _now()
            _write_atomic(out / MARKETS_NAME, json.dumps(
                {"fetched_at": fetched_at, "vs_currency": "usd", "coins": [c.model_dump() for c in coins]}, indent=1))
            categories = category_map(client, {c.id for c in coins}, per_page)
            charts, downloaded = _market_charts(client, coins, days, raw, report, refresh)
        requests = client.requests
    finally:
        if own:
            client.close()
    cats_path = out / CATEGORIES_NAME
    lines = ["asset_id,category"] + [f"{_csv(k)},{v}" for k, v in sorted(categories.items())]
    _write_atomic(cats_path, "\n".join(lines) + "\n")
    parquet = out / PARQUET_NAME
    tmp = parquet.with_name(f".{parquet.name}.{os.getpid()}.tmp")
    try:
        try:
            frame = assemble(coins, charts)
            frame.write_parquet(tmp)
        except pl.exceptions.PolarsError as exc:
            raise CoinGeckoError(f"assembling {parquet} failed: {_first_part(str(exc))}") from None
        market = _load_checked(tmp, cats_path, parquet)  # an invalid table never replaces a good one
        os.replace(tmp, parquet)
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("wrote %s: %d coins, %d rows (%d downloaded, %d from cache)", parquet, len(coins), frame.height,
              downloaded, len(coins) - downloaded)
    return FetchSummary(out, parquet, cats_path, len(coins), downloaded, len(coins) - downloaded, requests, market)


# ---- steps ------------------------------------------------------------------------------------


def top_coins(client: CoinGeckoClient, top: int, per_page: int = 250) -> list[MarketCoin]:
    """The first ``top`` distinct coins of ``/coins/markets`` by market cap (pages of ``per_page``),
    without a coin whose id is ``cash`` (reserved for the cash stable sleeve; left out with a warning).

    Listing ends at a short page, or with a warning at a page that brings no coin not already seen
    (a server repeating a page would otherwise be asked for the next page forever)."""
    coins: list[MarketCoin] = []
    seen: set[str] = set()
    page = 1
    while len(coins) < top:
        batch = client.markets(page, per_page)
        new = [coin for coin in batch if coin.id not in seen]  # ranks can shift between pages: skip repeats
        for coin in new:
            seen.add(coin.id)
            if coin.id == CASH_ID:
                log.warning("CoinGecko coin id %r (%s) is reserved for the cash stable sleeve: left out of the "
                            "data (the next coin by market cap takes its place)", CASH_ID, one_line(coin.name, 80))
                continue
            coins.append(coin)
        if len(batch) < per_page:
            break
        if not new:
            log.warning("CoinGecko /coins/markets page %d repeats coins already listed (no new id): "
                        "stopping the listing at %d coins", page, len(coins))
            break
        page += 1
    if not coins:
        raise CoinGeckoError("CoinGecko /coins/markets (page 1): returned no coins")
    if len(coins) < top:
        log.warning("CoinGecko lists only %d coins (asked for %d)", len(coins), top)
    return coins[:top]


def category_map(client: CoinGeckoClient, coin_ids: set[str], per_page: int = 250) -> dict[str, str]:
    """``{coin_id: category}`` for the coins in ``coin_ids`` that are in a ``CATEGORY_SOURCES`` list."""
    out: dict[str, str] = {}
    for cat_id, category in CATEGORY_SOURCES.items():
        seen: set[str] = set()
        for page in range(1, MAX_CATEGORY_PAGES + 1):
            batch = client.category_ids(cat_id, page, per_page)
            new = set(batch) - seen
            seen |= new
            for coin_id in new & coin_ids:
                out.setdefault(coin_id, category)
            if len(batch) < per_page:
                break
            if not new:
                log.warning("CoinGecko category %s page %d repeats coins already listed (no new id): "
                            "stopping that list", cat_id, page)
                break
        else:
            log.warning("CoinGecko category %s: stopped after %d pages", cat_id, MAX_CATEGORY_PAGES)
    return out


def cache_path(raw: Path, coin_id: str) -> Path:
    """``raw/<coin_id>.json``; ``CoinGeckoError`` naming the id (escaped) if it is not a safe file name."""
    problem = coin_id_problem(coin_id)
    if problem:
        raise CoinGeckoError(f"coin id {shown(coin_id)} cannot be a cache file name: it {problem}")
    return raw / f"{coin_id}.json"


def _market_charts(client: CoinGeckoClient, coins: list[MarketCoin], days: str, raw: Path,
                   progress: Progress | None, refresh: bool) -> tuple[dict[str, MarketChart], int]:
    charts: dict[str, MarketChart] = {}
    downloaded = 0
    for done, coin in enumerate(coins):
        if progress:
            progress(done, len(coins), coin.id)
        path = cache_path(raw, coin.id)
        chart = None if refresh else _read_cache(path, coin.id, days, client)
        if chart is None:
            data, chart = client.market_chart(coin.id, days)
            envelope = {"format": CACHE_FORMAT, "coin_id": coin.id, "vs_currency": "usd", "days": days,
                        "interval": "daily", "fetched_at": _now(), "response": data}
            _write_atomic(path, json.dumps(envelope, separators=(",", ":")))
            downloaded += 1
        charts[coin.id] = chart
    if progress:
        progress(len(coins), len(coins), "")
    return charts, downloaded


def _log_progress(done: int, total: int, coin_id: str) -> None:
    log.info("market_chart %d/%d %s", done, total, coin_id)


def _read_cache(path: Path, coin_id: str, days: str, client: CoinGeckoClient) -> MarketChart | None:
    """The cached chart if ``path`` exists, parses, matches the request and validates; else None.
    A file holding the API key (written before responses were redacted) is fetched again."""
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        if client.leaks_key(text):
            log.warning("re-fetching %s: cache file %s contains the API key; it is replaced by a redacted copy",
                        coin_id, path)
            return None
        env = json.loads(text)
        if not isinstance(env, dict) or env.get("format") != CACHE_FORMAT or env.get("coin_id") != coin_id:
            raise ValueError("not a cache file of this coin")
        if env.get("days") != days or env.get("vs_currency") != "usd":
            log.info("re-fetching %s: cached with days=%s, asked for days=%s", coin_id, env.get("days"), days)
            return None
        return validate(MARKET_CHART, env.get("response"), f"cache {path.name}")
    except (ValueError, CoinGeckoError) as exc:  # json.JSONDecodeError is a ValueError
        log.warning("re-fetching %s: cache file %s is invalid (%s)", coin_id, path, one_line(str(exc)))
        return None


def assemble(coins: list[MarketCoin], charts: dict[str, MarketChart]) -> pl.DataFrame:
    """The long table: one row per (UTC day, coin) labelled by the day whose close the point is
    (a 00:00 UTC point closes the previous day); the last point of a day wins; cap 0 -> null."""
    frames = []
    for series, column in _SERIES:
        ids, ts, values = [], [], []
        for coin in coins:
            points = getattr(charts[coin.id], series)
            ids += [coin.id] * len(points)
            ts += [int(p[0]) for p in points]
            values += [p[1] for p in points]
        frame = (
            pl.DataFrame({"asset_id": ids, "ts": ts, column: values},
                         schema={"asset_id": pl.Utf8, "ts": pl.Int64, column: pl.Float64})
            # a point at 00:00 UTC of day D is the close of D − 1: label every point by the day whose
            # close it is (the instant just before it), and drop a last point that is not at midnight
            # (today's unfinished day, a live snapshot rather than a close)
            .filter(~((pl.col("ts") % _DAY_MS != 0) & (pl.col("ts") == pl.col("ts").max().over("asset_id"))))
            .with_columns(pl.from_epoch(pl.col("ts") - 1, time_unit="ms").dt.date().alias("date"))
            .sort("asset_id", "ts", maintain_order=True)
            .unique(["asset_id", "date"], keep="last", maintain_order=True)
            .select("asset_id", "date", column)
        )
        frames.append(frame)
    empty = [c.id for c in coins if not charts[c.id].prices]  # safe ids (checked by the schema)
    if empty:
        log.warning("no price history for %d coin(s): %s", len(empty), ", ".join(empty[:10]))
    long = frames[0]
    for other in frames[1:]:
        long = long.join(other, on=["asset_id", "date"], how="full", coalesce=True)
    meta = pl.DataFrame({"asset_id": [c.id for c in coins], "symbol": [c.symbol.upper() for c in coins],
                         "name": [c.name for c in coins]}, schema={"asset_id": pl.Utf8, "symbol": pl.Utf8,
                                                                  "name": pl.Utf8})
    # the ticker and name are CoinGecko's as of the fetch: observed on each coin's latest row only, so
    # that earlier rows are not labelled with a later ticker (outputs fall back to the asset_id there)
    latest = pl.col("date") == pl.col("date").max().over("asset_id")
    return (
        long.join(meta, on="asset_id", how="left")
        .with_columns(pl.when(pl.col("market_cap_usd") > 0).then(pl.col("market_cap_usd")).alias("market_cap_usd"),
                      pl.when(latest).then(pl.col("symbol")).alias("symbol"),
                      pl.when(latest).then(pl.col("name")).alias("name"))
        .sort("date", "asset_id")
        .select(COLUMNS)
    )


def _load_checked(path: Path, categories: Path, final: Path) -> MarketData:
    """Load ``path`` as ``MarketData`` (source named ``final``); a ``DataError`` becomes one line."""
    from index_engine.errors import DataError, DataQualityWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)  # kept in market.warnings
            market = MarketData.from_parquet(path, categories=categories)
    except (DataError, pl.exceptions.PolarsError) as exc:
        text = _first_part(str(exc).replace(str(path), str(final)))
        raise CoinGeckoError(f"assembled table {final} failed validation: {text}") from None
    return dataclasses.replace(market, source=str(final))


def _first_part(message: str, limit: int = 300) -> str:
    """A library message without the internals polars appends after a blank line, as one printable line."""
    head = message.strip().split("\n\n")[0]
    return one_line(" | ".join(line.strip() for line in head.splitlines() if line.strip()), limit)


def _printable_text(coin: MarketCoin) -> MarketCoin:
    """``coin`` with control characters (ANSI escapes, NUL, newlines…) in ``symbol`` / ``name`` escaped
    as in repr, with a warning: such text must never reach a terminal or a report as is."""
    fixed = {k: escape_nonprintable(getattr(coin, k)) for k in ("symbol", "name")}
    changed = {k: v for k, v in fixed.items() if v != getattr(coin, k)}
    for field, value in changed.items():
        log.warning("coin %s: %s has control characters; stored with them escaped: %s", coin.id, field,
                    one_line(value, 80))
    return coin.model_copy(update=changed) if changed else coin


# ---- small helpers ----------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _csv(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(ch in text for ch in ',"\n\r') else text


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, flushed to disk, then renamed: a crash leaves
    either the old file or the new one, never half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
