"""``index-engine data fetch``: the click command over ``index_engine.data.coingecko`` (docs/coingecko.md).

Everything that comes from the server (ids, names, error bodies) is printed literally: through
``click.echo`` (no markup), and escaped with ``rich.markup.escape`` in the progress bar.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from backtest.progress import ProgressBar
from index_engine.data.coingecko import DEFAULT_RUN_TIMEOUT, fetch_summary, parse_days
from index_engine.data.coingecko_client import DEFAULT_MAX_WAIT, DEFAULT_REQUEST_TIMEOUT, CoinGeckoClient
from index_engine.data.coingecko_guard import one_line
from index_engine.errors import CoinGeckoError

_LOGGERS = ("index_engine.data.coingecko", "index_engine.data.coingecko_client")


class _EchoHandler(logging.Handler):
    """Log records to the current stderr (looked up at emit time, so CliRunner capture works)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {one_line(record.getMessage(), 1000)}", err=True)


def _cli_logging() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
            logger.addHandler(_EchoHandler(level=logging.INFO))
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)


def _fail(message: str) -> None:
    """``error: <message>`` as one literal line on stderr, exit code 2 (as every IndexEngineError)."""
    click.echo(f"error: {one_line(message, 1000)}", err=True)
    sys.exit(2)


@click.group(name="data")
def data_cmd() -> None:
    """Fetch market data into the long format (see docs/coingecko.md)."""


@data_cmd.command("fetch")
@click.option("--top", type=click.IntRange(min=1), default=300, show_default=True,
              help="Number of coins by market cap.")
@click.option("--days", default="max", show_default=True, help="History length: 'max' or a number of days.")
@click.option("--out", type=click.Path(file_okay=False), default="data", show_default=True, help="Output folder.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--refresh", is_flag=True, help="Download every market chart again, ignoring the cache.")
@click.option("--min-interval", type=click.FloatRange(min=0), default=None,
              help="Seconds between requests (default by plan: pro 0.12, demo 2, keyless 6).")
@click.option("--max-wait", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_WAIT, show_default=True,
              help="Longest single wait in seconds (Retry-After, backoff); a server asking for more fails the run.")
@click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_REQUEST_TIMEOUT,
              show_default=True, help="Seconds for one request as a whole (connect, headers and body).")
@click.option("--run-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_RUN_TIMEOUT,
              show_default=True, help="Seconds for the whole fetch; a re-run resumes from the cache.")
def fetch_cmd(top: int, days: str, out: str, no_progress: bool, refresh: bool, min_interval: float | None,
              max_wait: float, request_timeout: float, run_timeout: float) -> None:
    """Download the top coins' daily USD history from CoinGecko into OUT (resumable).

    The API key is read from $COINGECKO_PRO_API_KEY (Pro API) or $COINGECKO_API_KEY (Demo key).
    """
    try:
        days = parse_days(days)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--days") from None
    for hint, value in (("--max-wait", max_wait), ("--request-timeout", request_timeout),
                        ("--run-timeout", run_timeout)):
        if not value > 0:  # NaN passes click's range check
            raise click.BadParameter(f"{value} is not a positive number of seconds", param_hint=hint)
    if min_interval is not None and min_interval > max_wait:
        raise click.BadParameter(f"{min_interval:g} s is more than --max-wait ({max_wait:g} s)",
                                 param_hint="--min-interval")
    try:
        client = CoinGeckoClient(min_interval=min_interval, max_wait=max_wait, request_timeout=request_timeout)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _cli_logging()
    try:
        with client, ProgressBar("market_chart", enabled=not no_progress) as bar:
            s = fetch_summary(top, days, Path(out), progress=bar, client=client, refresh=refresh,
                              run_timeout=run_timeout)
    except CoinGeckoError as exc:
        _fail(str(exc))
    except OSError as exc:  # e.g. OUT not writable, disk full
        _fail(f"cannot write in {out}: {exc.strerror or type(exc).__name__}"
              + (f" ({exc.filename})" if exc.filename else ""))
    m = s.market
    click.echo(f"wrote {s.parquet} and {s.categories}: {s.n_coins} coins ({s.downloaded} downloaded, "
               f"{s.cached} from cache, {s.requests} requests), {m.n_dates} days "
               f"{m.dates[0]} .. {m.dates[-1]}" if m.n_dates else f"wrote {s.parquet}")
    for w in m.warnings:
        click.echo(f"warning {w.kind}: {one_line(w.message, 1000)}", err=True)
