"""``index-engine run CONFIG``: replay an index and write its run folder."""

from __future__ import annotations

import time
from pathlib import Path

import click

from backtest.cli.common import (
    announce_compilation,
    clean,
    console,
    data_options,
    labelled,
    load_config,
    load_market,
    quiet_data_warnings,
)


def summary_rows(stats: dict) -> list[tuple[str, str]]:
    """The statistics shown after a run, formatted with ``backtest.formatting``."""
    from backtest.formatting import integer, num, pct, plural

    s = stats
    return [
        ("final NAV", num(s["final_nav"])), ("total return", pct(s["total_return"], 2)), ("CAGR", pct(s["cagr"], 2)),
        ("volatility", pct(s["volatility"], 2)), ("Sharpe", num(s["sharpe"])), ("Sortino", num(s["sortino"])),
        ("max drawdown", f"{pct(s['max_drawdown'], 2)} ({s['max_drawdown_peak']} → {s['max_drawdown_trough']})"),
        ("Calmar", num(s["calmar"])), ("turnover / year", pct(s["turnover_annualised"], 2)),
        ("costs fee / platform / slippage / gas",
         " / ".join(num(s[k]) for k in ("costs_fee", "costs_platform_fee", "costs_slippage", "costs_gas"))),
        ("regime switches", plural(s["n_regime_switches"], "switch")), ("time invested", pct(s["time_invested"], 2)),
        ("transactions", integer(s["n_transactions"])),
    ]


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@data_options
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default runs/<config file stem>).")
@click.option("--start", help="Override backtest.start (YYYY-MM-DD).")
@click.option("--end", help="Override backtest.end (YYYY-MM-DD).")
@click.option("--no-report", is_flag=True, help="Skip report.html.")
def run(config, data, categories, out, start, end, no_report) -> None:
    """Replay CONFIG and write nav/holdings/transactions Parquet, summary.json and report.html."""
    from rich.table import Table

    from backtest.cli.common import text
    from backtest.engine import run_backtest
    from backtest.io import check_output_dir, output_lock, write_run
    from index_engine.extras import has_extra

    out_dir = check_output_dir(Path(out) if out else Path("runs") / Path(config).stem)  # before any computing
    report = not no_report and has_extra("report")  # without jinja2/plotly: every file but report.html
    quiet_data_warnings()  # they are printed from the summary below
    t0 = time.perf_counter()
    with output_lock(out_dir):  # a second run into the same folder fails now, not after computing
        overrides = {k: v for k, v in (("backtest.start", start), ("backtest.end", end)) if v}
        cfg = load_config(config, overrides)
        market = load_market(cfg, data, categories)
        announce_compilation()
        result = run_backtest(cfg, market)
        out_dir = write_run(result, out_dir, report=report)
    out = console()
    s = result.stats
    table = Table(title=text(f"{cfg.name}: {s['start']} → {s['end']}"), show_header=False)
    for k, v in summary_rows(s):
        table.add_row(k, v)
    out.print(table)
    for kind, w in result.summary["warnings"].items():
        out.print(labelled("warning", "yellow", f"{kind}: {w['message']}"))
    if not (report or no_report):
        out.print(text("report.html skipped: install index-engine[report]", "yellow"))
    out.print(text(f"{market!r}\nwrote {clean(out_dir)}/ in {time.perf_counter() - t0:.2f} s"))
