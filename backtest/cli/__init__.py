"""``index-engine``: the command line. One module per command, each loaded only when it runs.

``index-engine --help`` imports click alone (no numba, no engine); a command imports what it needs
inside its body. ``entrypoint`` turns every deliberate error (``IndexEngineError``) into one literal
line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import click

#: command name → ("module:attribute" loaded on first use, one-line help shown by --help)
COMMANDS = {
    "run": ("backtest.cli.run:run", "Replay an index and write its run folder (Parquet, summary, report)."),
    "holdings": ("backtest.cli.holdings:holdings", "What the index holds at a date, the regime gauge, recent changes."),
    "quote": ("backtest.cli.quote:quote", "Pre-trade quote: orders, fees, gas, slippage, expected value."),
    "sweep": ("backtest.cli.sweep:sweep", "Run a grid of configs; one row of statistics each, ranked."),
    "report": ("backtest.cli.report:report", "Write a run's report.html again from its verified files."),
    "export": ("backtest.cli.export:export", "Write a run's tables as CSV files or one Excel workbook."),
    "compare": ("backtest.cli.compare:compare",
                "Several runs side by side: statistics, relative statistics, a page."),
    "data": ("backtest.cli.data:data_cmd", "Fetch market data into the long format (CoinGecko)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when they are used (or listed in --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The command names, in ``COMMANDS`` order."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command ``cmd_name`` (None for an unknown name)."""
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from ``COMMANDS`` without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="index-engine")
def main() -> None:
    """Rules-based crypto indexes: compute them point in time and replay them over history."""


def entrypoint() -> None:
    """Run the CLI, turning known input errors into one clear line and exit code 2."""
    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - only the engine's own errors are shown as one line
        from index_engine.errors import IndexEngineError

        if not isinstance(exc, (IndexEngineError, FileNotFoundError)):
            raise
        from backtest.cli.common import console, labelled

        console(stderr=True).print(labelled("error:", "red", exc))
        sys.exit(2)


if __name__ == "__main__":
    entrypoint()
