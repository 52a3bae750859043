"""``sweep --write-best K``: the K best configs of a sweep, re-run in full and written as run folders.

After a sweep, the K best rows by the ranking statistic (never a row with an ``error``, nor one
whose statistic is null) are re-run with ``run_backtest`` (benchmarks and gross level included)
and written inside the sweep folder as ordinary run folders with their report::

    sweep/
      sweep.parquet  ranking.md  best.json  manifest.json
      best/01_<label>/  best/02_<label>/ ...   (nav.parquet, …, report.html, manifest.json)

``best.json`` records, for each, its rank, folder, swept values, statistics and resolved config;
ranking.md gains a table of them. Everything is built inside the sweep's work folder, so the whole
sweep folder (these runs included) appears at once or not at all; the sweep's manifest covers
``best/`` as one folder entry (``backtest.manifest.tree_entry``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from backtest.sweep import DESIGN_COLUMN, expand, grid_size, ranked, ranking_markdown, write_sweep
from index_engine.config import IndexConfig
from index_engine.data.panel import MarketData
from index_engine.errors import IndexEngineError
from index_engine.extras import require_extra
from index_engine.methodology import Methodology, split

BEST, BEST_JSON = "best", "best.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_ROW = "__sweep_row"


def write_sweep_with_best(frame: pl.DataFrame, out_dir: str | Path, grid: dict, rank_by: str = "sharpe",
                          best: int | None = None, cfg: IndexConfig | Methodology | None = None,
                          market: MarketData | None = None) -> Path:
    """Write the sweep folder (``backtest.sweep.write_sweep``) and, with ``best``, the ``best`` best
    configs by ``rank_by`` re-run in full over ``market`` (``cfg`` — a config or a ``Methodology`` —
    and ``grid`` are the sweep's), all atomically. Needs the report extra for ``best``
    (``MissingExtraError`` before any re-run)."""
    if not best:
        return write_sweep(frame, out_dir, grid, rank_by)
    if cfg is None or market is None:
        raise TypeError("write_sweep_with_best(best=K) needs the sweep's cfg and market")
    require_extra("report", "sweep --write-best")
    from backtest.engine import run_backtest
    from backtest.io import write_run, write_sweep_dir

    picks = best_configs(frame, grid, cfg, rank_by, best)

    def fill(tmp: Path) -> None:  # one full run at a time, written as soon as it is done
        (tmp / BEST).mkdir()
        records = []
        for record, config in picks:
            try:
                result = run_backtest(config, market)
            except IndexEngineError as exc:  # e.g. a benchmark the statistics-only sweep did not run
                records.append({**record, "folder": None, "error": f"{type(exc).__name__}: {exc}", **_spec(config)})
                continue
            write_run(result, tmp / record["folder"], report=True)
            records.append({**record, "statistics": result.stats, **_spec(config)})
        (tmp / BEST_JSON).write_text(json.dumps({"rank_by": rank_by, "runs": records}, indent=2, allow_nan=False)
                                     + "\n", encoding="utf-8")
        (tmp / "ranking.md").write_text(ranking + best_markdown(records, rank_by), encoding="utf-8")

    ranking = ranking_markdown(frame, grid, rank_by)
    return write_sweep_dir(frame, ranking, out_dir, extra=fill)


def best_configs(frame: pl.DataFrame, grid: dict, cfg: IndexConfig | Methodology, rank_by: str,
                 k: int) -> list[tuple[dict, IndexConfig | Methodology]]:
    """The ``k`` best rows of a ``run_sweep`` frame by ``rank_by`` that ran and have the statistic,
    as (record: rank, folder, swept values, the row's ranking statistic, CAGR and max drawdown; config)."""
    rows = ranked(frame.with_row_index(_ROW).filter(pl.col(rank_by).is_not_null()), rank_by, k)
    configs = expand(cfg, grid, max_configs=grid_size(grid))  # the sweep's rows, in the sweep's order
    if len(configs) != frame.height:
        raise ValueError(f"the sweep table has {frame.height} rows but its grid {grid_size(grid)} combinations")
    out = []
    for rank, row in enumerate(rows.iter_rows(named=True), start=1):
        values, config = configs[row[_ROW]]
        if any(_differs(values[key], row[key]) for key in values):
            raise ValueError(f"row {row[_ROW]} of the sweep table is not the combination {values}")
        shown = {k: row[k] for k in dict.fromkeys((rank_by, "cagr", "max_drawdown"))}
        out.append(({"rank": rank, "folder": f"{BEST}/{rank:02d}_{label(values)}", "values": values,
                     "sweep_statistics": shown}, config))
    return out


def label(values: dict, limit: int = 60) -> str:
    """A short folder-safe label of swept values, e.g. ``golden_window-100_fee_bps-5``: a design by
    its name, other keys by their last dotted part."""
    parts = []
    for key, value in values.items():
        if key == DESIGN_COLUMN:
            parts.append(str(value))
        else:
            shown = value if isinstance(value, (str, int, float, bool)) or value is None else "x"
            parts.append(f"{key.rsplit('.', 1)[-1]}-{'none' if shown is None else shown}")
    text = _UNSAFE.sub("-", "_".join(parts)).strip("-.") or "config"
    return text[:limit].rstrip("-._")


def best_markdown(records: list[dict], rank_by: str) -> str:
    """ranking.md's section on the runs written in full."""
    from backtest.formatting import sig

    lines = ["", f"## Written in full: the {len(records)} best by {rank_by}", "",
             f"| rank | folder | {rank_by} | CAGR | max drawdown |", "|---|---|---|---|---|"]
    cell = lambda v: "–" if v is None else sig(v, 4)
    for r in records:
        s, where = r["sweep_statistics"], f"`{r['folder']}/`" if r["folder"] else f"full run failed: {r['error']}"
        lines.append(f"| {r['rank']} | {where} | {cell(s.get(rank_by))} | {cell(s.get('cagr'))} | "
                     f"{cell(s.get('max_drawdown'))} |")
    return "\n".join(lines) + "\n"


def _spec(spec: IndexConfig | Methodology) -> dict:
    """best.json's record of what ran: the resolved config, and a methodology's custom rules."""
    config, custom = split(spec)
    return {"config": config.resolved(), **({"rules": custom.describe()} if custom is not None else {})}


def _differs(value, cell) -> bool:
    """Whether a table cell is not the swept value (scalars only; lists and mappings pass)."""
    if isinstance(value, (list, dict)) or isinstance(cell, (list, dict)):
        return False
    if isinstance(value, (int, float)) and isinstance(cell, (int, float)) and not isinstance(value, bool):
        return float(value) != float(cell)
    return value != cell


def best_lines(sweep_dir: str | Path) -> list[str]:
    """What the command prints about the runs written in full: a line per run (its folder, or why
    its full run failed), from the sweep folder's best.json (none without it)."""
    from backtest.formatting import sig

    path = Path(sweep_dir) / BEST_JSON
    if not path.is_file():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for r in doc["runs"]:
        if r.get("error"):
            lines.append(f"warning: the full run of rank {r['rank']} ({r['values']}) failed: {r['error']}")
        else:
            lines.append(f"  {r['folder']}/  ({doc['rank_by']} {sig(r['statistics'].get(doc['rank_by']), 4)})")
    return [f"wrote {sum(not r.get('error') for r in doc['runs'])} best runs in full (best.json):", *lines]
