"""``index-engine export RUN_DIR --format csv|xlsx [--out DIR]``: a run's tables as CSV files or one workbook."""

from __future__ import annotations

import click


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True,
              help="csv: one file per table; xlsx: run.xlsx with a sheet per table (needs index-engine[export]).")
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Export folder (default <RUN_DIR>-<format> beside the run; never inside it).")
def export(run_dir: str, fmt: str, out: str | None) -> None:
    """Write every table of the finished run RUN_DIR (verified first) and its statistics as CSV or Excel."""
    from backtest.cli.common import clean
    from backtest.export import export_run

    folder = export_run(run_dir, fmt, out)
    names = sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")
    click.echo(f"wrote {clean(folder)}/ ({', '.join(names)})")
