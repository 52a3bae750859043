"""``index-engine holdings CONFIG``: what the index holds at a date."""

from __future__ import annotations

import click

from backtest.cli.common import console, data_options, load_config, load_market, quiet_data_warnings, text


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@data_options
@click.option("--as-of", "as_of", help="Date (YYYY-MM-DD); default: the last date of the data.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def holdings(config, data, categories, as_of, as_json) -> None:
    """What the index holds at a date: constituents, weights, regime gauge, changes since the last rebalance."""
    import json

    import polars as pl
    from rich.table import Table

    from backtest.current import index_state, parse_as_of
    from backtest.formatting import num, pct, plural, sig

    quiet_data_warnings()
    day = parse_as_of(as_of)  # a bad date fails before anything is loaded
    cfg = load_config(config)
    state = index_state(cfg, load_market(cfg, data, categories), day)
    if as_json:
        click.echo(json.dumps(state.to_dict(), indent=2, allow_nan=False, default=str))
        return
    out = console()
    lines = [f"regime {state.regime}" + (f" (risk share {pct(state.risk_share, 1)})" if state.regime == "partial"
                                        else "") + ("" if state.signals else " (no regime filter)")]
    for g in state.signals:
        fmt = (lambda v: pct(v, 1)) if g.unit == "share" else (lambda v: num(v, 0))
        where = ("undefined (window not filled)" if g.distance is None else
                 f"{fmt(g.value)} vs threshold {fmt(g.threshold)} ({pct(g.distance, 2)} away; turns {g.turns})")
        lines.append(f"  {g.name} [{g.vote}]: {g.what}, {g.against}: {where}")
    gauge = "\n".join(lines)
    out.print(text(f"{cfg.name} as of {state.as_of} · NAV {num(state.nav)} · last trade {state.last_trade} · "
                   f"next rebalance {state.next_rebalance or 'next observation'}\n{gauge}"))
    table = Table(title="constituents")
    for col in ("symbol", "asset_id", "target weight", "weight now", "price"):
        table.add_column(col, justify="right" if col not in ("symbol", "asset_id") else "left")
    for r in state.holdings.iter_rows(named=True):
        table.add_row(text(r["symbol"]), text(r["asset_id"]), pct(r["target_weight"], 2), pct(r["weight"], 2),
                      sig(r["price"], 6))
    out.print(table)
    changes = Table(title=text(f"changes at {state.last_trade} vs {state.previous_trade}"))
    for col in ("change", "symbol", "asset_id", "before", "after"):
        changes.add_column(col)
    for r in state.changes.filter(pl.col("change") != "reweight").iter_rows(named=True):
        changes.add_row(r["change"], text(r["symbol"]), text(r["asset_id"]), pct(r["weight_before"], 2),
                        pct(r["weight_after"], 2))
    out.print(changes)
    out.print(plural(state.changes.filter(pl.col("change") == "reweight").height, "constituent") + " reweighted")
