"""``index-engine compare RUN_DIR RUN_DIR… [--out DIR]``: several finished runs side by side."""

from __future__ import annotations

import click


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", "-o", type=click.Path(file_okay=False),
              help="Write DIR/compare.html, compare.md and compare.csv (a compare folder, replaced as a whole).")
def compare(run_dirs: tuple[str, ...], out: str | None) -> None:
    """Print the statistics of RUN_DIRs side by side and their relative statistics against the first;
    with --out, also write an offline page (NAVs and drawdowns overlaid) and the tables."""
    from rich.table import Table

    from backtest.cli.common import clean, console, text
    from backtest.io import output_lock, read_run
    from index_engine.extras import require_extra

    if len(run_dirs) < 2:
        raise click.UsageError("give at least two run folders to compare")
    target = None
    if out is not None:
        require_extra("report", "compare.html")
        target = check_compare_target(out)  # before anything is read
    runs = [read_run(d) for d in run_dirs]
    from backtest.report.compare import compare_runs, csv_text, markdown, relative_rows, render_compare, statistics_rows

    c = compare_runs(runs)
    shown = console()
    for title, head, rows in (("statistics", c.labels, statistics_rows(c)),
                              (f"relative statistics against {c.labels[0]}", c.labels[1:], relative_rows(c))):
        table = Table(title=text(title))
        table.add_column("")
        for label in head:
            table.add_column(text(label), justify="right")
        for row in rows:
            table.add_row(text(row["label"]), *(text(cell) for cell in row["cells"]))
        shown.print(table)
    if target is not None:
        from backtest.io import write_compare_dir

        with output_lock(target):
            folder = write_compare_dir({"compare.html": render_compare(c), "compare.md": markdown(c),
                                        "compare.csv": csv_text(c)}, target)
        shown.print(text(f"wrote {clean(folder)}/ (compare.html, compare.md, compare.csv)"))


def check_compare_target(out: str):
    """The resolved --out folder: not inside a run, sweep, export or compare folder (each holds only
    its own files), and empty, missing or an earlier compare folder (``check_output_dir``)."""
    import os
    from pathlib import Path

    from backtest import manifest as mf
    from backtest.io import check_output_dir

    dest = Path(os.path.realpath(os.path.abspath(os.path.expanduser(out))))
    for folder in dest.parents:
        manifest = mf.parse(folder) if (folder / mf.MANIFEST).is_file() else None
        if manifest is not None:
            raise mf.folder_error(out, None, f"is inside {folder}, which is a {manifest['kind']} folder (it holds "
                                  "only its own files)", "write the comparison outside it")
    return check_output_dir(dest, kind="compare")
