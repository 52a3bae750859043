"""``index-engine`` command line: ``run`` replays a config and writes its outputs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import polars as pl
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
        ("costs fee / platform / slippage / gas",
         f"{num(s['costs_fee'])} / {num(s['costs_platform_fee'])} / {num(s['costs_slippage'])} / {num(s['costs_gas'])}"),
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
    from backtest.io import check_output_dir, output_lock, write_run
    from index_engine.config import IndexConfig

    out_dir = check_output_dir(Path(out) if out else Path("runs") / Path(config).stem)  # before any computing
    _quiet_data_warnings()  # they are printed from the summary below
    t0 = time.perf_counter()
    with output_lock(out_dir):  # a second run into the same folder fails now, not after computing
        cfg = IndexConfig.from_yaml(config)
        overrides = {k: v for k, v in (("backtest.start", start), ("backtest.end", end)) if v}
        if overrides:
            cfg = cfg.with_overrides(overrides)
        market = load_market(cfg, data, categories)
        result = run_backtest(cfg, market)
        out_dir = write_run(result, out_dir, report=not no_report)
    console.print(_summary_table(result))
    for kind, w in result.summary["warnings"].items():
        console.print(f"[yellow]warning[/] {kind}: {w['message']}")
    console.print(f"{market!r}\nwrote {out_dir}/ in {time.perf_counter() - t0:.2f} s")


def _data_options(f):
    f = click.option("--categories", type=click.Path(dir_okay=False), help="Categories CSV (asset_id,category).")(f)
    f = click.option("--data", type=click.Path(dir_okay=False), help="Long market table (.parquet or .csv); default: the config's data section, else the embedded synthetic market.")(f)
    return f


def _quiet_data_warnings() -> None:
    import warnings

    from index_engine.errors import DataQualityWarning

    warnings.simplefilter("ignore", DataQualityWarning)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@_data_options
@click.option("--as-of", "as_of", help="Date (YYYY-MM-DD); default: the last date of the data.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def holdings(config, data, categories, as_of, as_json) -> None:
    """What the index holds at a date: constituents, weights, regime gauge, changes since the last rebalance."""
    import json

    from backtest.current import index_state
    from index_engine.config import IndexConfig

    _quiet_data_warnings()
    cfg = IndexConfig.from_yaml(config)
    state = index_state(cfg, load_market(cfg, data, categories), as_of)
    if as_json:
        click.echo(json.dumps(state.to_dict(), indent=2, allow_nan=False, default=str))
        return
    pct = lambda v: "–" if v is None else f"{v * 100:,.2f}%"  # noqa: E731
    gauge = (f"regime [bold]{state.regime}[/]: signal {state.signal:,.0f} vs threshold {state.threshold:,.0f} "
             f"({pct(state.distance)} away)") if state.distance is not None else f"regime [bold]{state.regime}[/] (signal undefined)"
    console.print(f"{cfg.name} as of {state.as_of} · NAV {state.nav:,.2f} · last trade {state.last_trade} · "
                  f"next rebalance {state.next_rebalance or 'next observation'}\n{gauge}")
    table = Table(title="constituents")
    for col in ("symbol", "asset_id", "target weight", "weight now", "price"):
        table.add_column(col, justify="right" if col not in ("symbol", "asset_id") else "left")
    for r in state.holdings.iter_rows(named=True):
        table.add_row(str(r["symbol"]), r["asset_id"], pct(r["target_weight"]), pct(r["weight"]), f"{r['price']:,.6g}")
    console.print(table)
    changes = Table(title=f"changes at {state.last_trade} vs {state.previous_trade}")
    for col in ("change", "symbol", "asset_id", "before", "after"):
        changes.add_column(col)
    for r in state.changes.filter(pl.col("change") != "reweight").iter_rows(named=True):
        changes.add_row(r["change"], str(r["symbol"]), r["asset_id"], pct(r["weight_before"]), pct(r["weight_after"]))
    n_rw = state.changes.filter(pl.col("change") == "reweight").height
    console.print(changes)
    console.print(f"{n_rw} constituents reweighted")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@_data_options
@click.option("--amount", type=float, help="USD to invest (buy) or to redeem (sell).")
@click.option("--side", type=click.Choice(["buy", "sell"]), default="buy", show_default=True)
@click.option("--max-slippage-bps", type=float, default=100.0, show_default=True, help="Slippage tolerance per order.")
@click.option("--holdings", "holdings_file", type=click.Path(dir_okay=False), help="Your holdings (CSV/JSON: asset_id, quantity) for a sell.")
@click.option("--as-of", "as_of", help="Quote at the close of this date; default: the last date of the data.")
@click.option("--json", "as_json", is_flag=True, help="Print the quote as one JSON object.")
def quote(config, data, categories, amount, side, max_slippage_bps, holdings_file, as_of, as_json) -> None:
    """Pre-trade quote: orders, fees, gas, estimated and maximum slippage, expected and minimum value."""
    from backtest.quote import quote as make_quote
    from backtest.quote import read_holdings
    from index_engine.config import IndexConfig

    _quiet_data_warnings()
    cfg = IndexConfig.from_yaml(config)
    held = read_holdings(holdings_file) if holdings_file else None
    q = make_quote(cfg, load_market(cfg, data, categories), amount, side, max_slippage_bps, held, as_of)
    if as_json:
        click.echo(q.to_json())
        return
    table = Table(title=f"{side} {cfg.name} at the close of {q.as_of}")
    for col in ("symbol", "side", "quantity", "ref. price", "notional", "fee", "platform", "est. slippage", "gas"):
        table.add_column(col, justify="left" if col in ("symbol", "side") else "right")
    for o in q.orders:
        table.add_row(o["symbol"], o["side"], f"{o['quantity']:,.8g}", f"{o['reference_price']:,.6g}", f"{o['notional']:,.2f}",
                      f"{o['exchange_fee']:,.2f}", f"{o['platform_fee']:,.2f}", f"{o['estimated_slippage']:,.2f}", f"{o['gas']:,.2f}")
    console.print(table)
    for label, value in (("amount", q.amount), ("platform fee", q.platform_fee), ("exchange fees", q.exchange_fee),
                         ("gas", q.gas), ("estimated slippage", q.estimated_slippage),
                         (f"maximum slippage ({max_slippage_bps:g} bps)", q.max_slippage),
                         ("expected value", q.expected_value), ("minimum expected value", q.min_expected_value)):
        console.print(f"{label:>34}: {value:>16,.2f} USD")
    for s in q.skipped:
        console.print(f"[yellow]skipped[/] {s['asset_id']}: {s['reason']} (requested {s['requested_notional']:,.2f})")
    for w in q.warnings:
        console.print(f"[yellow]warning[/] {w}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--grid", "grid_path", required=True, type=click.Path(dir_okay=False), help="GRID.yaml: dotted config paths → lists of values.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (sweep.parquet, ranking.md).")
@_data_options
@click.option("--workers", type=int, help="Local processes (default: one per CPU; 1 = no subprocesses).")
@click.option("--scheduler", help="Dask distributed scheduler address, e.g. tcp://host:8786.")
@click.option("--rank-by", default="sharpe", show_default=True, help="Statistic for the ranking.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def sweep(config, grid_path, out, data, categories, workers, scheduler, rank_by, no_progress) -> None:
    """Run the cartesian product of GRID's values over CONFIG; one row of statistics per config."""
    from backtest.io import check_output_dir, output_lock
    from backtest.sweep import check_rank_key, load_grid, ranked, run_sweep, write_sweep
    from index_engine.config import IndexConfig

    out_dir = check_output_dir(out, kind="sweep")  # before any computing
    _quiet_data_warnings()
    t0 = time.perf_counter()
    with output_lock(out_dir):  # a second sweep into the same folder fails now, not after computing
        cfg = IndexConfig.from_yaml(config)
        grid = load_grid(grid_path)
        check_rank_key(rank_by)
        market = load_market(cfg, data, categories)
        frame = run_sweep(cfg, market, grid, workers=workers, scheduler=scheduler, progress=not no_progress)
        out_dir = write_sweep(frame, out_dir, grid, rank_by)
    best = ranked(frame, rank_by, 10)
    table = Table(title=f"best of {frame.height} configs by {rank_by}")
    cols = [*grid, "cagr", "sharpe", "max_drawdown", "costs_total"]
    for col in cols:
        table.add_column(col)
    for r in best.select(cols).iter_rows():
        table.add_row(*("–" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)) for v in r))
    console.print(table)
    elapsed = time.perf_counter() - t0
    console.print(f"wrote {out_dir}/ — {frame.height} configs in {elapsed:.1f} s ({frame.height / elapsed * 60:,.0f} per minute)")


def _attach_subcommands() -> None:
    from backtest.report import report_cmd
    from backtest.cli.data import data_cmd

    main.add_command(data_cmd)
    main.add_command(report_cmd)


_attach_subcommands()


def entrypoint() -> None:
    """Run the CLI, turning known input errors into one clear line and exit code 2."""
    from index_engine.errors import IndexEngineError

    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (IndexEngineError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    entrypoint()
