"""``index-engine quote CONFIG``: what buying or redeeming the index costs now."""

from __future__ import annotations

import click

from backtest.cli.common import console, data_options, labelled, load_config, load_market, quiet_data_warnings, text


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@data_options
@click.option("--amount", type=float, help="USD to invest (buy) or to redeem (sell).")
@click.option("--side", type=click.Choice(["buy", "sell"]), default="buy", show_default=True)
@click.option("--max-slippage-bps", type=float, default=100.0, show_default=True, help="Slippage tolerance per order.")
@click.option("--holdings", "holdings_file", type=click.Path(dir_okay=False),
              help="Your holdings (CSV/JSON/Parquet: asset_id, quantity) for a sell.")
@click.option("--as-of", "as_of", help="Quote at the close of this date; default: the last date of the data.")
@click.option("--json", "as_json", is_flag=True, help="Print the quote as one JSON object.")
def quote(config, data, categories, amount, side, max_slippage_bps, holdings_file, as_of, as_json) -> None:
    """Pre-trade quote: orders, fees, gas, estimated and maximum slippage, expected and minimum value."""
    from rich.table import Table

    from backtest.current import parse_as_of
    from backtest.formatting import num, sig
    from backtest.quote import quote as make_quote
    from backtest.quote import read_holdings

    quiet_data_warnings()
    day = parse_as_of(as_of)  # bad flags and a bad holdings file fail before anything is loaded
    cfg = load_config(config)
    held = read_holdings(holdings_file) if holdings_file else None
    q = make_quote(cfg, load_market(cfg, data, categories), amount, side, max_slippage_bps, held, day)
    if as_json:
        click.echo(q.to_json())
        return
    out = console()
    table = Table(title=text(f"{side} {cfg.name} at the close of {q.as_of}"))
    for col in ("symbol", "side", "quantity", "ref. price", "notional", "fee", "platform", "est. slippage", "gas"):
        table.add_column(col, justify="left" if col in ("symbol", "side") else "right")
    for o in q.orders:
        table.add_row(text(o["symbol"]), o["side"], sig(o["quantity"], 8), sig(o["reference_price"], 6),
                      num(o["notional"]), num(o["exchange_fee"]), num(o["platform_fee"]),
                      num(o["estimated_slippage"]), num(o["gas"]))
    out.print(table)
    for label, value in (("amount", q.amount), ("platform fee", q.platform_fee), ("exchange fees", q.exchange_fee),
                         ("gas", q.gas), ("estimated slippage", q.estimated_slippage),
                         (f"maximum slippage ({max_slippage_bps:g} bps)", q.max_slippage),
                         ("expected value", q.expected_value), ("minimum expected value", q.min_expected_value)):
        out.print(f"{label:>34}: {num(value):>16} USD")
    for s in q.skipped:
        out.print(labelled("skipped", "yellow",
                           f"{s['asset_id']}: {s['reason']} (requested {num(s['requested_notional'])})"))
    for w in q.warnings:
        out.print(labelled("warning", "yellow", w))
