"""``index-engine report RUN_DIR``: write a run's report.html again, from its verified files."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Write here instead of RUN_DIR/report.html.")
def report(run_dir: str, out: str | None) -> None:
    """Re-render RUN_DIR/report.html from the outputs of a finished run (refuses a damaged or foreign folder)."""
    from backtest.cli.common import clean
    from backtest.io import render_run_dir

    path = render_run_dir(run_dir, out)
    click.echo(f"wrote {clean(path)} ({path.stat().st_size / 1e6:.1f} MB)")
