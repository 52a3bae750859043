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


# ---- named designs, the size limit and failing combinations ------------------------------------------
DESIGNS = {"designs": {"sma": {}, "golden": {"regime.signal": "sma_crossover", "regime.fast_window": 10},
                       "graduated": {"regime": {"signal": "composite", "exposure": "graduated", "signals": [
                           {"signal": "momentum", "momentum_window": 20}, {"signal": "breadth"}]}}},
           "costs.fee_bps": [5, 10]}


def test_designs_vary_together_and_are_named(setup):
    cfg, market = setup
    grid = validate_grid(DESIGNS)
    combos = expand(cfg, grid)
    assert [v["design"] for v, _ in combos] == ["sma", "sma", "golden", "golden", "graduated", "graduated"]
    assert combos[2][1].regime.signal == "sma_crossover" and combos[2][1].regime.fast_window == 10
    assert combos[5][1].regime.exposure == "graduated" and combos[5][1].costs.fee_bps == 10
    frame = run_sweep(cfg, market, grid, workers=1, progress=False)
    assert frame.columns[:2] == ["design", "costs.fee_bps"] and frame["error"].is_null().all()
    row = frame.filter((pl.col("design") == "golden") & (pl.col("costs.fee_bps") == 5)).row(0, named=True)
    single = run_backtest(combos[2][1], market, benchmarks=False).stats
    assert row["sharpe"] == single["sharpe"] and row["n_regime_switches"] == single["n_regime_switches"]


@pytest.mark.parametrize("raw, match", [
    ({"designs": [1, 2]}, "designs: expected a mapping of design names"),
    ({"designs": {"a": 5}}, "designs: expected a mapping of design names"),
    ({"design": [1]}, "reserved for the names of 'designs'"),
])
def test_bad_designs_name_the_key(raw, match):
    with pytest.raises(ConfigError, match=match):
        validate_grid(raw)


def test_a_huge_grid_is_refused_before_expanding(setup):
    cfg, market = setup
    grid = {f"costs.{k}": list(range(100)) for k in ("fee_bps", "platform_fee_bps", "slippage_bps")}  # 10^6
    with pytest.raises(ConfigError, match="1,000,000 combinations, more than the limit of 20,000"):
        run_sweep(cfg, market, grid, workers=1, progress=False)
    assert len(expand(cfg, {"costs.fee_bps": list(range(30))}, max_configs=30)) == 30


def test_a_failing_combination_is_named_and_the_others_kept(setup):
    cfg, market = setup
    # a gas cost that exhausts a tiny NAV fails that run only
    grid = {"costs.gas_usd": [0.0, 1e9]}
    frame = run_sweep(cfg, market, grid, workers=1, progress=False)
    ok, bad = frame.row(0, named=True), frame.row(1, named=True)
    assert ok["error"] is None and ok["sharpe"] is not None
    assert bad["error"].startswith("BacktestError: ") and "exceed the portfolio value" in bad["error"]
    assert bad["sharpe"] is None
    from backtest.sweep import failures, ranked
    assert failures(frame).height == 1 and ranked(frame, "sharpe").height == 1


def test_cli_sweep_warns_about_failures_and_refuses_when_all_fail(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("costs.gas_usd: [0, 1000000000]\nbacktest.initial_nav: [1000]\n")
    args = [sys.executable, "-m", "backtest.cli", "sweep", "configs/global100.yaml", "--grid", str(grid),
            "--workers", "1", "--no-progress"]
    proc = subprocess.run([*args, "--out", str(tmp_path / "sw")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning: 1 of 2 combinations could not run" in proc.stdout and "costs.gas_usd': 1000000000" in proc.stdout
    grid.write_text("costs.gas_usd: [1000000000]\nbacktest.initial_nav: [1000]\n")
    proc = subprocess.run([*args, "--out", str(tmp_path / "sw2")], capture_output=True, text=True)
    assert proc.returncode != 0 and "every combination of the sweep failed" in proc.stderr
    assert not (tmp_path / "sw2").exists()
    grid.write_text("costs.fee_bps: [1, 2, 3]\ncosts.gas_usd: [0, 1]\n")
    proc = subprocess.run([*args, "--out", str(tmp_path / "sw3"), "--max-configs", "5"], capture_output=True, text=True)
    assert proc.returncode != 0 and "6 combinations, more than the limit of 5" in proc.stderr


def test_cli_max_configs_default_is_the_library_limit():
    from backtest.cli.sweep import sweep
    from backtest.sweep import MAX_CONFIGS

    assert next(p for p in sweep.params if p.name == "max_configs").default == MAX_CONFIGS
