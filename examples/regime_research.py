"""Compare the regime designs of configs/regimes/grid.yaml on real data and print docs/regimes.md's tables.

    python examples/regime_research.py ../shared/data/cmc_daily_2013_2018.parquet \
        [../shared/data/cmc_daily_2018.parquet] --categories ../shared/data/asset_categories.csv

The statistics are those of ``index-engine sweep configs/global100.yaml --grid configs/regimes/grid.yaml``
over the same files (the library's ``run_sweep``); the whipsaw and 2018-top columns come from a full
replay of each design. Prints one markdown table.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import polars as pl

from backtest import run_backtest
from backtest.sweep import expand, load_grid, run_sweep
from index_engine import IndexConfig, MarketData

ROOT = Path(__file__).resolve().parents[1]
WHIPSAW = ("2014-06-01", "2014-08-31")  # the flagship's 11 switches of summer 2014
TOP = "2017-12-01"  # the 2017-18 bubble peaks in Dec 2017 - Jan 2018


def pct(v, digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v * 100:,.{digits}f}%"


def behaviour(result) -> dict:
    """Switches inside WHIPSAW; the first exit after TOP and the NAV lost from the index's own peak to it."""
    switches = pl.DataFrame(result.summary["regime_switches"] or {"date": [], "to": [], "share": []},
                            schema={"date": pl.Utf8, "to": pl.Utf8, "share": pl.Float64})
    n_whipsaw = switches.filter(pl.col("date").is_between(pl.lit(WHIPSAW[0]), pl.lit(WHIPSAW[1]))).height
    exits = switches.filter((pl.col("to") == "bear") & (pl.col("date") >= TOP))
    nav = result.nav.with_columns(pl.col("date").cast(pl.Utf8))
    if not exits.height:
        return {"whipsaw": n_whipsaw, "exit": "–", "given_up": None}
    exit_day = exits["date"][0]
    peak = nav.filter((pl.col("date") >= TOP) & (pl.col("date") <= exit_day))["nav"].max()
    at_exit = nav.filter(pl.col("date") == exit_day)["nav"][0]
    return {"whipsaw": n_whipsaw, "exit": exit_day, "given_up": at_exit / peak - 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--categories")
    parser.add_argument("--grid", default=str(ROOT / "configs" / "regimes" / "grid.yaml"))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_files(args.data, categories=args.categories)
    cfg = IndexConfig.from_yaml(ROOT / "configs" / "global100.yaml")
    grid = load_grid(args.grid)
    frame = run_sweep(cfg, market, grid, workers=args.workers, progress=False)
    rows = ["| design | switches | of which Jun–Aug 2014 | time invested | CAGR | max drawdown | Sharpe "
            "| cost drag (bp/yr) | first exit after Dec 2017 | NAV given up from its peak to that exit |",
            "|---" * 10 + "|"]
    for (values, design_cfg), row in zip(expand(cfg, grid), frame.iter_rows(named=True)):
        b = behaviour(run_backtest(design_cfg, market, benchmarks=False))
        rows.append(f"| `{values['design']}` | {row['n_regime_switches']} | {b['whipsaw']} | "
                    f"{pct(row['time_invested'], 0)} | {pct(row['cagr'])} | {pct(row['max_drawdown'])} | "
                    f"{row['sharpe']:.2f} | {row['cost_drag_bps_per_year']:.0f} | {b['exit']} | {pct(b['given_up'])} |")
    print(f"{market.source}: {frame['n_observations'][0]:,} observations from {frame['start'][0]} to "
          f"{frame['end'][0]}\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
