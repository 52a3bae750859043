"""``index-engine sweep CONFIG --grid GRID.yaml --out DIR``: a grid of configs, one row of statistics each."""

from __future__ import annotations

import time

import click

from backtest.cli.common import (
    announce_compilation,
    clean,
    console,
    data_options,
    load_config,
    load_market,
    quiet_data_warnings,
    text,
)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--grid", "grid_path", required=True, type=click.Path(dir_okay=False),
              help="GRID.yaml: dotted config paths → lists of values.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Output folder (sweep.parquet, ranking.md).")
@data_options
@click.option("--workers", type=click.IntRange(min=1),
              help="Local processes (default: one per CPU; 1 = no subprocesses).")
@click.option("--scheduler", help="Dask distributed scheduler address, e.g. tcp://host:8786.")
@click.option("--rank-by", default="sharpe", show_default=True, help="Statistic for the ranking.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--max-configs", type=click.IntRange(min=1), default=20_000, show_default=True,  # sweep.MAX_CONFIGS
              help="Refuse a grid with more combinations than this (before anything runs).")
@click.option("--write-best", type=click.IntRange(min=1), metavar="K",
              help="Also re-run the K best configs by --rank-by in full and write each as a run folder with its "
                   "report under OUT/best/ (needs index-engine[report]).")
def sweep(config, grid_path, out, data, categories, workers, scheduler, rank_by, no_progress, max_configs,
          write_best) -> None:
    """Run the cartesian product of GRID's values over CONFIG; one row of statistics per config."""
    from rich.table import Table

    from backtest.formatting import sig
    from backtest.io import check_output_dir, output_lock
    from backtest.sweep import check_rank_key, connect_scheduler, expand, failures, load_grid, ranked, run_sweep
    from backtest.sweep_best import best_lines, write_sweep_with_best
    from index_engine.extras import require_extra

    out_dir = check_output_dir(out, kind="sweep")  # before any computing
    if scheduler is not None:
        require_extra("sweep", "sweep --scheduler")
    if write_best:
        require_extra("report", "sweep --write-best")
    quiet_data_warnings()
    t0 = time.perf_counter()
    with output_lock(out_dir):  # a second sweep into the same folder fails now, not after computing
        cfg = load_config(config)
        grid = load_grid(grid_path)
        check_rank_key(rank_by)
        expand(cfg, grid, clean(grid_path), max_configs)  # every combination valid, before loading data
        client = None if scheduler is None else connect_scheduler(scheduler)  # bounded wait, before loading
        try:
            market = load_market(cfg, data, categories)
            announce_compilation()
            frame = run_sweep(cfg, market, grid, workers=workers, scheduler=client, progress=not no_progress,
                              max_configs=max_configs)
        finally:
            if client is not None:
                client.close()
        failed = failures(frame)
        if failed.height == frame.height:
            raise SweepFailed(failed, list(grid))
        out_dir = write_sweep_with_best(frame, out_dir, grid, rank_by, write_best, cfg, market)
    best = ranked(frame, rank_by, 10)
    table = Table(title=f"best of {frame.height} configs by {rank_by}")
    cols = [*grid, "cagr", "sharpe", "max_drawdown", "costs_total"]
    for col in cols:
        table.add_column(text(col))
    for r in best.select(cols).iter_rows():
        table.add_row(*(text(sig(v, 4) if isinstance(v, float) else ("–" if v is None else v)) for v in r))
    out_ = console()
    out_.print(table)
    elapsed = time.perf_counter() - t0
    out_.print(text(f"wrote {clean(out_dir)}/ — {frame.height} configs in {elapsed:.1f} s "
                    f"({frame.height / elapsed * 60:,.0f} per minute)"))
    for line in best_lines(out_dir):
        out_.print(text(line))
    if failed.height:
        out_.print(text(f"warning: {failed.height} of {frame.height} combinations could not run (column error of "
                        f"sweep.parquet):\n{_failure_lines(failed, list(grid))}"))


def _failure_lines(failed, keys: list[str], limit: int = 5) -> str:
    lines = [f"  {dict(zip(keys, r[:-1]))}: {r[-1]}" for r in failed.select(*keys, "error").head(limit).iter_rows()]
    more = failed.height - limit
    return "\n".join(lines + ([f"  … and {more} more"] if more > 0 else []))


class SweepFailed(click.ClickException):
    """Every combination of the sweep failed: nothing is written; the first failures are named."""

    def __init__(self, failed, keys: list[str]) -> None:
        super().__init__(f"every combination of the sweep failed; nothing was written:\n{_failure_lines(failed, keys)}")
