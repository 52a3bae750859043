"""``index-engine data fetch``: the click command over ``index_engine.data.coingecko`` (docs/coingecko.md).

The library reports progress through a plain callback; the rich progress bar lives here, and the
coin id it shows is escaped with ``rich.markup.escape``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from index_engine.data.coingecko import fetch_summary, parse_days
from index_engine.data.coingecko_client import CoinGeckoClient

_LOGGERS = ("index_engine.data.coingecko", "index_engine.data.coingecko_client")


class _EchoHandler(logging.Handler):
    """Log records to the current stderr (looked up at emit time, so CliRunner capture works)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _cli_logging() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
            logger.addHandler(_EchoHandler(level=logging.INFO))
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)


class ProgressBar:
    """A rich progress bar on stderr fed by the library's ``progress(done, total, coin_id)`` callback;
    the coin id is markup-escaped, so ``[bold]`` is shown as typed."""

    def __init__(self, enabled: bool, console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.bar = Progress(*columns, console=console or Console(stderr=True), disable=not enabled)
        self.task = None

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int, coin_id: str) -> None:
        from rich.markup import escape

        if self.task is None:
            self.task = self.bar.add_task("market_chart", total=total)
        label = f"market_chart {escape(coin_id)}" if coin_id else "market_chart"
        self.bar.update(self.task, completed=done, total=total, description=label)


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
def fetch_cmd(top: int, days: str, out: str, no_progress: bool, refresh: bool, min_interval: float | None) -> None:
    """Download the top coins' daily USD history from CoinGecko into OUT (resumable).

    The API key is read from $COINGECKO_PRO_API_KEY (Pro API) or $COINGECKO_API_KEY (Demo key).
    """
    try:
        days = parse_days(days)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--days") from None
    _cli_logging()
    with CoinGeckoClient(min_interval=min_interval) as client, ProgressBar(not no_progress) as bar:
        s = fetch_summary(top, days, Path(out), progress=bar, client=client, refresh=refresh)
    m = s.market
    click.echo(f"wrote {s.parquet} and {s.categories}: {s.n_coins} coins ({s.downloaded} downloaded, "
               f"{s.cached} from cache, {s.requests} requests), {m.n_dates} days "
               f"{m.dates[0]} .. {m.dates[-1]}" if m.n_dates else f"wrote {s.parquet}")
    for w in m.warnings:
        click.echo(f"warning {w.kind}: {w.message}", err=True)
