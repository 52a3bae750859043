"""Worker: index-engine's ``run_backtest``, the hand-written baseline or the memory floor, in a
fresh process, following ``workload.run_worker``'s protocol (cold, warm, peak memory, NAVs).

    python run_engine.py {engine|baseline|floor} --panel DIR --variant full --fee-bps 10 \
        --repeat 5 --out r.json [--nav-dir DIR] [--cold-only]

engine: ``run_backtest(cfg, market, benchmarks=False)`` with the ``MarketData`` already built from
the cached arrays (building it is excluded, as loading data is); the config is built on the first
call and reused. The NAV is ``result.nav["nav"]``: every output frame and the statistics are built.
baseline: ``baseline_numba.baseline_nav`` on the raw arrays (the Monday mask is part of the run).
floor: ``baseline_numba.memory_floor``, one pass over the price and market-cap arrays.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import workload  # noqa: E402

mods: dict = {}


# ---- index-engine ----------------------------------------------------------------------------------
def engine_import():
    import backtest
    import index_engine
    from index_engine.data.panel import panel_from_dense

    mods.update(run_backtest=backtest.run_backtest, IndexConfig=index_engine.IndexConfig,
                panel_from_dense=panel_from_dense)


def engine_prepare(panel):
    import polars as pl

    market = mods["panel_from_dense"](
        dates=panel.dates.astype("datetime64[D]"), asset_ids=np.array(panel.asset_ids, dtype=object),
        price=panel.price, market_cap=panel.market_cap, volume=panel.volume(),
        assets=pl.DataFrame({"asset_id": panel.asset_ids, "category": panel.categories}),
        source=f"benchmark panel {panel.path.name}",
    )
    return {"market": market, "configs": {}}


def _engine_result(inputs, variant, fee_bps):
    """``run_backtest`` of the variant's config (built on the first call and reused)."""
    key = (variant.name, fee_bps)
    cfg = inputs["configs"].get(key)
    if cfg is None:
        cfg = inputs["configs"][key] = mods["IndexConfig"]().with_overrides(variant.engine_overrides(fee_bps))
    return mods["run_backtest"](cfg, inputs["market"], benchmarks=False)


def engine_run(inputs, variant, fee_bps):
    return _engine_result(inputs, variant, fee_bps).nav["nav"].to_numpy()


def engine_frames_run(inputs, variant, fee_bps):
    """``engine_run`` plus every other output frame (holdings, transactions, unfilled), as a run folder needs."""
    result = _engine_result(inputs, variant, fee_bps)
    for frame in (result.holdings, result.transactions, result.unfilled):
        frame.height  # noqa: B018 - built on first read
    return result.nav["nav"].to_numpy()


# ---- the hand-written baseline and the memory floor ---------------------------------------------------
def baseline_import():
    import baseline_numba

    mods["baseline"] = baseline_numba


def raw_prepare(panel):
    return panel


def baseline_run(panel, variant, fee_bps):
    monday = workload.schedule_mask(panel.dates, variant)
    return mods["baseline"].run(panel.price, panel.market_cap, panel.include, monday,
                                variant.max_weight, variant.regime, fee_bps)


def floor_run(panel, variant, fee_bps):
    return mods["baseline"].memory_floor(panel.price, panel.market_cap)


CONTENDERS = {
    "engine": (engine_import, engine_prepare, engine_run),
    "engine-frames": (engine_import, engine_prepare, engine_frames_run),
    "baseline": (baseline_import, raw_prepare, baseline_run),
    "floor": (baseline_import, raw_prepare, floor_run),
}


def main() -> None:
    contender = sys.argv[1]
    args = workload.worker_args(sys.argv[2:])
    if contender == "floor":
        args.nav_dir = None
    workload.run_worker(args, T_START, *CONTENDERS[contender])


if __name__ == "__main__":
    main()
