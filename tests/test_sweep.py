"""Parameter sweeps: expansion, shared work, identical results across backends (incl. Dask)."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from backtest import run_backtest
from backtest.sweep import expand, run_sweep, validate_grid
from index_engine import ConfigError, IndexConfig, MarketData

GRID = {"regime.window": [20, 60], "weighting.max_weight": [None, 0.3], "costs.fee_bps": [5, 25]}


@pytest.fixture(scope="module")
def setup():
    market = MarketData.synthetic(seed=5, n_assets=60, days=400)
    cfg = IndexConfig.from_dict({"selection": {"top_n": 10}})
    return cfg, market


def test_expand_is_the_cartesian_product_and_validates(setup):
    cfg, _ = setup
    combos = expand(cfg, GRID)
    assert len(combos) == 8 and combos[-1][1].weighting.max_weight == 0.3
    with pytest.raises(ConfigError, match="not a valid config"):
        expand(cfg, {"weighting.max_weight": [2.0]})
    with pytest.raises(ConfigError, match="non-empty list"):
        validate_grid({"regime.window": 5})


def test_rows_equal_individual_runs_and_backends_agree(setup):
    cfg, market = setup
    local = run_sweep(cfg, market, GRID, workers=1, progress=False)
    assert local.columns[:3] == list(GRID) and local.height == 8
    for row in local.iter_rows(named=True):
        single = run_backtest(cfg.with_overrides({k: row[k] for k in GRID}), market, benchmarks=False).stats
        assert row["sharpe"] == single["sharpe"] and row["final_nav"] == single["final_nav"]
    procs = run_sweep(cfg, market, GRID, workers=2, progress=False)
    assert procs.equals(local)


@pytest.mark.slow  # ~4-5 s: starts a two-process Dask cluster
def test_dask_local_cluster_gives_identical_results(setup):
    distributed = pytest.importorskip("distributed")
    cfg, market = setup
    local = run_sweep(cfg, market, GRID, workers=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = run_sweep(cfg, market, GRID, scheduler=client, progress=False)
            remote_addr = run_sweep(cfg, market, {"costs.fee_bps": [5, 25]}, scheduler=cluster.scheduler_address,
                                    progress=False)
    assert remote.equals(local)
    assert remote_addr.height == 2


def test_cli_sweep_writes_parquet_and_ranking(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("regime.window: [100, 200]\ncosts.fee_bps: [5, 10]\n")
    out = tmp_path / "sw"
    proc = subprocess.run([sys.executable, "-m", "backtest.cli", "sweep", "configs/global100.yaml", "--grid", str(grid),
                           "--out", str(out), "--workers", "1", "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    frame = pl.read_parquet(out / "sweep.parquet")
    assert frame.height == 4 and frame.columns[:2] == ["regime.window", "costs.fee_bps"]
    assert (out / "ranking.md").read_text().startswith("# Sweep: 4 configs")
