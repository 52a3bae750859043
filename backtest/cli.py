"""``index-engine`` command line: ``run`` replays a config and writes its outputs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console(stderr=False)


def load_market(cfg, data: str | None, categories: str | None):
    """The market for a run: ``--data`` (Parquet or CSV), else ``data.path`` from the config, else
    the embedded synthetic market described by ``data.synthetic``."""
    from index_engine.data.panel import MarketData

    path = data or cfg.data.path
    cats = categories or cfg.data.categories
    if path is None:
        if categories:
            raise click.UsageError("--categories needs --data (the synthetic market has its own categories)")
        s = cfg.data.synthetic
        return MarketData.synthetic(seed=s.seed, n_assets=s.n_assets, days=s.days, start=s.start,
                                    n_stablecoins=s.n_stablecoins)
    suffix = Path(path).suffix.lower()
    scores = tuple(cfg.universe.min_scores)
    if suffix == ".csv":
        return MarketData.from_csv(path, categories=cats, scores=scores)
    if suffix in (".parquet", ".pq"):
        return MarketData.from_parquet(path, categories=cats, scores=scores)
    raise click.BadParameter(f"{path}: expected a .parquet or .csv file", param_hint="--data")


def _summary_table(result) -> Table:
    s = result.stats
    table = Table(title=f"{result.config.name}: {s['start']} → {s['end']}", show_header=False)
    pct = lambda v: "–" if v is None else f"{v * 100:,.2f}%"  # noqa: E731
    num = lambda v: "–" if v is None else f"{v:,.2f}"  # noqa: E731
    rows = [
        ("final NAV", num(s["final_nav"])), ("total return", pct(s["total_return"])), ("CAGR", pct(s["cagr"])),
        ("volatility", pct(s["volatility"])), ("Sharpe", num(s["sharpe"])), ("Sortino", num(s["sortino"])),
        ("max drawdown", f"{pct(s['max_drawdown'])} ({s['max_drawdown_peak']} → {s['max_drawdown_trough']})"),
        ("Calmar", num(s["calmar"])), ("turnover / year", pct(s["turnover_annualised"])),
        ("costs fee / slippage / gas", f"{num(s['costs_fee'])} / {num(s['costs_slippage'])} / {num(s['costs_gas'])}"),
        ("regime switches", str(s["n_regime_switches"])), ("time invested", pct(s["time_invested"])),
        ("transactions", f"{s['n_transactions']:,}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="index-engine")
def main() -> None:
    """Rules-based crypto indexes: compute them point in time and replay them over history."""


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--data", type=click.Path(dir_okay=False), help="Long market table (.parquet or .csv); default: the config's data section, else the embedded synthetic market.")
@click.option("--categories", type=click.Path(dir_okay=False), help="Categories CSV (asset_id,category).")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default runs/<config file stem>).")
@click.option("--start", help="Override backtest.start (YYYY-MM-DD).")
@click.option("--end", help="Override backtest.end (YYYY-MM-DD).")
@click.option("--no-report", is_flag=True, help="Skip report.html.")
def run(config, data, categories, out, start, end, no_report) -> None:
    """Replay CONFIG and write nav/holdings/transactions Parquet, summary.json and report.html."""
    from backtest import run_backtest
    from index_engine.config import IndexConfig

    import warnings

    from index_engine.data.loaders import DataQualityWarning

    warnings.simplefilter("ignore", DataQualityWarning)  # they are printed from the summary below
    t0 = time.perf_counter()
    cfg = IndexConfig.from_yaml(config)
    overrides = {k: v for k, v in (("backtest.start", start), ("backtest.end", end)) if v}
    if overrides:
        cfg = cfg.with_overrides(overrides)
    market = load_market(cfg, data, categories)
    result = run_backtest(cfg, market)
    out_dir = result.write(Path(out) if out else Path("runs") / Path(config).stem, report=not no_report)
    console.print(_summary_table(result))
    for kind, w in result.summary["warnings"].items():
        console.print(f"[yellow]warning[/] {kind}: {w['message']}")
    console.print(f"{market!r}\nwrote {out_dir}/ in {time.perf_counter() - t0:.2f} s")


def _attach_subcommands() -> None:
    from index_engine.data.coingecko import data_cmd

    main.add_command(data_cmd)


_attach_subcommands()


def entrypoint() -> None:
    """Run the CLI, turning known input errors into one clear line and exit code 2."""
    from backtest.engine import BacktestError
    from index_engine.config import ConfigError
    from index_engine.plan import PlanError

    from backtest.costs import CostModelError
    from index_engine.data.coingecko_client import CoinGeckoError

    errors: tuple[type[BaseException], ...] = (
        ConfigError, PlanError, BacktestError, CostModelError, CoinGeckoError, FileNotFoundError,
    )
    try:
        from index_engine.data.loaders import DataError

        errors += (DataError,)
    except ImportError:  # pragma: no cover
        pass
    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except errors as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    entrypoint()
