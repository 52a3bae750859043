"""``sweep --write-best K``: the K best configs re-run in full as run folders inside the sweep folder,
never a failed row, recorded in best.json, covered by the sweep's manifest and written at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import backtest.io
from backtest import run_backtest
from backtest.io import check_output_dir, read_run, read_sweep, verify_folder
from backtest.sweep import expand, run_sweep
from backtest.sweep_best import best_configs, label, write_sweep_with_best
from index_engine import IndexConfig, MarketData
from index_engine.errors import RunFolderError

ROOT = Path(__file__).resolve().parents[1]
# the last combination's gas exhausts the NAV: its row has an error and the best sharpe is None
GRID = {"regime.window": [20, 60], "costs.fee_bps": [5, 25], "costs.gas_usd": [0.0, 1e9]}


@pytest.fixture(scope="module")
def sweep():
    market = MarketData.synthetic(seed=5, n_assets=40, days=300)
    cfg = IndexConfig.from_dict({"selection": {"top_n": 5}, "benchmarks": {"no_regime": True},
                                 "backtest": {"initial_nav": 100_000}})
    frame = run_sweep(cfg, market, GRID, workers=1, progress=False)
    assert frame["error"].is_not_null().sum() == 4  # every gas_usd = 1e9 row failed
    return cfg, market, frame


def test_best_rows_are_the_ranked_rows_that_ran_with_their_configs(sweep):
    cfg, _, frame = sweep
    picks = best_configs(frame, GRID, cfg, "sharpe", 10)
    assert len(picks) == 4  # K larger than the rows that ran: only those
    ok = frame.filter(pl.col("error").is_null()).sort("sharpe", descending=True)
    assert [r["sweep_statistics"]["sharpe"] for r, _ in picks] == ok["sharpe"].to_list()
    combos = {json.dumps(v, sort_keys=True): c for v, c in expand(cfg, GRID)}
    for rank, (record, config) in enumerate(picks, start=1):
        assert record["rank"] == rank and record["folder"].startswith(f"best/{rank:02d}_window-")
        assert config.resolved() == combos[json.dumps(record["values"], sort_keys=True)].resolved()
        assert record["values"]["costs.gas_usd"] == 0.0
    lowest = best_configs(frame, GRID, cfg, "volatility", 1)[0][0]  # lower is better
    assert lowest["sweep_statistics"]["volatility"] == ok["volatility"].min()


def test_labels_are_short_and_folder_safe():
    assert label({"design": "golden", "regime.window": 100, "weighting.max_weight": None}) == \
        "golden_window-100_max_weight-none"
    assert label({"costs.slippage": {"model": "sqrt_impact"}, "x.y": "a/b c"}) == "slippage-x_y-a-b-c"
    assert len(label({f"k{i}": "v" * 20 for i in range(9)})) <= 60


def test_write_best_writes_verified_runs_inside_the_sweep_folder(sweep, tmp_path):
    cfg, market, frame = sweep
    out = write_sweep_with_best(frame, tmp_path / "sw", GRID, "sharpe", 2, cfg, market)
    assert sorted(os.listdir(out)) == ["best", "best.json", "manifest.json", "ranking.md", "sweep.parquet"]
    doc = json.loads((out / "best.json").read_text())
    assert doc["rank_by"] == "sharpe" and [r["rank"] for r in doc["runs"]] == [1, 2]
    assert sorted(os.listdir(out / "best")) == [Path(r["folder"]).name for r in doc["runs"]]
    for record in doc["runs"]:
        run = read_run(out / record["folder"])  # a normal, verified run folder with its report
        assert (run.path / "report.html").is_file() and run.benchmarks.height > 0
        config = IndexConfig.from_dict(record["config"])
        assert run.summary["config"] == record["config"] == config.resolved()
        assert record["statistics"] == run.summary["statistics"]
        # the full run reproduces the sweep's statistics-only row
        row = frame.filter(*(pl.col(k) == v for k, v in record["values"].items())).row(0, named=True)
        assert row["sharpe"] == record["statistics"]["sharpe"] == record["sweep_statistics"]["sharpe"]
        assert row["final_nav"] == run_backtest(config, market, benchmarks=False).stats["final_nav"]
    ranking = (out / "ranking.md").read_text()
    assert "## Written in full: the 2 best by sharpe" in ranking and f"`{doc['runs'][0]['folder']}/`" in ranking
    manifest = verify_folder(out, "sweep")  # the sweep's manifest covers best/ as one folder entry
    assert {e["name"]: e.get("folder", False) for e in manifest["files"]}["best"] is True
    assert read_sweep(out).frame.equals(frame)
    # a sweep folder with its best runs can be replaced by the next sweep, with or without them
    assert check_output_dir(out, "sweep") == out
    write_sweep_with_best(frame, out, GRID, "sharpe", None)
    assert sorted(os.listdir(out)) == ["manifest.json", "ranking.md", "sweep.parquet"]


def test_a_changed_best_run_fails_the_sweep_verification(sweep, tmp_path):
    cfg, market, frame = sweep
    out = write_sweep_with_best(frame, tmp_path / "sw", GRID, "sharpe", 1, cfg, market)
    run = out / json.loads((out / "best.json").read_text())["runs"][0]["folder"]
    (run / "report.html").write_text("<!doctype html>changed")
    with pytest.raises(RunFolderError, match=r"sw: best: its files differ from manifest.json"):
        verify_folder(out, "sweep")
    (run / "report.html").unlink()
    (out / "best" / "stray.txt").write_text("x")
    with pytest.raises(RunFolderError, match="its files differ"):
        read_sweep(out)


def test_the_sweep_folder_appears_at_once_or_not_at_all(sweep, tmp_path, monkeypatch):
    cfg, market, frame = sweep
    real, calls = backtest.io.write_run, []

    def fail_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(backtest.io, "write_run", fail_second)
    with pytest.raises(RunFolderError, match="could not write the sweep .No space left on device."):
        write_sweep_with_best(frame, tmp_path / "sw", GRID, "sharpe", 3, cfg, market)
    assert os.listdir(tmp_path) == []  # no sweep folder, no work folder, no lock
    assert len(calls) == 2 and ".sw.tmp-" in str(calls[0])  # the runs were built inside the sweep's work folder


def test_a_failing_full_run_is_recorded_and_the_others_written(sweep, tmp_path, monkeypatch):
    cfg, market, frame = sweep
    import backtest.engine
    from index_engine.errors import BacktestError

    real = backtest.engine.run_backtest

    def fail_first(config, market, benchmarks=True):
        if not fail_first.done:
            fail_first.done = True
            raise BacktestError("a benchmark could not run")
        return real(config, market, benchmarks)

    fail_first.done = False
    monkeypatch.setattr(backtest.engine, "run_backtest", fail_first)
    out = write_sweep_with_best(frame, tmp_path / "sw", GRID, "sharpe", 2, cfg, market)
    runs = json.loads((out / "best.json").read_text())["runs"]
    assert runs[0]["folder"] is None and runs[0]["error"] == "BacktestError: a benchmark could not run"
    assert read_run(out / runs[1]["folder"]).summary["statistics"]["sharpe"] == runs[1]["statistics"]["sharpe"]
    assert "full run failed: BacktestError" in (out / "ranking.md").read_text()
    verify_folder(out, "sweep")


def test_cli_sweep_write_best(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("regime.window: [100, 200]\ncosts.fee_bps: [5, 10]\n")
    out = tmp_path / "sw"
    cmd = [sys.executable, "-m", "backtest.cli", "sweep", "configs/global100.yaml", "--grid", str(grid), "--out",
           str(out), "--workers", "1", "--no-progress", "--rank-by", "cagr", "--write-best", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "best.json").read_text())
    folders = [r["folder"] for r in doc["runs"]]
    assert folders[0].startswith("best/01_window-") and len(folders) == 2
    assert "wrote 2 best runs in full (best.json):" in proc.stdout and f"  {folders[1]}/  (cagr " in proc.stdout
    best = pl.read_parquet(out / "sweep.parquet").sort("cagr", descending=True).row(0, named=True)
    assert doc["runs"][0]["values"] == {"regime.window": best["regime.window"], "costs.fee_bps": best["costs.fee_bps"]}
    assert read_run(out / folders[0]).summary["statistics"]["cagr"] == best["cagr"]
    verify_folder(out, "sweep")


def _momentum(ctx, lookback=30):  # a custom weighting rule with a sweepable parameter
    r = ctx.price_at(ctx.d) / ctx.price_at(ctx.d - lookback) - 1
    return np.where(ctx.selected & (r > 0), ctx.market_cap_at(ctx.d), 0.0)


def test_a_methodology_sweep_writes_its_best_runs_with_their_rules(sweep, tmp_path):
    from index_engine import Methodology

    cfg, market, _ = sweep
    m = Methodology.from_config(cfg).with_weighting(_momentum)
    grid = {"rules.weighting.lookback": [10, 40], "costs.fee_bps": [5]}
    frame = run_sweep(m, market, grid, workers=1, progress=False)
    out = write_sweep_with_best(frame, tmp_path / "sw", grid, "sharpe", 1, m, market)
    record = json.loads((out / "best.json").read_text())["runs"][0]
    assert record["folder"].startswith("best/01_lookback-") and record["rules"]["weighting"]["name"] == "_momentum"
    run = read_run(out / record["folder"])
    assert run.summary["rules"] == record["rules"] and record["rules"]["weighting"]["params"] == {
        "lookback": record["values"]["rules.weighting.lookback"]}
    assert run.summary["statistics"]["sharpe"] == frame["sharpe"].max()
